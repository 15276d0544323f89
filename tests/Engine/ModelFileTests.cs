using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Training;
using GpuNet.Kernels;
using GpuNet.Tests.Support;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Tests.Engine;

/// <summary>Model files: residual networks' gradients and parameter names, the shipped built-ins, the canonical text.</summary>
public sealed class ModelFileTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    private static readonly Lazy<string> DataDir = new(() => SyntheticData.WriteMnistLike(300, 60, seed: 41));

    /// <summary>
    /// A small residual network with every layer type that has a deterministic training forward: bias-free and stride-2
    /// convolutions, an identity and a 1 x 1 shortcut, GELU, max and global average pooling, a bias-free linear.
    /// </summary>
    internal const string ResidualNet = """
        {"format": 1, "name": "residual-check", "layers": [
          {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1, "bias": false},
          {"type": "batchnorm"}, {"type": "gelu"},
          {"type": "residual", "body": [
             {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1, "bias": false}, {"type": "batchnorm"}, {"type": "gelu"},
             {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}]},
          {"type": "relu"},
          {"type": "residual", "body": [{"type": "conv2d", "out": 6, "kernel": 3, "stride": 2, "padding": 1}, {"type": "gelu"}],
                               "shortcut": [{"type": "conv2d", "out": 6, "kernel": 1, "stride": 2, "bias": false}, {"type": "batchnorm"}]},
          {"type": "maxpool2d", "kernel": 2, "stride": 1},
          {"type": "global_avgpool"}, {"type": "flatten"},
          {"type": "linear", "out": 5, "bias": false}, {"type": "gelu"},
          {"type": "linear", "out": "classes"}
        ]}
        """;

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ResidualNetworkGradientsMatchFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (kernels, buffers) =>
    {
        const int batch = 4, classes = 3;
        var spec = new ModelSpec(ModelDefinition.Parse(ResidualNet, "test"), [2, 6, 6], classes);
        spec.Definition.Check(new Shape(spec.InputShape), classes, "test");
        using var model = spec.Build(kernels, batch, seed: 5);
        Assert.Equal(
            [
                "0.weight", "1.weight", "1.bias", "3.body.0.weight", "3.body.1.weight", "3.body.1.bias", "3.body.3.weight", "3.body.3.bias",
                "5.body.0.weight", "5.body.0.bias", "5.shortcut.0.weight", "5.shortcut.1.weight", "5.shortcut.1.bias", "9.weight", "11.weight", "11.bias",
            ],
            model.NamedParameters.Select(p => p.Name));
        var random = new Random(6);
        var input = Numerics.Normal(random, batch * 72);
        var labels = Enumerable.Range(0, batch).Select(i => i % classes).ToArray();
        var (deviceLoss, referenceLoss, samples) = GradientCheck.Run(kernels, buffers, spec, model, input, labels, length => Math.Max(1, length / 24));
        GradientCheck.AssertAgree(deviceLoss, referenceLoss, samples, 1e-4, $"residual network on {accelerator}");
    });

    /// <summary>
    /// A residual block whose body ends with a GEMM sums in that GEMM's epilogue: a convolution's gives the bits of the
    /// body's output plus the shortcut's made by separate launches; a linear one's gradients match finite differences; a
    /// body ending otherwise (GELU) keeps its own addition.
    /// </summary>
    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ResidualSumIsMadeInTheBodysLastGemmEpilogue(string accelerator) => Support.Accelerators.Run(accelerator, (kernels, buffers) =>
    {
        const int batch = 3;
        var spec = new ModelSpec(ModelDefinition.Parse(ResidualNet, "test"), [2, 6, 6], 3);
        using (var model = spec.Build(kernels, batch, seed: 5))
        {
            var blocks = model.Layers.OfType<Residual>().ToList();
            Assert.Equal([true, false], blocks.Select(block => block.AddsInBody));
            var h = buffers.Upload(Numerics.Normal(new Random(8), batch * 72), batch, 2, 6, 6);
            for (int i = 0; i < 3; i++)
            {
                h = model.Layers[i].Forward(h, training: false);
            }

            float[] shortcut = buffers.Read(h);
            long launches = kernels.Policy.Launches;
            float[] fused = buffers.Read(blocks[0].Forward(h, training: false));
            long blockLaunches = kernels.Policy.Launches - launches;
            var t = h;
            launches = kernels.Policy.Launches;
            foreach (var layer in blocks[0].Body)
            {
                t = layer.Forward(t, training: false);
            }

            // The identity shortcut launches nothing and the sum no launch of its own: the block launches what its body does.
            Assert.Equal(kernels.Policy.Launches - launches, blockLaunches);
            float[] body = buffers.Read(t);
            Assert.Equal(body.Select((v, i) => v + shortcut[i]).ToArray(), fused);
        }

        const string linearBody = """
            {"format": 1, "name": "linear-residual", "layers": [
              {"type": "flatten"}, {"type": "linear", "out": 6},
              {"type": "residual", "body": [{"type": "linear", "out": 5}, {"type": "gelu"}, {"type": "linear", "out": 6}]},
              {"type": "relu"}, {"type": "linear", "out": "classes"}
            ]}
            """;
        var mlp = new ModelSpec(ModelDefinition.Parse(linearBody, "test"), [1, 3, 3], 3);
        using var net = mlp.Build(kernels, batch, seed: 9);
        Assert.True(net.Layers.OfType<Residual>().Single().AddsInBody);
        var (deviceLoss, referenceLoss, samples) = GradientCheck.Run(
            kernels, buffers, mlp, net, Numerics.Normal(new Random(10), batch * 9), [0, 1, 2], length => Math.Max(1, length / 8));
        GradientCheck.AssertAgree(deviceLoss, referenceLoss, samples, 1e-4, $"residual MLP on {accelerator}");
    });

    /// <summary>--width scales a model file's convolutions, in residual branches too, and leaves its linear layers.</summary>
    [Fact]
    public void WidthScalesEveryConvolutionOfAModelFile()
    {
        var network = ModelDefinition.Parse(ResidualNet, "test");
        var config = TrainConfig.DefaultsFor(network) with { Width = 0.5 };
        config.Validate();
        var scaled = config.Architecture([2, 6, 6], 3).Definition;
        int[] Sizes(ModelDefinition d, LayerKind kind) => [.. ModelDefinition.Walk(d.Layers).Where(l => l.Kind == kind).Select(l => l.Size)];
        Assert.Equal([4, 4, 4, 6, 6], Sizes(network, LayerKind.Conv2d));
        Assert.Equal([2, 2, 2, 3, 3], Sizes(scaled, LayerKind.Conv2d));
        Assert.Equal([5, LayerPlan.ClassCount], Sizes(scaled, LayerKind.Linear));
        Assert.Equal(Sizes(network, LayerKind.Conv2d), Sizes(TrainConfig.DefaultsFor(network).Architecture([2, 6, 6], 3).Definition, LayerKind.Conv2d));
    }

    [Fact]
    public void ShippedFilesAreTheGeneratedBuiltinsAndTheCanonicalTextRoundTrips()
    {
        foreach (var name in Enum.GetValues<BuiltinModel>())
        {
            var defaults = TrainConfig.DefaultsFor(name);
            var generated = BuiltinModels.Generate(name, defaults.Hidden, defaults.BatchNorm, defaults.Init, defaults.Width, defaults.Dropout);
            var shipped = BuiltinModels.Shipped(name);
            Assert.Equal(generated.ToJson(), shipped.ToJson());
            Assert.Equal(BuiltinModels.ShippedText(name), shipped.ToJson());
        }

        var residual = ModelDefinition.Parse(ResidualNet, "test");
        string canonical = residual.ToJson();
        var reparsed = ModelDefinition.Parse(canonical, "canonical");
        Assert.Equal(canonical, reparsed.ToJson());
        Assert.Equal(residual.Summarize(new Shape(2, 6, 6), 3), reparsed.Summarize(new Shape(2, 6, 6), 3));
        Assert.Equal(20, reparsed.Summarize(new Shape(2, 6, 6), 3).Count);
        Assert.Equal(12, residual.Layers.Count);
        Assert.Equal(2, residual.Layers[5].ShortcutLayers.Count);
        Assert.False(residual.Layers[0].Bias);
        Assert.Equal(new Window(3, 2, 1), residual.Layers[5].BodyLayers[0].Window);
        Assert.Equal(new Window(2, 1, 0), residual.Layers[6].Window);
        Assert.Equal(LayerPlan.ClassCount, residual.Layers[11].Size);
    }

    /// <summary>A built-in trained from its shipped file gives the metrics and weights of the same built-in named.</summary>
    [Theory]
    [InlineData(BuiltinModel.Mlp)]
    [InlineData(BuiltinModel.Vgg)]
    public void BuiltinFromItsShippedFileTrainsAsByName(BuiltinModel name)
    {
        var data = DataSets.Load(DatasetKind.Mnist, DataDir.Value);
        var byName = TrainConfig.DefaultsFor(name) with
        {
            Dataset = DatasetKind.Mnist,
            DataDir = DataDir.Value,
            BatchSize = 20,
            Steps = 12,
            EvalEvery = 6,
            Accelerator = AcceleratorKind.Cpu,
            Width = name == BuiltinModel.Vgg ? 0.0625 : 1.0,
            Dropout = name == BuiltinModel.Mlp ? 0.2 : 0,
        };
        var file = BuiltinModels.Generate(name, byName.Hidden, byName.BatchNorm, byName.Init, byName.Width, byName.Dropout);
        var byFile = byName with { Network = ModelDefinition.Parse(file.ToJson(), "file"), Model = file.Name, Hidden = [], BatchNorm = false, Width = 1.0, Dropout = 0 };
        string a = SyntheticData.NewDirectory(), b = SyntheticData.NewDirectory();
        using (var device = Device.Open(AcceleratorKind.Cpu))
        {
            Trainer.Run(byName, data, device, a);
            Trainer.Run(byFile, data, device, b);
        }

        static IEnumerable<string> Metrics(string dir) =>
            RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(dir, "metrics.csv"))).Select(r => $"{r.Step},{r.TrainLoss:R},{r.TestLoss:R},{r.TestAccuracy:R}");
        Assert.Equal(Metrics(a), Metrics(b));
        var (_, tensorsA) = ModelFile.Read(Path.Combine(a, "model.safetensors"));
        var (infoB, tensorsB) = ModelFile.Read(Path.Combine(b, "model.safetensors"));
        Assert.Equal(tensorsA.Keys.Order(), tensorsB.Keys.Order());
        Assert.All(tensorsA, t => Assert.Equal(t.Value.Data, tensorsB[t.Key].Data));
        Assert.Equal(file.ToJson(), infoB.Spec.Definition.ToJson());
    }
}
