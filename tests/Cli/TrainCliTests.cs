using System.Text.Json;
using GpuNet.Cli;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Cli;

/// <summary>gpunet train and eval end to end on small data sets the tests write, on the CPU accelerator.</summary>
public sealed class TrainCliTests
{
    private static readonly Lazy<string> Mnist = new(() => SyntheticData.WriteMnistLike(600, 200));

    private static (int Code, string Output, string Error) Run(params string[] args) => Support.Cli.Run(args);

    private static string[] ShortRun(string outDir, params string[] extra) =>
    [
        "train", "--dataset", "mnist", "--data-dir", Mnist.Value, "--steps", "30", "--eval-every", "10", "--batch-size", "50",
        "--accelerator", "cpu", "--out", outDir, .. extra,
    ];

    [Fact]
    public void TrainWritesMetricsSummaryPlotAndModelThatEvalReloads()
    {
        string outDir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, output, error) = Run(ShortRun(outDir, "--hidden", "32"));
        Assert.True(code == 0, error);
        Assert.Contains("final_test_accuracy", output, StringComparison.Ordinal);

        var metrics = File.ReadAllText(Path.Combine(outDir, "metrics.csv"));
        Assert.StartsWith("step,train_loss,test_loss,test_accuracy,elapsed_seconds,learning_rate\n", metrics, StringComparison.Ordinal);
        var rows = RunFiles.ParseMetrics(metrics);
        Assert.Equal([10, 20, 30], rows.Select(r => r.Step));
        Assert.All(rows, r => Assert.InRange(r.TestAccuracy, 0, 1));
        Assert.True(rows[^1].TrainLoss < rows[0].TrainLoss, $"training loss should fall: {rows[0].TrainLoss} -> {rows[^1].TrainLoss}");

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")));
        var root = summary.RootElement;
        foreach (var key in new[] { "model", "dataset", "accelerator", "steps", "final_test_accuracy", "best_test_accuracy", "train_images_per_second", "wall_seconds", "launches_per_step", "collectives_per_step", "host_waits_per_step", "host_waits", "config" })
        {
            Assert.True(root.TryGetProperty(key, out _), $"summary.json lacks {key}");
        }

        Assert.Equal("mlp", root.GetProperty("model").GetString());
        Assert.Equal("mnist", root.GetProperty("dataset").GetString());
        Assert.Equal("cpu", root.GetProperty("accelerator").GetString());
        Assert.Equal(rows[^1].TestAccuracy, root.GetProperty("final_test_accuracy").GetDouble());
        Assert.Equal(rows.Max(r => r.TestAccuracy), root.GetProperty("best_test_accuracy").GetDouble());
        Assert.Equal(32, root.GetProperty("config").GetProperty("hidden")[0].GetInt32());
        Assert.Equal("none", root.GetProperty("config").GetProperty("normalize").GetString());

        var png = File.ReadAllBytes(Path.Combine(outDir, "curves.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Equal(Curves.Width, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(Curves.Height, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

        var (evalCode, evalOutput, evalError) = Run("eval", "--checkpoint", Path.Combine(outDir, "model.safetensors"), "--data-dir", Mnist.Value, "--accelerator", "cpu");
        Assert.True(evalCode == 0, evalError);
        Assert.Contains($"accuracy {rows[^1].TestAccuracy:F4} on 200 mnist test images", evalOutput, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp"));
    }

    [Fact]
    public void TheSameCommandTwiceGivesTheSameMetrics()
    {
        string a = Path.Combine(SyntheticData.NewDirectory(), "a"), b = Path.Combine(SyntheticData.NewDirectory(), "b");
        Assert.Equal(0, Run(ShortRun(a, "--batch-norm", "--optimizer", "adam", "--lr", "1e-3")).Code);
        Assert.Equal(0, Run(ShortRun(b, "--batch-norm", "--optimizer", "adam", "--lr", "1e-3")).Code);
        static IEnumerable<string> WithoutTime(string dir) =>
            RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(dir, "metrics.csv"))).Select(r => $"{r.Step},{r.TrainLoss:R},{r.TestLoss:R},{r.TestAccuracy:R}");
        Assert.Equal(WithoutTime(a), WithoutTime(b));
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "model.safetensors")), File.ReadAllBytes(Path.Combine(b, "model.safetensors")));
        string c = Path.Combine(SyntheticData.NewDirectory(), "c");
        Assert.Equal(0, Run(ShortRun(c, "--batch-norm", "--optimizer", "adam", "--lr", "1e-3", "--seed", "43")).Code);
        Assert.NotEqual(WithoutTime(a), WithoutTime(c));
    }

    [Fact]
    public void NormalizeOverridesTheModelsDefaultPreprocessing()
    {
        string outDir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, _, error) = Run(ShortRun(outDir, "--hidden", "16", "--normalize", "standard"));
        Assert.True(code == 0, error);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")));
        Assert.Equal("standard", summary.RootElement.GetProperty("config").GetProperty("normalize").GetString());
        Assert.Equal(Normalization.Standard, ModelFile.Read(Path.Combine(outDir, "model.safetensors")).Info.Preprocessing.Normalization);
    }

    [Fact]
    public void TheDefaultModelLearnsOnTheEmbeddedData()
    {
        string outDir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, _, error) = Run("train", "--steps", "60", "--eval-every", "60", "--accelerator", "cpu", "--out", outDir);
        Assert.True(code == 0, error);
        var row = RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(outDir, "metrics.csv"))).Single();
        Assert.True(row.TestAccuracy > 0.6, $"test accuracy after 60 steps: {row.TestAccuracy}");
        Assert.True(row.TestLoss < Math.Log(10), $"test loss after 60 steps: {row.TestLoss}");
    }

    public static TheoryData<string[], int, string> BadCommands() => new()
    {
        { ["train", "--bogus"], Program.UsageError, "--bogus" },
        { ["train", "--lr", "-1"], Program.UsageError, "--lr" },
        { ["train", "--lr", "abc"], Program.UsageError, "abc" },
        { ["train", "--optimizer", "adam", "--momentum", "0.9"], Program.UsageError, "momentum" },
        { ["train", "--model", "vgg", "--batch-norm"], Program.UsageError, "always has BatchNorm" },
        { ["train", "--width", "0.5"], Program.UsageError, "--width applies to vgg" },
        { ["train", "--model", "vgg", "--hidden", "10"], Program.UsageError, "--hidden applies" },
        { ["train", "--model", "resnet"], Program.UsageError, "resnet" },
        { ["train", "--hidden", "10,x"], Program.UsageError, "--hidden" },
        { ["train", "--batch-size", "0"], Program.UsageError, "--batch-size" },
        { ["train", "--accelerator", "tpu"], Program.UsageError, "tpu" },
        { ["train", "--normalize", "zscore"], Program.UsageError, "'zscore' not recognized. Must be one of: 'none', 'standard'" },
        { ["train", "--dataset", "cifar10"], Program.Failure, "--data-dir" },
        { ["train", "--dataset", "mnist", "--data-dir", "/nonexistent/gpunet"], Program.Failure, "not found" },
        { ["eval"], Program.UsageError, "--checkpoint" },
        { ["eval", "--checkpoint", "/nonexistent/model.safetensors"], Program.Failure, "not found" },
    };

    [Theory]
    [MemberData(nameof(BadCommands))]
    public void BadInputIsOneLineAndANonZeroExitCode(string[] args, int expectedCode, string expectedText)
    {
        string outDir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, _, error) = Run([.. args, .. args[0] == "train" ? new[] { "--out", outDir } : []]);
        Assert.Equal(expectedCode, code);
        Assert.Contains(expectedText, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("gpunet: ", lines[0], StringComparison.Ordinal);
        Assert.All(lines[1..], line => Assert.StartsWith("Run 'gpunet --help'", line, StringComparison.Ordinal));
    }

    [Fact]
    public void AnExistingOutputDirectoryIsNeverOverwrittenWithoutForce()
    {
        string outDir = SyntheticData.NewDirectory();
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "mine");
        var (code, _, error) = Run(ShortRun(outDir));
        Assert.Equal(Program.Failure, code);
        Assert.Contains("--force", error, StringComparison.Ordinal);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(outDir, "keep.txt")));
        Assert.False(File.Exists(Path.Combine(outDir, "metrics.csv")));
    }

    [Fact]
    public void AnAbsentAcceleratorListsWhatIsPresent()
    {
        bool cudaPresent = GpuNet.Engine.DeviceSelector.List().Any(d => d.Kind == GpuNet.Engine.AcceleratorKind.Cuda);
        if (cudaPresent)
        {
            Assert.Skip("a CUDA device is present, so asking for one is not an error");
        }

        string outDir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, _, error) = Run("train", "--dataset", "mnist", "--data-dir", Mnist.Value, "--accelerator", "cuda", "--out", outDir);
        Assert.Equal(Program.Failure, code);
        Assert.Contains("No cuda accelerator is present; present:", error, StringComparison.Ordinal);
        Assert.Contains("cpu (", error, StringComparison.Ordinal);
    }
}

/// <summary>The VGG through the CLI: a narrow one trains, lowers the loss, and its model file evaluates the same.</summary>
public sealed class VggCliTests
{
    [Fact]
    public void ANarrowVggLowersTheLossAndItsCheckpointEvaluatesTheSame()
    {
        string data = SyntheticData.WriteMnistLike(400, 100);
        string outDir = Path.Combine(SyntheticData.NewDirectory(), "vgg");
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = Program.Run(
            ["train", "--model", "vgg", "--width", "0.0625", "--dataset", "mnist", "--data-dir", data, "--steps", "40", "--eval-every", "20",
             "--batch-size", "16", "--lr", "2e-3", "--accelerator", "cpu", "--out", outDir], output, error);
        Assert.True(code == 0, error.ToString());
        var rows = RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(outDir, "metrics.csv")));
        Assert.True(rows[^1].TrainLoss < rows[0].TrainLoss, $"training loss should fall: {rows[0].TrainLoss} -> {rows[^1].TrainLoss}");
        Assert.True(rows[^1].TrainLoss < Math.Log(10), $"training loss after 40 steps: {rows[^1].TrainLoss}");
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json"))))
        {
            Assert.Equal("standard", summary.RootElement.GetProperty("config").GetProperty("normalize").GetString());
        }

        Assert.Equal(Normalization.Standard, ModelFile.Read(Path.Combine(outDir, "model.safetensors")).Info.Preprocessing.Normalization);

        using var evalOutput = new StringWriter();
        Assert.Equal(0, Program.Run(["eval", "--checkpoint", Path.Combine(outDir, "model.safetensors"), "--data-dir", data, "--batch-size", "16", "--accelerator", "cpu"], evalOutput, error));
        Assert.Contains($"accuracy {rows[^1].TestAccuracy:F4}", evalOutput.ToString(), StringComparison.Ordinal);
    }
}
