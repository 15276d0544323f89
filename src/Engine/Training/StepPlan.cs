using System.Globalization;
using GpuNet.Engine.Data;
using GpuNet.Engine.Runs;
using GpuNet.Kernels;

namespace GpuNet.Engine.Training;

/// <summary>
/// Every launch of one training step as a GPU described by a <see cref="DeviceProfile"/> would receive it: the step runs
/// against a kernel library that plans for that GPU and records its launches instead of running them (tensors live on
/// the CPU accelerator), so no GPU is needed. Any step of a run can be recorded: the sampler is first moved to where
/// that step starts (the first step of an epoch is the one that once uploaded a new order).
/// </summary>
/// <param name="Config">The run's configuration.</param>
/// <param name="Profile">The GPU planned for.</param>
/// <param name="Step">The step recorded.</param>
/// <param name="Launches">Its launches, in order.</param>
/// <param name="HostWaits">Blocking exchanges with the device it made (<see cref="HostWaits"/>).</param>
public sealed record StepPlan(TrainConfig Config, DeviceProfile Profile, int Step, IReadOnlyList<LaunchRecord> Launches, long HostWaits)
{
    /// <summary>The step's GEMMs, as their launches recorded them.</summary>
    public IReadOnlyList<GemmShape> Gemms => [.. Launches.Where(r => r.Gemm is not null).Select(r => r.Gemm!.Value)];

    /// <summary>The share of the GEMMs' FLOPs that run on tensor cores.</summary>
    public double TensorCoreShare
    {
        get
        {
            double flops = Gemms.Sum(g => g.Gflop);
            return flops == 0 ? 0 : Gemms.Where(g => g.TensorCores).Sum(g => g.Gflop) / flops;
        }
    }

    /// <summary>Over the step's GEMMs, FLOP-weighted, the share of SM slots their waves keep busy.</summary>
    public double WaveEfficiency
    {
        get
        {
            double flops = Gemms.Sum(g => g.Gflop);
            return flops == 0 ? 1 : Gemms.Sum(g => g.Gflop * g.WaveEfficiency(Profile.Multiprocessors)) / flops;
        }
    }

    /// <summary>One line: "83 launches, 0 host waits, 97.1% of GEMM FLOPs on tensor cores, wave efficiency 91.4%".</summary>
    public string Totals => string.Create(
        CultureInfo.InvariantCulture,
        $"{Launches.Count} launches, {HostWaits} host waits, {100 * TensorCoreShare:F1}% of GEMM FLOPs on tensor cores, wave efficiency {100 * WaveEfficiency:F1}%");

    /// <summary>
    /// Records step <paramref name="step"/> of a run of <paramref name="config"/> on <paramref name="profile"/>, over
    /// synthetic 1 x 28 x 28 images, <paramref name="trainSamples"/> of them (Fashion-MNIST's 60,000 by default, so its
    /// epochs begin where a real run's do: with batch 32, step 1876 begins the second).
    /// </summary>
    public static StepPlan Record(TrainConfig config, DeviceProfile profile, int step = 1, int trainSamples = 60_000)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        config = config with { Steps = Math.Max(step, config.Steps) };
        using var host = Device.Open(AcceleratorKind.Cpu);
        var library = KernelLibrary.ForPlan(host.Accelerator, profile);
        using var device = Device.Wrap(library, AcceleratorKind.Cuda);
        using var session = new TrainingSession(config, Synthetic(trainSamples), device);
        for (int s = 1; s < step; s++)
        {
            session.Sampler.Next(out _);
        }

        session.Step.Reset(step, step - 1);
        library.Policy.ClearRecords();
        long waits = device.Reads.Count;
        session.Step.Run(step);
        return new StepPlan(config, profile, step, [.. library.Policy.Records], device.Reads.Count - waits);
    }

    private static Dataset Synthetic(int count)
    {
        var sample = new Shape(1, 28, 28);
        DataSplit Split(int n) => new(new byte[n * sample.Length], [.. Enumerable.Range(0, n).Select(i => i % 10)]);
        return new Dataset("synthetic", sample, [.. Enumerable.Range(0, 10).Select(i => $"class {i}")], Split(count), Split(1000));
    }
}
