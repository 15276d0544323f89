using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Optim;
using GpuNet.Engine.Training;
using GpuNet.Kernels;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>Images/s of a full training step (forward, loss, backward, update) of each model, with its default batch.</summary>
public static class ModelBenchmarks
{
    public static IEnumerable<BenchRow> Run(Device device, bool quick, string? filter)
    {
        var models = new (string Name, double Width)[] { ("mlp", 1), ("mlp-deep", 1), ("vgg", 0.125), ("vgg", 1) };
        foreach (var (name, width) in models)
        {
            string label = width == 1 ? name : string.Create(CultureInfo.InvariantCulture, $"{name}-w{width}");
            if (filter is not null && !$"step_{label}".Contains(filter, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var config = TrainConfig.DefaultsFor(name) with { Width = width };
            yield return Step(device, config, label, quick || (device.Kernels.Policy.IsCpu && label == "vgg") ? 2 : 20);
        }
    }

    private static BenchRow Step(Device device, TrainConfig config, string label, int repeats)
    {
        var kernels = device.Kernels;
        var spec = config.Architecture([1, 28, 28], 10);
        int batch = config.BatchSize;
        using var model = spec.Build(kernels, batch, seed: 1);
        using var loss = new SoftmaxCrossEntropyLoss(kernels, batch, 10);
        using var totals = new LossTotals(kernels);
        using Optimizer optimizer = config.Optimizer == "adam"
            ? new Adam(kernels, model.NamedParameters, new AdamSettings((float)config.LearningRate))
            : new Sgd(kernels, model.NamedParameters, new SgdSettings((float)config.LearningRate));
        using var input = new Tensor<float>(device.Accelerator, new Shape(batch, 1, 28, 28));
        using var labels = new Tensor<int>(device.Accelerator, new Shape(batch));
        var random = new Random(1);
        input.Upload(Enumerable.Range(0, input.Capacity.Length).Select(_ => (float)(random.NextDouble() * 255)).ToArray());
        labels.Upload(Enumerable.Range(0, batch).Select(i => i % 10).ToArray());
        var t = Timer.Measure(repeats, () =>
        {
            model.Backward(loss.Compute(model.Forward(input.View, training: true), labels.View, totals));
            optimizer.Step();
            device.Synchronize();
        });
        double imagesPerSecond = batch / (t.MedianMs / 1e3);
        var row = new BenchRow($"step_{label}", $"batch{batch}", DeviceSelector.Describe(device.Info.Kind), t.MedianMs, t.MinMs, t.MaxMs, null, null, null);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{row}  {imagesPerSecond:F0} images/s"));
        return row;
    }
}
