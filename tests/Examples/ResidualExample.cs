using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Models;
using GpuNet.Engine.Onnx;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;

namespace GpuNet.Tests.Examples;

/// <summary>The README's residual-network example, verbatim between the markers; a test runs it and checks the README holds it.</summary>
public static class ResidualExample
{
    public static void Run()
    {
        // example-begin
        var network = new ModelDefinition("my-resnet", [
            Net.Conv2d(16, 3, padding: 1, bias: false), Net.BatchNorm(), Net.Gelu(), Net.MaxPool2d(2),
            Net.Residual([Net.Conv2d(16, 3, padding: 1, bias: false), Net.BatchNorm(), Net.Gelu(),
                          Net.Conv2d(16, 3, padding: 1, bias: false), Net.BatchNorm()]),
            Net.Gelu(),
            Net.Residual([Net.Conv2d(32, 3, stride: 2, padding: 1, bias: false), Net.BatchNorm()],
                         shortcut: [Net.Conv2d(32, 1, stride: 2, bias: false), Net.BatchNorm()]),
            Net.Gelu(), Net.GlobalAvgPool(), Net.Flatten(), Net.Dropout(0.1), Net.Linear(Net.Classes),
        ]);
        File.WriteAllText("my-resnet.json", network.ToJson());        // the same network as a model file
        var config = TrainConfig.DefaultsFor(network) with { Steps = 100, EvalEvery = 50, LearningRate = 2e-3 };
        var data = DataSets.Load(config.Dataset, config.DataDir);
        using var device = Device.Open(config.Accelerator);
        Directory.CreateDirectory("my-resnet-run");
        var result = Trainer.Run(config, data, device, "my-resnet-run");
        OnnxExport.Export("my-resnet-run/model.safetensors", "my-resnet-run/model.onnx");
        Console.WriteLine($"test accuracy {result.Rows[^1].TestAccuracy:F4} after {config.Steps} steps");
        // example-end
    }
}
