using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Runs;
using GpuNet.Kernels;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>
/// Kernel microbenchmarks and model step benchmarks. Every kernel is warmed up, then timed over repeated runs with
/// the device synchronized; each row prints its median, min and max, its GFLOP/s or GB/s and its ratio to a
/// yardstick measured in the same run (cuBLAS or a device copy on CUDA, managed Vector&lt;float&gt; code on the CPU).
/// GEMMs, convolutions and model steps run in fp32 and in TF32 (rows named "..._tf32", against cuBLAS in its TF32
/// tensor-op mode on CUDA) unless --precision picks one.
/// </summary>
public static class Program
{
    private const string Usage =
        "usage: dotnet run --project benchmarks -c Release -- [--accelerator auto|cuda|opencl|cpu] [--filter TEXT] [--quick] [--out DIR]\n" +
        "            [--precision fp32|tf32]   GEMM, convolution and model-step rows in that precision only (default: both)\n" +
        "            [--model M[,M...] [--width F] [--batch-size B]]   the model-step rows of these only (mlp, mlp-deep, vgg at\n" +
        "            width F, model files NAME.json), each at its default batch or B\n" +
        "       [--profile M [--width F]]   per-layer forward/backward times of one model (built-in or model file)\n" +
        "       [--plan M [--width F] [--sms 132] [--precision fp32|tf32] [--at-step N]]   every launch of step N (default 1)\n" +
        "            of a run on a CUDA GPU with that many SMs (no GPU needed)\n" +
        "       [--scaling N [--model mlp]]   images/s of a training step in one process and in N ranks under mpirun\n" +
        "       [--ptx DIR]   every kernel's sm_90 PTX, one file per kernel (no GPU needed)";

    public static int Main(string[] args)
    {
        if (ScalingBenchmark.IsWorker(args))
        {
            return ScalingBenchmark.Worker(args);
        }

        var kind = AcceleratorKind.Auto;
        bool quick = false;
        string? filter = null, outDir = null, profile = null, plan = null, ptxDir = null;
        string? model = null;
        double width = 1;
        int? batchSize = null;
        int sms = 132, scaling = 0, atStep = 1;
        GemmPrecision? precision = null;
        for (int i = 0; i < args.Length; i++)
        {
            string? Value() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--filter":
                    filter = Value();
                    break;
                case "--out":
                    outDir = Value();
                    break;
                case "--profile":
                    profile = Value();
                    break;
                case "--plan":
                    plan = Value();
                    break;
                case "--ptx" when Value() is { Length: > 0 } directory:
                    ptxDir = directory;
                    break;
                case "--scaling" when int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 1:
                    scaling = n;
                    break;
                case "--model" when Value() is { } m:
                    model = m;
                    break;
                case "--sms" when int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int s) && s > 0:
                    sms = s;
                    break;
                case "--at-step" when int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0:
                    atStep = n;
                    break;
                case "--precision" when Value() is "fp32" or "tf32":
                    precision = Choices.Parse<GemmPrecision>(args[i]);
                    break;
                case "--width" when double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out double w) && w > 0:
                    width = w;
                    break;
                case "--batch-size" when int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int b) && b > 1:
                    batchSize = b;
                    break;
                case "--accelerator" when Enum.TryParse(Value(), ignoreCase: true, out kind):
                    break;
                default:
                    Console.Error.WriteLine($"benchmarks: bad option '{args[i]}'.\n{Usage}");
                    return 2;
            }
        }

        try
        {
            if (ptxDir is not null)
            {
                return PtxDump.Run(ptxDir, Console.Out);
            }

            if (plan is not null)
            {
                return LaunchPlan.Run(plan, width, sms, precision ?? GemmPrecision.Fp32, atStep, Console.Out);
            }

            if (scaling > 0)
            {
                var row = ScalingBenchmark.Run(model ?? "mlp", scaling, kind, quick);
                if (outDir is not null && row is not null)
                {
                    BenchFiles.Write(outDir, [row], DeviceSelector.Describe(kind));
                }

                return row is null ? 1 : 0;
            }

            using var device = Device.Open(kind);
            string accelerator = DeviceSelector.Describe(device.Info.Kind);
            Console.WriteLine($"accelerator: {accelerator} ({device.Info.Name}){(quick ? ", quick mode" : "")}");
            if (profile is not null)
            {
                var config = GpuNet.Engine.Runs.TrainConfig.ForModel(profile) with { Width = width };
                LayerProfile.Run(device, config.Architecture([1, 28, 28], 10), config.BatchSize, quick ? 1 : 3);
                return 0;
            }

            GemmPrecision[] precisions = precision is { } only ? [only] : Enum.GetValues<GemmPrecision>();
            var rows = new List<BenchRow>();
            using (var kernels = new KernelBenchmarks(device, quick, filter, precisions))
            {
                kernels.RunAll();
                rows.AddRange(kernels.Rows);
            }

            rows.AddRange(ModelBenchmarks.Run(device, quick, filter, precisions, model, width, batchSize));
            if (outDir is not null)
            {
                BenchFiles.Write(outDir, rows, $"{accelerator} ({device.Info.Name})");
                Console.WriteLine($"wrote {Path.Combine(outDir, "bench.csv")} and bench.png");
            }

            return 0;
        }
        catch (GpuNetException e)
        {
            Console.Error.WriteLine($"benchmarks: {e.Message}");
            return 1;
        }
    }
}
