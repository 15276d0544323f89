using System.Globalization;
using System.Text.Json;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Cli;

/// <summary>gpunet train, eval and predict on an image folder, on the CPU accelerator.</summary>
public sealed class FolderCliTests
{
    /// <summary>train/ and test/ of three classes, each image a class's bright block (SyntheticData's) as a gray PNG.</summary>
    private static string Folder(bool withTest)
    {
        string dir = SyntheticData.NewDirectory();
        var random = new Random(5);
        string[] classes = ["circle", "square", "triangle"];
        foreach (var (split, count) in withTest ? new[] { ("train", 60), ("test", 15) } : [("train", 60)])
        {
            for (int i = 0; i < count; i++)
            {
                int label = i % 3;
                string folder = Path.Combine(dir, split, classes[label]);
                Directory.CreateDirectory(folder);
                ImageFiles.WritePng(Path.Combine(folder, $"{i:D3}.png"), SyntheticData.Image(random, label, 1, 12), 1, 12, 12);
            }
        }

        return dir;
    }

    [Fact]
    public void AFolderTrainsAndItsClassNamesReachEvalAndPredict()
    {
        string data = Folder(withTest: true), run = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, output, error) = Support.Cli.Run(
            "train", "--dataset", "folder", "--data-dir", data, "--hidden", "16", "--batch-size", "20", "--steps", "60", "--eval-every", "30", "--accelerator", "cpu", "--out", run);
        Assert.True(code == 0, error);
        Assert.Contains($"image folder {data}: 60 training and 15 test images of (1, 12, 12), 3 classes (circle, square, triangle)", output, StringComparison.Ordinal);
        var last = RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(run, RunFiles.MetricsFile)))[^1];
        Assert.True(last.TestAccuracy > 0.5, $"accuracy {last.TestAccuracy}");
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, RunFiles.SummaryFile))))
        {
            Assert.Equal("folder", summary.RootElement.GetProperty("dataset").GetString());
            Assert.Equal(["circle", "square", "triangle"], summary.RootElement.GetProperty("class_names").EnumerateArray().Select(e => e.GetString()));
        }

        (code, output, error) = Support.Cli.Run("eval", "--checkpoint", Path.Combine(run, RunFiles.ModelFile), "--data-dir", data, "--per-class", "--accelerator", "cpu");
        Assert.True(code == 0, error);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"accuracy {last.TestAccuracy:F4} on 15 folder test images"), output, StringComparison.Ordinal);
        var perClass = output.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal)).ToList();
        Assert.Equal(["circle", "square", "triangle"], perClass.Select(l => l.Trim().Split(':')[0]));
        Assert.All(perClass, l => Assert.EndsWith(" of 5", l, StringComparison.Ordinal));
        double mean = perClass.Average(l => double.Parse(l.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture));
        Assert.Equal(last.TestAccuracy, mean, 3);

        var images = Directory.GetFiles(Path.Combine(data, "test"), "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        (code, output, error) = Support.Cli.Run(["predict", "--checkpoint", Path.Combine(run, RunFiles.ModelFile), "--json", "--accelerator", "cpu", .. images]);
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(images.Length, lines.Length);
        int right = lines.Count(line =>
        {
            using var prediction = JsonDocument.Parse(line);
            string file = prediction.RootElement.GetProperty("file").GetString()!;
            return prediction.RootElement.GetProperty("top")[0].GetProperty("class").GetString() == Path.GetFileName(Path.GetDirectoryName(file));
        });
        Assert.Equal((int)Math.Round(last.TestAccuracy * images.Length), right);
    }

    [Fact]
    public void AFolderWithoutTestNeedsAValidationSplitWhichIsThenTheTestSet()
    {
        string data = Folder(withTest: false);
        string[] Args(string run, params string[] extra) =>
            ["train", "--dataset", "folder", "--data-dir", data, "--hidden", "8", "--batch-size", "20", "--steps", "10", "--eval-every", "10", "--accelerator", "cpu", "--out", run, .. extra];
        var (code, _, error) = Support.Cli.Run(Args(Path.Combine(SyntheticData.NewDirectory(), "run")));
        Assert.Equal(GpuNet.Cli.Program.UsageError, code);
        Assert.Contains("no test images (an image folder without test/): pass --val-split F", error, StringComparison.Ordinal);

        string run = Path.Combine(SyntheticData.NewDirectory(), "run");
        (code, _, error) = Support.Cli.Run(Args(run, "--val-split", "0.25"));
        Assert.True(code == 0, error);
        var row = RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(run, RunFiles.MetricsFile)))[^1];
        Assert.Equal(row.ValAccuracy, row.TestAccuracy);
    }

    [Theory]
    [InlineData("--channels", "3", "--channels and --image-size apply to --dataset folder")]
    [InlineData("--image-size", "32x32", "--channels and --image-size apply to --dataset folder")]
    public void FolderOptionsElsewhereAreUsageErrors(string option, string value, string message)
    {
        var (code, _, error) = Support.Cli.Run("train", "--steps", "1", option, value, "--out", Path.Combine(SyntheticData.NewDirectory(), "run"));
        Assert.Equal(GpuNet.Cli.Program.UsageError, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void BadImageSizeAndAMissingDataDirAreUsageErrors()
    {
        var (code, _, error) = Support.Cli.Run("train", "--dataset", "folder", "--data-dir", Folder(withTest: true), "--image-size", "32y32", "--steps", "1");
        Assert.Equal(GpuNet.Cli.Program.UsageError, code);
        Assert.Contains("--image-size must be HxW", error, StringComparison.Ordinal);
        (code, _, error) = Support.Cli.Run("train", "--dataset", "folder", "--steps", "1");
        Assert.Equal(GpuNet.Cli.Program.UsageError, code);
        Assert.Contains("--dataset folder needs --data-dir", error, StringComparison.Ordinal);
    }
}
