using System.Globalization;
using System.Text.Json;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Cli;

/// <summary>--val-split, --keep best and --early-stop end to end on a small data set the tests write, on the CPU accelerator.</summary>
public sealed class ValidationCliTests
{
    private static readonly Lazy<string> Mnist = new(() => SyntheticData.WriteMnistLike(600, 200, seed: 21));

    private static string[] ShortRun(string outDir, params string[] extra) =>
    [
        "train", "--dataset", "mnist", "--data-dir", Mnist.Value, "--hidden", "16", "--batch-size", "50", "--accelerator", "cpu", "--out", outDir, .. extra,
    ];

    private static JsonElement Summary(string dir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, RunFiles.SummaryFile))).RootElement;

    [Fact]
    public void ValidationColumnsAndTheBestModelThatEvalReloads()
    {
        string dir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, output, error) = Support.Cli.Run(ShortRun(dir, "--steps", "60", "--eval-every", "10", "--val-split", "0.2", "--keep", "best"));
        Assert.True(code == 0, error);

        string csv = File.ReadAllText(Path.Combine(dir, RunFiles.MetricsFile));
        Assert.StartsWith(RunFiles.MetricsHeaderWithValidation + "\n", csv, StringComparison.Ordinal);
        var rows = RunFiles.ParseMetrics(csv);
        Assert.All(rows, r => Assert.InRange(r.ValAccuracy, 0, 1));
        Assert.All(rows, r => Assert.True(r.ValLoss > 0));
        Assert.Contains(rows, r => r.ValAccuracy != r.TestAccuracy);
        Assert.Equal(120, Summary(dir).GetProperty("validation_images").GetInt32());

        // The best step is the first evaluation with the highest validation accuracy, and best.safetensors holds it:
        // eval of that file gives the test accuracy recorded for that step.
        var summary = Summary(dir);
        var best = rows.First(r => r.ValAccuracy == rows.Max(x => x.ValAccuracy));
        Assert.Equal(best.Step, summary.GetProperty("best_step").GetInt32());
        Assert.Equal("val_accuracy", summary.GetProperty("best_step_metric").GetString());
        Assert.Equal(best.TestAccuracy, summary.GetProperty("best_step_test_accuracy").GetDouble());
        Assert.Contains($"best: best.safetensors holds step {best.Step}", output, StringComparison.Ordinal);
        (code, output, error) = Support.Cli.Run("eval", "--checkpoint", Path.Combine(dir, RunFiles.BestModelFile), "--dataset", "mnist", "--data-dir", Mnist.Value, "--accelerator", "cpu");
        Assert.True(code == 0, error);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"accuracy {best.TestAccuracy:F4} on 200 mnist test images"), output, StringComparison.Ordinal);
    }

    [Fact]
    public void EarlyStopEndsAfterEvaluationsWithoutImprovementAndResumeHasNothingLeft()
    {
        // A learning rate of 1e-12 leaves the weights (and so every accuracy) as they were: no evaluation improves on the first.
        string dir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, output, error) = Support.Cli.Run(ShortRun(dir, "--steps", "100", "--eval-every", "5", "--lr", "1e-12", "--early-stop", "2"));
        Assert.True(code == 0, error);
        Assert.Contains("stopped early at step 15: no better test accuracy in 2 evaluations", output, StringComparison.Ordinal);
        Assert.Equal([5, 10, 15], RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(dir, RunFiles.MetricsFile))).Select(r => r.Step));
        var summary = Summary(dir);
        Assert.Equal(15, summary.GetProperty("stopped_early_at").GetInt32());
        Assert.Equal(5, summary.GetProperty("best_step").GetInt32());
        Assert.Equal(15, Checkpoint.Read(Path.Combine(dir, Checkpoint.FileName)).State.StoppedEarlyAt);
        Assert.True(File.Exists(Path.Combine(dir, RunFiles.ModelFile)));
        Assert.False(File.Exists(Path.Combine(dir, RunFiles.BestModelFile)));

        (code, output, error) = Support.Cli.Run("train", "--resume", dir, "--accelerator", "cpu");
        Assert.True(code == 0, error);
        Assert.Contains("--early-stop ended the run at step 15; nothing to resume", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--val-split", "1", "--val-split must be in [0, 1)")]
    [InlineData("--val-split", "0.9999", "leaves no training images")]
    [InlineData("--early-stop", "-1", "--early-stop must be zero or positive")]
    [InlineData("--keep", "worst", "worst")]
    public void BadValuesEndWithOneLineAndExit2(string option, string value, string message)
    {
        string dir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, _, error) = Support.Cli.Run(ShortRun(dir, "--steps", "10", option, value));
        Assert.Equal(GpuNet.Cli.Program.UsageError, code);
        string first = error.Split('\n')[0];
        Assert.Contains(message, first, StringComparison.Ordinal);
        Assert.StartsWith("gpunet: ", first, StringComparison.Ordinal);
        Assert.DoesNotContain(" at GpuNet.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSplitIsFixedDisjointAndWhole()
    {
        var labels = Enumerable.Range(0, 50).ToArray();
        var split = new DataSplit([.. labels.SelectMany(i => new[] { (byte)i, (byte)(i + 100) })], labels);
        var (train, validation) = split.SplitOff(0.2);
        Assert.Equal(10, validation.Count);
        Assert.Equal(40, train.Count);
        Assert.Equal(labels, train.Labels.Concat(validation.Labels).Order());
        Assert.Equal(train.Labels.Order(), train.Labels);
        Assert.NotEqual(Enumerable.Range(40, 10), validation.Labels.Order());
        Assert.All(train.Labels.Select((label, row) => (label, row)), p => Assert.Equal([(byte)p.label, (byte)(p.label + 100)], train.Pixels.AsSpan(p.row * 2, 2).ToArray()));
        Assert.Equal(validation.Labels, split.SplitOff(0.2).Validation.Labels);
        Assert.Throws<GpuNet.Engine.ConfigurationException>(() => split.SplitOff(0.999));
    }
}
