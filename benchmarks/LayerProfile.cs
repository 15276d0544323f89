using System.Diagnostics;
using System.Globalization;
using GpuNet.Engine.Models;
using GpuNet.Kernels;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>Per-layer forward and backward times of one model, the device synchronized after each layer.</summary>
public static class LayerProfile
{
    public static void Run(Device device, ModelSpec spec, int batch, int repeats)
    {
        var kernels = device.Kernels;
        using var model = spec.Build(kernels, batch, seed: 1);
        var sample = new Shape(spec.InputShape);
        using var input = new GpuNet.Engine.Tensor<float>(device.Accelerator, new Shape(batch, sample[0], sample[1], sample[2]));
        input.Upload(Enumerable.Range(0, input.Capacity.Length).Select(i => (float)Math.Sin(i)).ToArray());
        using var dLogits = new GpuNet.Engine.Tensor<float>(device.Accelerator, new Shape(batch, spec.Classes));
        var forward = new double[model.Layers.Count];
        var backward = new double[model.Layers.Count];
        void Pass(bool timed)
        {
            var x = input.View;
            for (int i = 0; i < model.Layers.Count; i++)
            {
                var watch = Stopwatch.StartNew();
                x = model.Layers[i].Forward(x, training: true);
                device.Synchronize();
                forward[i] += timed ? watch.Elapsed.TotalSeconds : 0;
            }

            TensorView<float>? d = dLogits.View;
            for (int i = model.Layers.Count - 1; i >= 0 && d is { } dy; i--)
            {
                var watch = Stopwatch.StartNew();
                d = model.Layers[i].Backward(dy);
                device.Synchronize();
                backward[i] += timed ? watch.Elapsed.TotalSeconds : 0;
            }
        }

        Timer.WarmUp(() => Pass(timed: false));
        for (int r = 0; r < repeats; r++)
        {
            Pass(timed: true);
        }

        Console.WriteLine($"per-layer times of {spec.Model} at batch {batch}, mean of {repeats}:");
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  {i,2} {layer.Kind,-12} {layer.InputShape,-16} -> {layer.OutputShape,-16} forward {forward[i] / repeats * 1e3,8:F2} ms  backward {backward[i] / repeats * 1e3,8:F2} ms"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  total forward {forward.Sum() / repeats * 1e3:F1} ms, backward {backward.Sum() / repeats * 1e3:F1} ms"));
    }
}
