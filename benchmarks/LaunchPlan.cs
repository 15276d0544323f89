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
/// live on the CPU accelerator), so this needs no GPU. Any step of a run can be recorded: the sampler is first moved to
/// where that step starts (the first step of an epoch is the one that once uploaded a new order).
/// </summary>
public static class LaunchPlan
{
    public static int Run(string model, double width, int sms, GemmPrecision precision, int atStep, TextWriter output)
    {
        var plan = Make(model, width, sms, precision, atStep);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"launch plan of step {atStep} of a {plan.Label} run (batch {plan.Batch}, {Choices.Name(precision)}) for {plan.Profile.Name}, in order:"));
        output.WriteLine($"{"#",3} {"kernel",-36} {"grid",-14} {"group",-8} {"shared",7}  gemm (M x N x K, tile, split-K, GFLOP, groups per SM, waves, wave efficiency)");
        for (int i = 0; i < plan.Launches.Count; i++)
        {
            var r = plan.Launches[i];
            string gemm = r.Gemm is { } g
                ? string.Create(
                    CultureInfo.InvariantCulture,
                    $"{g.M} x {g.N} x {g.K}, {g.TileM}x{g.TileN}{(g.TensorCores ? " TF32" : "")}, split {g.Splits}, {g.Gflop:F3} GFLOP, {g.BlocksPerSm}/SM, {g.Waves(sms)} waves, {100 * g.WaveEfficiency(sms):F1}%")
                : "";
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{i + 1,3} {r.Kernel,-36} {Dim(r.Grid),-14} {Dim(r.Group),-8} {r.SharedMemoryBytes,7}  {gemm}"));
        }

        output.WriteLine(plan.Totals);
        return 0;
    }

    /// <summary>The recorded launches of step <paramref name="atStep"/> of <paramref name="model"/> and the totals line.</summary>
    public static (string Label, int Batch, DeviceProfile Profile, IReadOnlyList<LaunchRecord> Launches, long HostWaits, string Totals) Make(
        string model, double width, int sms, GemmPrecision precision = GemmPrecision.Fp32, int atStep = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(atStep, 1);
        var profile = DeviceProfile.CudaGpu(sms);
        var defaults = TrainConfig.DefaultsFor(model);
        var config = defaults with { Width = width, Steps = Math.Max(atStep, defaults.Steps), Precision = precision };
        using var host = Device.Open(AcceleratorKind.Cpu);
        var library = KernelLibrary.ForPlan(host.Accelerator, profile);
        using var device = Device.Wrap(library, AcceleratorKind.Cuda);
        using var session = new TrainingSession(config, ModelBenchmarks.SyntheticData(config.BatchSize), device);
        for (int step = 1; step < atStep; step++)
        {
            session.Sampler.Next(out _);
        }

        session.Step.Reset(atStep, atStep - 1);
        library.Policy.ClearRecords();
        long waits = device.Reads.Count;
        session.Step.Run(atStep);
        var launches = library.Policy.Records.ToList();
        long hostWaits = device.Reads.Count - waits;
        var gemms = launches.Where(r => r.Gemm is not null).Select(r => r.Gemm!.Value).ToList();
        double flops = gemms.Sum(g => g.Gflop);
        double onTensorCores = flops == 0 ? 0 : gemms.Where(g => g.TensorCores).Sum(g => g.Gflop) / flops;
        double efficiency = flops == 0 ? 1 : gemms.Sum(g => g.Gflop * g.WaveEfficiency(sms)) / flops;
        string label = width == 1 ? model : string.Create(CultureInfo.InvariantCulture, $"{model} (width {width})");
        string totals = string.Create(
            CultureInfo.InvariantCulture,
            $"{launches.Count} launches, {hostWaits} host waits, {100 * onTensorCores:F1}% of GEMM FLOPs on tensor cores, wave efficiency {100 * efficiency:F1}%");
        return (label, config.BatchSize, profile, launches, hostWaits, totals);
    }

    private static string Dim(ILGPU.Index3D d) => d.Z > 1 ? $"{d.X}x{d.Y}x{d.Z}" : d.Y > 1 ? $"{d.X}x{d.Y}" : $"{d.X}";
}
