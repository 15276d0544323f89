using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Models;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;

namespace GpuNet.Tests.Examples;

/// <summary>The README's library example, verbatim between the markers; a test runs it and checks the README holds it.</summary>
public static class LibraryExample
{
    public static void Run()
    {
        // example-begin
        var config = TrainConfig.DefaultsFor(BuiltinModel.Mlp) with { Steps = 300, EvalEvery = 100, Accelerator = AcceleratorKind.Auto };
        var data = DataSets.Load(config.Dataset, config.DataDir);    // the embedded Fashion-MNIST
        using var device = Device.Open(config.Accelerator);          // CUDA, an OpenCL GPU, else the CPU
        Directory.CreateDirectory("my-run");
        var result = Trainer.Run(config, data, device, "my-run");    // metrics.csv, curves.png, model.safetensors
        Console.WriteLine($"test accuracy {result.Rows[^1].TestAccuracy:F4} after {config.Steps} steps");
        // example-end
    }
}
