using GpuNet.Engine.Models;
using GpuNet.Engine.Training;
using GpuNet.Kernels;

namespace GpuNet.Tests.Engine;

/// <summary>
/// The reference ConvNet's training step as an H200 (132 SMs) would receive it, recorded without a GPU: in TF32 its GEMMs
/// run on tensor cores, in either precision its waves keep the SMs busy, and no step, the first of an epoch included,
/// waits for the device.
/// </summary>
public sealed class StepPlanTests
{
    private static readonly DeviceProfile H200 = DeviceProfile.CudaGpu(132);

    // Step 1876 is the first of the second epoch (60,000 images, 32 a step): the step that once uploaded a new order.
    [Theory]
    [InlineData(1)]
    [InlineData(1876)]
    public void Tf32VggStepRunsOnTensorCoresFillsItsWavesAndWaitsForNothing(int step)
    {
        Assert.True(step == 1 || (step - 1) * 32 % 60_000 == 0, $"step {step} does not begin an epoch");
        var plan = StepPlan.Record(TrainConfig.DefaultsFor(BuiltinModel.Vgg) with { Precision = GemmPrecision.Tf32 }, H200, step);
        string what = $"step {step}: {plan.Totals}";
        Assert.True(plan.TensorCoreShare >= 0.95, what);
        Assert.True(plan.Launches.Count <= 83, what);
        Assert.True(plan.HostWaits == 0, what);
        Assert.True(plan.WaveEfficiency >= 0.85, what);
        Assert.All(plan.Gemms, g => Assert.True(g.TensorCores, $"{g.M} x {g.N} x {g.K} is not on tensor cores"));
    }

    [Fact]
    public void Fp32VggStepFillsItsWavesOnTheFmaPipes()
    {
        var plan = StepPlan.Record(TrainConfig.DefaultsFor(BuiltinModel.Vgg), H200, 1876);
        Assert.True(plan.TensorCoreShare == 0, plan.Totals);
        Assert.True(plan.HostWaits == 0, plan.Totals);
        Assert.True(plan.WaveEfficiency >= 0.85, plan.Totals);
    }

    [Fact]
    public void TheTotalsLineHasTheAgreedForm()
    {
        var plan = StepPlan.Record(TrainConfig.DefaultsFor(BuiltinModel.Mlp) with { Precision = GemmPrecision.Tf32 }, H200);
        Assert.Matches(@"^\d+ launches, 0 host waits, 100\.0% of GEMM FLOPs on tensor cores, wave efficiency \d+\.\d%$", plan.Totals);
    }
}
