using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Engine;

public sealed class VggTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    private static ModelSpec Vgg(int[] input, double width) => ModelSpec.Builtin(BuiltinModel.Vgg, input, 10, [], false, WeightInit.KaimingUniform, width);

    [Theory]
    [InlineData(1, 28, new[] { 28, 14, 7, 4, 2, 1 })]
    [InlineData(3, 32, new[] { 32, 16, 8, 4, 2, 1 })]
    public void LayerShapesFollowTheReference(int channels, int side, int[] sides) => Support.Accelerators.Run("cpu", (kernels, _) =>
    {
        using var model = Vgg([channels, side, side], 0.125).Build(kernels, 2, seed: 1);
        Assert.Equal(32, model.Layers.Count);
        string[] kinds =
        [
            "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
            "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
            "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
            "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AvgPool2d", "Flatten", "Linear",
        ];
        Assert.Equal(kinds, model.Layers.Select(l => l.Kind));
        var pools = model.Layers.Where(l => l.Kind == "MaxPool2d").ToList();
        Assert.Equal(sides[1..], pools.Select(p => p.OutputShape[1]));
        Assert.Equal(sides[0], model.Layers[0].OutputShape[1]);
        int[] widths = [8, 16, 32, 32, 64, 64, 64, 64];
        Assert.Equal(widths, model.Layers.Where(l => l.Kind == "Conv2d").Select(l => l.OutputShape[0]));
        Assert.Equal(new Shape(64, 1, 1), model.Layers[29].OutputShape);
        Assert.Equal(new Shape(10), model.OutputShape);
    });

    [Fact]
    public void FullWidthParameterCountMatchesTheReference()
    {
        long expected = 0;
        int previous = 1;
        foreach (var (channels, _) in BuiltinModels.VggBlocks)
        {
            expected += (previous * channels * 9) + channels + (2 * channels); // conv weight and bias, BatchNorm gamma and beta
            previous = channels;
        }

        expected += (512 * 10) + 10;
        Assert.Equal(9_229_962, expected); // "about 9.23 million"
        Support.Accelerators.Run("cpu", (kernels, _) =>
        {
            using var model = Vgg([1, 28, 28], 1).Build(kernels, 1, seed: 1);
            Assert.Equal(expected, model.ParameterCount);
        });
    }

    [Fact]
    public void WidthScalesChannelsWithAMinimumOfOne()
    {
        var convolutions = Vgg([1, 28, 28], 0.001).Plan().Where(l => l.Kind == LayerKind.Conv2d).ToList();
        Assert.Equal(BuiltinModels.VggBlocks.Count, convolutions.Count);
        Assert.All(convolutions, c => Assert.Equal(1, c.Size));
        Assert.Equal(32, Vgg([1, 28, 28], 0.5).Plan()[0].Size);
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void WholeNetworkGradientsMatchFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (kernels, buffers) =>
    {
        // conv, BatchNorm, ReLU, max and average pooling, flatten, linear and the loss, on a tiny input; the reference is
        // in double, so a perturbation of 1e-6 almost never moves a max-pool winner or a ReLU across zero.
        const int batch = 8;
        var spec = Vgg([1, 28, 28], 1.0 / 32);
        using var model = spec.Build(kernels, batch, seed: 5);
        var random = new Random(6);
        var input = Numerics.Normal(random, batch * 784);
        int[] labels = [1, 4, 7, 2, 3, 5, 0, 9];
        var (deviceLoss, referenceLoss, samples) = GradientCheck.Run(kernels, buffers, spec, model, input, labels, length => Math.Max(1, length / 12));
        Assert.True(samples.Count > 200, $"only {samples.Count} checked");
        // float accumulation over 6272 values per BatchNorm channel in the first block: differences reach about 3e-6 of the largest gradient
        GradientCheck.AssertAgree(deviceLoss, referenceLoss, samples, 5e-5, $"VGG at 1/32 width on {accelerator}");
    });
}
