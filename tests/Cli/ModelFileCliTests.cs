using GpuNet.Tests.Support;

namespace GpuNet.Tests.Cli;

/// <summary>gpunet models, and model files given to train: listed, shown, checked, refused with one line.</summary>
public sealed class ModelFileCliTests
{
    private static readonly Lazy<string> Mnist = new(() => SyntheticData.WriteMnistLike(200, 50, seed: 43));

    private static string WriteModel(string text)
    {
        string path = Path.Combine(SyntheticData.NewDirectory(), "net.json");
        File.WriteAllText(path, text);
        return path;
    }

    private static string Net(string layers) => $$"""{"format": 1, "name": "net", "layers": [{{layers}}]}""";

    private const string Head = """{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1, "bias": false}, {"type": "relu"}""";
    private const string Tail = """{"type": "global_avgpool"}, {"type": "flatten"}, {"type": "linear", "out": 10}""";

    /// <summary>(what is wrong, the model file, what the one line must say).</summary>
    public static TheoryData<string, string, string[]> BadFiles => new()
    {
        { "malformed JSON", """{"format": 1, "layers": [{"type": "relu"}""", ["not valid JSON"] },
        { "not an object", "[1, 2]", ["a model file is a JSON object"] },
        { "another format", """{"format": 2, "layers": []}""", ["\"format\" is 2", "format 1"] },
        { "no layers", """{"format": 1}""", ["\"layers\" is missing"] },
        { "an unknown type", Net($$"""{{Head}}, {"type": "residual", "body": [{"type": "conv3d", "out": 4}]}, {{Tail}}"""), ["layers[2].body[0]", "conv3d"] },
        { "an unknown field", Net($$"""{{Head}}, {"type": "maxpool2d", "kernel": 2, "strid": 2}, {{Tail}}"""), ["layers[2]", "strid"] },
        { "a missing field", Net($$"""{"type": "conv2d", "kernel": 3}, {{Tail}}"""), ["layers[0]", "\"out\""] },
        { "a zero field", Net($$"""{{Head}}, {"type": "residual", "body": [{"type": "conv2d", "out": 0, "kernel": 3}]}, {{Tail}}"""), ["layers[2].body[0]", "\"out\""] },
        { "a negative field", Net($$"""{{Head}}, {"type": "avgpool2d", "kernel": -2}, {{Tail}}"""), ["layers[2]", "\"kernel\""] },
        { "a probability of 1", Net($$"""{{Head}}, {"type": "dropout", "p": 1}, {{Tail}}"""), ["layers[2]", "\"p\""] },
        { "a field of the wrong kind", Net($$"""{{Head}}, {"type": "conv2d", "out": "four", "kernel": 3}, {{Tail}}"""), ["layers[2]", "\"out\""] },
        {
            "pooling below 1 x 1",
            Net($$"""{{Head}}, {"type": "maxpool2d", "kernel": 4}, {"type": "maxpool2d", "kernel": 4}, {"type": "maxpool2d", "kernel": 4}, {{Tail}}"""),
            ["layers[4]", "does not fit its 1x1 input"]
        },
        {
            "branches that disagree",
            Net($$"""{{Head}}, {"type": "residual", "body": [{"type": "conv2d", "out": 8, "kernel": 3, "padding": 1}]}, {{Tail}}"""),
            ["layers[2]", "(8, 28, 28)", "(4, 28, 28)"]
        },
        {
            "a shortcut that disagrees",
            Net($$"""{{Head}}, {"type": "residual", "body": [{"type": "conv2d", "out": 4, "kernel": 3, "stride": 2, "padding": 1}], "shortcut": [{"type": "conv2d", "out": 4, "kernel": 1}]}, {{Tail}}"""),
            ["layers[2]", "(4, 14, 14)", "(4, 28, 28)"]
        },
        { "a linear on images", Net($$"""{{Head}}, {"type": "linear", "out": 10}"""), ["layers[2] (linear)", "flatten"] },
        { "the wrong class count", Net($$"""{{Head}}, {"type": "global_avgpool"}, {"type": "flatten"}, {"type": "linear", "out": 7}"""), ["(7)", "10 classes"] },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadModelFilesAreRefusedWithOneLineBeforeAnyAllocation(string what, string text, string[] says)
    {
        string path = WriteModel(text);
        string outDir = Path.Combine(SyntheticData.NewDirectory(), "run");
        foreach (var args in new[]
        {
            new[] { "train", "--model", path, "--dataset", "mnist", "--data-dir", Mnist.Value, "--steps", "2", "--accelerator", "cpu", "--out", outDir },
            ["models", "check", path, "--dataset", "mnist"],
        })
        {
            var (code, output, error) = Support.Cli.Run(args);
            Assert.True(code == 2, $"{what}: {args[0]} exited {code}: {output} {error}");
            string line = error.TrimEnd('\n');
            Assert.False(line.Contains('\n', StringComparison.Ordinal), $"{what}: {args[0]} wrote more than one line: {error}");
            foreach (string part in says)
            {
                Assert.True(line.Contains(part, StringComparison.Ordinal), $"{what}: {args[0]}'s line lacks '{part}': {line}");
            }

            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        }

        Assert.False(Directory.Exists(outDir), $"{what}: train made {outDir} before refusing the model");
    }

    [Fact]
    public void ModelsListsShowsAndChecks()
    {
        var (code, output, _) = Support.Cli.Run("models");
        Assert.Equal(0, code);
        Assert.Contains("mlp-deep", output, StringComparison.Ordinal);
        Assert.Contains("vgg", output, StringComparison.Ordinal);

        (code, output, _) = Support.Cli.Run("models", "show", "vgg");
        Assert.Equal(0, code);
        Assert.Equal(GpuNet.Engine.Models.BuiltinModels.ShippedText(GpuNet.Engine.Models.BuiltinModel.Vgg), output);

        string path = WriteModel(GpuNet.Tests.Engine.ModelFileTests.ResidualNet);
        (code, output, _) = Support.Cli.Run("models", "show", path);
        Assert.Equal(0, code);
        Assert.Equal(GpuNet.Engine.Models.ModelDefinition.Load(path).ToJson(), output);

        (code, output, var error) = Support.Cli.Run("models", "check", path, "--dataset", "cifar10");
        Assert.True(code == 0, error);
        Assert.Contains("layers[5].shortcut[0]  conv2d", output, StringComparison.Ordinal);
        Assert.Contains("(6, 16, 16)", output, StringComparison.Ordinal);
        // 3*4*9 + 8 + 4*4*9 + 8 + (4*4*9 + 4) + (6*4*9 + 6) + 6*4 + 12 + 6*5 + (5*10 + 10) parameters.
        Assert.Contains("residual-check: 764 parameters, input (3, 32, 32), 10 classes", output, StringComparison.Ordinal);
    }

    [Fact]
    public void ATrainedModelFileEvaluatesResumesAndKeepsItsNetwork()
    {
        string path = WriteModel(GpuNet.Tests.Engine.ModelFileTests.ResidualNet);
        string outDir = Path.Combine(SyntheticData.NewDirectory(), "run");
        string[] common = ["--dataset", "mnist", "--data-dir", Mnist.Value, "--batch-size", "20", "--eval-every", "4", "--accelerator", "cpu"];
        var (code, output, error) = Support.Cli.Run(["train", "--model", path, "--steps", "8", "--out", outDir, .. common]);
        Assert.True(code == 0, error);
        Assert.Contains("residual-check", output, StringComparison.Ordinal);
        var rows = GpuNet.Engine.Training.RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(outDir, "metrics.csv")));
        Assert.Equal([4, 8], rows.Select(r => r.Step));

        // The model file alone rebuilds the network: the JSON file is gone.
        File.Delete(path);
        (code, output, error) = Support.Cli.Run("eval", "--checkpoint", Path.Combine(outDir, "model.safetensors"), "--dataset", "mnist", "--data-dir", Mnist.Value, "--accelerator", "cpu");
        Assert.True(code == 0, error);
        Assert.Contains($"accuracy {rows[^1].TestAccuracy:F4} on 50 mnist test images", output, StringComparison.Ordinal);
    }
}
