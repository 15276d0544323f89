using System.Globalization;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;
using GpuNet.Kernels;

namespace GpuNet.Benchmarks;

/// <summary>
/// <c>--plan</c>: every launch of one training step as a CUDA GPU with a given number of SMs would receive it
/// (<see cref="StepPlan"/>), one line each, and the step's totals.
/// </summary>
public static class LaunchPlan
{
    public static int Run(string model, double width, int sms, GemmPrecision precision, int atStep, TextWriter output)
    {
        var plan = Make(model, width, sms, precision, atStep);
        string label = width == 1 ? model : string.Create(CultureInfo.InvariantCulture, $"{model} (width {width})");
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"launch plan of step {atStep} of a {label} run (batch {plan.Config.BatchSize}, {Choices.Name(precision)}) for {plan.Profile.Name}, in order:"));
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

    /// <summary>Step <paramref name="atStep"/> of <paramref name="model"/>'s default run, recorded for a CUDA GPU of <paramref name="sms"/> SMs.</summary>
    public static StepPlan Make(string model, double width, int sms, GemmPrecision precision = GemmPrecision.Fp32, int atStep = 1) =>
        StepPlan.Record(TrainConfig.ForModel(model) with { Width = width, Precision = precision }, DeviceProfile.CudaGpu(sms), atStep);

    private static string Dim(ILGPU.Index3D d) => d.Z > 1 ? $"{d.X}x{d.Y}x{d.Z}" : d.Y > 1 ? $"{d.X}x{d.Y}" : $"{d.X}";
}
