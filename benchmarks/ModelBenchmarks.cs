using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;
using GpuNet.Kernels;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>
/// Images/s of a full training step (gather, forward, loss, backward, check, update) of each model with its default
/// batch, on synthetic data, with the step's kernel launches and blocking host waits counted.
/// </summary>
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

    /// <summary>Synthetic data of Fashion-MNIST's shape: <paramref name="count"/> random images in each split, 10 classes.</summary>
    public static Dataset SyntheticData(int count)
    {
        var random = new Random(1);
        DataSplit Split()
        {
            var pixels = new byte[count * 784];
            random.NextBytes(pixels);
            return new DataSplit(pixels, Enumerable.Range(0, count).Select(i => i % 10).ToArray());
        }

        return new Dataset("synthetic", new Shape(1, 28, 28), Enumerable.Range(0, 10).Select(i => $"class {i}").ToArray(), Split(), Split());
    }

    private static BenchRow Step(Device device, TrainConfig config, string label, int repeats)
    {
        // Steps far beyond the benchmark's, so the step number never outruns what the optimizer was prepared for.
        config = config with { Steps = 1_000_000, EvalEvery = 1_000_000 };
        using var session = new TrainingSession(config, SyntheticData(config.BatchSize), device);
        int step = 0;
        session.Step.Reset(1, 0);
        long launches = device.Kernels.Policy.Launches, waits = device.Reads.Count;
        session.Step.Run(++step);
        long launchesPerStep = device.Kernels.Policy.Launches - launches, waitsPerStep = device.Reads.Count - waits;
        var t = Timer.Measure(repeats, () =>
        {
            session.Step.Run(++step);
            device.Synchronize();
            if (step % session.Step.ReadEvery == 0)
            {
                session.Step.PrepareOrders(step + 1);
            }
        });
        double imagesPerSecond = config.BatchSize / (t.MedianMs / 1e3);
        var row = new BenchRow($"step_{label}", $"batch{config.BatchSize}", DeviceSelector.Describe(device.Info.Kind), t.MedianMs, t.MinMs, t.MaxMs, null, null, null, launchesPerStep, waitsPerStep);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{row}  {imagesPerSecond:F0} images/s"));
        return row;
    }
}
