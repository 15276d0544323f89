using System.CommandLine;
using GpuNet.Engine.Onnx;

namespace GpuNet.Cli;

/// <summary>gpunet export: a model file as ONNX.</summary>
internal static class ExportCommand
{
    public static Command Create(TextWriter output)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A model.safetensors or checkpoint.safetensors written by gpunet train.", Required = true };
        var outFile = new Option<string>("--out") { Description = "The ONNX file to write.", DefaultValueFactory = _ => "model.onnx" };
        var command = new Command("export", $"Write a trained model as ONNX (opset {OnnxExport.Opset}): raw pixels (N, C, H, W, 0..255) in, logits out, preprocessing in the graph.")
        {
            checkpoint, outFile, Program.VerboseOption(),
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(outFile)!;
            OnnxExport.Export(parse.GetValue(checkpoint)!, path);
            output.WriteLine($"wrote {path} (ONNX opset {OnnxExport.Opset}; input '{OnnxExport.InputName}', output '{OnnxExport.OutputName}')");
            return 0;
        });
        return command;
    }
}
