using GpuNet.Engine;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Engine;

/// <summary>Gradient checks through compositions of layers: the device backward against central differences of a double-precision copy.</summary>
public sealed class ModelGradientTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    /// <summary>Relative to the largest gradient, and to each gradient's own size: float backward against double differences.</summary>
    private const double Tolerance = 1e-5;

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void MlpWithBatchNormGradientsMatchFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (kernels, buffers) =>
    {
        const int batch = 6, classes = 3;
        var spec = ModelSpec.Builtin(BuiltinModel.Mlp, [1, 2, 3], classes, [5, 4], batchNorm: true, WeightInit.KaimingUniform);
        using var model = spec.Build(kernels, batch, seed: 3);
        var random = new Random(4);
        var input = Numerics.Normal(random, batch * 6);
        var labels = Enumerable.Range(0, batch).Select(i => i % classes).ToArray();
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "4.weight", "4.bias", "6.weight", "6.bias"], model.NamedParameters.Select(p => p.Name));
        var (deviceLoss, referenceLoss, samples) = GradientCheck.Run(kernels, buffers, spec, model, input, labels, _ => 1);
        Assert.Equal(model.ParameterCount, samples.Count);
        GradientCheck.AssertAgree(deviceLoss, referenceLoss, samples, Tolerance, $"MLP with BatchNorm on {accelerator}");
    });

    [Fact]
    public void BackwardAccumulatesParameterGradientsAndTheOptimizerZeroesThem() => Support.Accelerators.Run("cpu", (kernels, buffers) =>
    {
        var spec = ModelSpec.Builtin(BuiltinModel.Mlp, [1, 1, 4], 2, [3], batchNorm: false, WeightInit.KaimingUniform);
        using var model = spec.Build(kernels, 2, seed: 1);
        using var loss = new SoftmaxCrossEntropyLoss(kernels, 2, 2);
        using var totals = new LossTotals(kernels);
        var input = buffers.Upload([1f, 2, 3, 4, 5, 6, 7, 8], 2, 1, 1, 4);
        var labels = buffers.Upload([0, 1], 2);
        model.Backward(loss.Compute(model.Forward(input, true), labels, totals));
        var once = model.NamedParameters[0].Parameter.Gradient.Download();
        model.Backward(loss.Compute(model.Forward(input, true), labels, totals));
        var twice = model.NamedParameters[0].Parameter.Gradient.Download();
        Numerics.AssertClose(once.Select(g => 2.0 * g).ToArray(), twice, 1e-6, 1e-5, "gradients accumulate");
        using var sgd = new GpuNet.Engine.Optim.Sgd(kernels, model, new SgdSettings(0.1f));
        sgd.Step(1, 0.1f, buffers.Upload(new int[StepStatus.Length(model.NamedParameters.Count)], StepStatus.Length(model.NamedParameters.Count)), NonFiniteAction.Stop);
        Assert.All(model.NamedParameters, p => Assert.All(p.Parameter.Gradient.Download(), g => Assert.Equal(0f, g)));
    });

    [Fact]
    public void ReferenceInitIsSmallNormalWithZeroBiases() => Support.Accelerators.Run("cpu", (kernels, _) =>
    {
        var spec = ModelSpec.Builtin(BuiltinModel.Mlp, [1, 28, 28], 10, [100], batchNorm: false, WeightInit.SmallNormal);
        using var model = spec.Build(kernels, 1, seed: 42);
        var weight = model.NamedParameters[0].Parameter.Value.Download();
        double mean = weight.Average(w => (double)w), std = Math.Sqrt(weight.Average(w => (w - mean) * (w - mean)));
        Assert.InRange(std, 0.95e-4, 1.05e-4);
        Assert.InRange(Math.Abs(mean), 0, 3e-6);
        Assert.All(model.NamedParameters[1].Parameter.Value.Download(), b => Assert.Equal(0f, b));
        Assert.Equal(784 * 100 + 100 + 100 * 10 + 10, model.ParameterCount);
    });

    [Fact]
    public void KaimingUniformInitIsBoundedByOneOverSqrtFanIn() => Support.Accelerators.Run("cpu", (kernels, _) =>
    {
        var spec = ModelSpec.Builtin(BuiltinModel.MlpDeep, [1, 28, 28], 10, [64], batchNorm: false, WeightInit.KaimingUniform);
        using var model = spec.Build(kernels, 1, seed: 42);
        double bound = 1 / Math.Sqrt(784);
        var weight = model.NamedParameters[0].Parameter.Value.Download();
        Assert.All(weight, w => Assert.InRange(Math.Abs(w), 0, bound));
        Assert.True(weight.Max() > 0.9 * bound && weight.Min() < -0.9 * bound);
        var bias = model.NamedParameters[1].Parameter.Value.Download();
        Assert.All(bias, b => Assert.InRange(Math.Abs(b), 0, bound));
        Assert.Contains(bias, b => b != 0);
    });
}
