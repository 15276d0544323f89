using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Models;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;
using GpuNet.Kernels;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>
/// Images/s of a full training step (gather, forward, loss, backward, check, update) of each model with its default
/// batch, on synthetic data, with the step's kernel launches and blocking host waits counted, in each precision (a tf32
/// step's row is named "step_MODEL_tf32").
/// </summary>
public static class ModelBenchmarks
{
    /// <summary>
    /// The step rows of the built-in models (the VGG also at width 0.125), or of <paramref name="only"/> alone: built-in
    /// models' names or model files' paths, comma-separated, the VGG at <paramref name="width"/>, each at its default
    /// batch or <paramref name="batchSize"/>.
    /// </summary>
    public static IEnumerable<BenchRow> Run(
        Device device, bool quick, string? filter, IReadOnlyList<GemmPrecision> precisions, string? only = null, double width = 1, int? batchSize = null)
    {
        var models = only is null
            ? new (string Name, double Width)[] { ("mlp", 1), ("mlp-deep", 1), ("vgg", 0.125), ("vgg", 1) }
            : [.. only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(m => (m, BuiltinModels.Find(m) == BuiltinModel.Vgg ? width : 1.0))];
        foreach (var (name, scale) in models)
        {
            var defaults = TrainConfig.ForModel(name);
            string label = scale == 1 ? defaults.Model : string.Create(CultureInfo.InvariantCulture, $"{defaults.Model}-w{scale}");
            foreach (var precision in precisions)
            {
                // Quick mode on the CPU accelerator (CI) times the full-width VGG step, seconds there, in fp32 only.
                bool slow = device.Kernels.Policy.IsCpu && defaults.Builtin == BuiltinModel.Vgg && scale == 1;
                string kernel = KernelBenchmarks.RowName($"step_{label}", precision);
                if ((filter is not null && !kernel.Contains(filter, StringComparison.OrdinalIgnoreCase)) || (quick && slow && precision == GemmPrecision.Tf32))
                {
                    continue;
                }

                var config = defaults with { Width = scale, Precision = precision, BatchSize = batchSize ?? defaults.BatchSize };
                yield return Step(device, config, kernel, quick || slow ? 2 : 20);
            }
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

    private static BenchRow Step(Device device, TrainConfig config, string kernel, int repeats)
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
        var row = new BenchRow(kernel, $"batch{config.BatchSize}", DeviceSelector.Describe(device.Info.Kind), t.MedianMs, t.MinMs, t.MaxMs, null, null, null, launchesPerStep, waitsPerStep);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{row}  {imagesPerSecond:F0} images/s"));
        return row;
    }
}
