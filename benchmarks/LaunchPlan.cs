using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;
using GpuNet.Kernels;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>
/// Every launch of one training step as a CUDA GPU with a given number of SMs would receive it: the engine runs the
/// step against a kernel library that plans for that GPU and records its launches instead of running them (tensors
/// live on the CPU accelerator), so this needs no GPU.
/// </summary>
public static class LaunchPlan
{
    /// <summary>GEMMs of at least this many GFLOP must fill a wave of the GPU.</summary>
    public const double BigGemmGflop = 0.25;

    public static int Run(string model, double width, int sms, TextWriter output)
    {
        var plan = Make(model, width, sms);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"launch plan of one {plan.Label} training step (batch {plan.Batch}) for {plan.Profile.Name}, in order:"));
        output.WriteLine($"{"#",3} {"kernel",-28} {"grid",-14} {"group",-10} {"shared",7}  gemm (M x N x K, tile, split-K, GFLOP, waves)");
        for (int i = 0; i < plan.Launches.Count; i++)
        {
            var r = plan.Launches[i];
            string gemm = r.Gemm is { } g
                ? string.Create(CultureInfo.InvariantCulture, $"{g.M} x {g.N} x {g.K}, {g.TileM}x{g.TileN}, split {g.Splits}, {g.Gflop:F3} GFLOP, {Waves(g, sms):F2} waves")
                : "";
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{i + 1,3} {r.Kernel,-28} {Dim(r.Grid),-14} {Dim(r.Group),-10} {r.SharedMemoryBytes,7}  {gemm}"));
        }

        output.WriteLine(plan.Totals);
        return 0;
    }

    /// <summary>The recorded launches of one step of <paramref name="model"/> and the totals line.</summary>
    public static (string Label, int Batch, DeviceProfile Profile, IReadOnlyList<LaunchRecord> Launches, long HostWaits, string Totals) Make(string model, double width, int sms)
    {
        var profile = DeviceProfile.CudaGpu(sms);
        var config = TrainConfig.DefaultsFor(model) with { Width = width, Steps = 10, EvalEvery = 10 };
        using var host = Device.Open(AcceleratorKind.Cpu);
        var library = KernelLibrary.ForPlan(host.Accelerator, profile);
        using var device = Device.Wrap(library, AcceleratorKind.Cuda);
        using var session = new TrainingSession(config, ModelBenchmarks.SyntheticData(config.BatchSize), device);
        session.Step.Reset(1, 0);
        library.Policy.ClearRecords();
        long waits = device.Reads.Count;
        session.Step.Run(1);
        var launches = library.Policy.Records.ToList();
        long hostWaits = device.Reads.Count - waits;
        var big = launches.Where(r => r.Gemm is { } g && g.Gflop >= BigGemmGflop).Select(r => Waves(r.Gemm!.Value, sms)).ToList();
        string smallest = big.Count == 0
            ? "no GEMM of at least 0.25 GFLOP"
            : string.Create(CultureInfo.InvariantCulture, $"smallest big-GEMM grid {big.Min():F2} waves");
        string label = width == 1 ? model : string.Create(CultureInfo.InvariantCulture, $"{model} (width {width})");
        string totals = $"{launches.Count} launches, {hostWaits} host waits, {smallest}";
        return (label, config.BatchSize, profile, launches, hostWaits, totals);
    }

    /// <summary>Groups launched per SM: a wave is one group on every SM.</summary>
    public static double Waves(GemmShape gemm, int sms) => (double)gemm.Groups / sms;

    private static string Dim(ILGPU.Index3D d) => d.Z > 1 ? $"{d.X}x{d.Y}x{d.Z}" : d.Y > 1 ? $"{d.X}x{d.Y}" : $"{d.X}";
}
