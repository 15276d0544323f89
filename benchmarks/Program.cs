using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using GpuNet.Engine;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>
/// Kernel microbenchmarks. Each kernel is warmed up, then timed over repeated runs with the device synchronized,
/// and printed with its median, min and max and its ratio to a yardstick measured in the same run.
/// Usage: dotnet run --project benchmarks -c Release -- [--accelerator auto|cuda|opencl|cpu] [--quick]
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var kind = AcceleratorKind.Auto;
        bool quick = false;
        string? profile = null;
        double width = 1;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--profile" when i + 1 < args.Length:
                    profile = args[++i];
                    break;
                case "--width" when i + 1 < args.Length:
                    width = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--accelerator" when i + 1 < args.Length:
                    if (!Enum.TryParse(args[++i], ignoreCase: true, out kind))
                    {
                        Console.Error.WriteLine($"benchmarks: unknown accelerator '{args[i]}' (auto, cuda, opencl, cpu).");
                        return 2;
                    }

                    break;
                default:
                    Console.Error.WriteLine($"benchmarks: unknown option '{args[i]}'.");
                    return 2;
            }
        }

        try
        {
            using var device = Device.Open(kind);
            Console.WriteLine($"accelerator: {DeviceSelector.Describe(device.Info.Kind)} ({device.Info.Name}; {device.Accelerator.NumMultiprocessors} multiprocessors, {device.Accelerator.MaxNumThreadsPerGroup} threads per group at most)");
            if (profile is not null)
            {
                var defaults = GpuNet.Engine.Training.TrainConfig.DefaultsFor(profile) with { Width = width };
                LayerProfile.Run(device, defaults.Architecture([1, 28, 28], 10), defaults.BatchSize, quick ? 1 : 3);
                return 0;
            }

            int[] sizes = quick ? [128, 256] : device.Kernels.Policy.IsCpu ? [256, 512] : [256, 512, 1024, 4096];
            foreach (int size in sizes)
            {
                GemmRow(device, size, quick ? 3 : 7);
            }

            return 0;
        }
        catch (GpuNetException e)
        {
            Console.Error.WriteLine($"benchmarks: {e.Message}");
            return 1;
        }
    }

    private static void GemmRow(Device device, int size, int repeats)
    {
        var random = new Random(1);
        var a = Enumerable.Range(0, size * size).Select(_ => (float)random.NextDouble()).ToArray();
        var b = Enumerable.Range(0, size * size).Select(_ => (float)random.NextDouble()).ToArray();
        var accelerator = device.Accelerator;
        using var aBuffer = accelerator.Allocate1D(a);
        using var bBuffer = accelerator.Allocate1D(b);
        using var cBuffer = accelerator.Allocate1D<float>(size * size);
        var shape = new Shape(size, size);
        var aView = new TensorView<float>(aBuffer.View, shape);
        var bView = new TensorView<float>(bBuffer.View, shape);
        var cView = new TensorView<float>(cBuffer.View, shape);
        double flops = 2.0 * size * size * size;

        var kernel = Time(repeats, () =>
        {
            device.Kernels.Gemm.Multiply(cView, aView, Transpose.None, bView, Transpose.None);
            device.Synchronize();
        });
        var c = new float[size * size];
        var yardstick = Time(repeats, () => ManagedGemm(a, b, c, size));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"gemm {size}x{size}x{size}: median {kernel.Median * 1e3:F2} ms (min {kernel.Min * 1e3:F2}, max {kernel.Max * 1e3:F2}), " +
            $"{flops / kernel.Median / 1e9:F2} GFLOP/s; managed Vector<float> yardstick {flops / yardstick.Median / 1e9:F2} GFLOP/s; " +
            $"ratio {yardstick.Median / kernel.Median:F2}"));
    }

    private static (double Median, double Min, double Max) Time(int repeats, Action action)
    {
        action();
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            times[i] = watch.Elapsed.TotalSeconds;
        }

        Array.Sort(times);
        return (times[repeats / 2], times[0], times[^1]);
    }

    /// <summary>The CPU yardstick: C = A B with rows in parallel and Vector&lt;float&gt; over the columns.</summary>
    private static void ManagedGemm(float[] a, float[] b, float[] c, int n)
    {
        Parallel.For(0, n, i =>
        {
            var row = c.AsSpan(i * n, n);
            row.Clear();
            for (int k = 0; k < n; k++)
            {
                float x = a[(i * n) + k];
                var bRow = b.AsSpan(k * n, n);
                var scale = new Vector<float>(x);
                int j = 0;
                for (; j <= n - Vector<float>.Count; j += Vector<float>.Count)
                {
                    (new Vector<float>(row[j..]) + (scale * new Vector<float>(bRow[j..]))).CopyTo(row[j..]);
                }

                for (; j < n; j++)
                {
                    row[j] += x * bRow[j];
                }
            }
        });
    }
}
