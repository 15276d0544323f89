using System.Buffers.Binary;
using GpuNet.Cli;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Cli;

public sealed class PictureTests
{
    private static (int Width, int Height) PngSize(byte[] png)
    {
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    private static (int Code, string Output, string Error) Run(params string[] args) => Support.Cli.Run(args);

    [Fact]
    public void VersionNamesGpuNetAndIlgpu()
    {
        var (code, output, _) = Run("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^gpunet \d+\.\d+\.\d+ \(ILGPU 1\.5\.3, \.NET \d+", output);
    }

    [Fact]
    public void RunsDifferingInScheduleAndRegularizersAreNamedByThem()
    {
        string data = SyntheticData.WriteMnistLike(100, 20, seed: 22);
        string[] common = ["train", "--model", "mlp-deep", "--hidden", "8", "--dataset", "mnist", "--data-dir", data, "--batch-size", "20", "--steps", "4", "--eval-every", "4", "--accelerator", "cpu"];
        string plain = Path.Combine(SyntheticData.NewDirectory(), "a"), tuned = Path.Combine(SyntheticData.NewDirectory(), "b");
        Assert.Equal(0, Run([.. common, "--out", plain]).Code);
        Assert.Equal(0, Run([.. common, "--lr-schedule", "cosine", "--dropout", "0.2", "--augment", "flip", "--label-smoothing", "0.1", "--out", tuned]).Code);
        var names = Pictures.NameByDifferences([RunRecord.Read(plain), RunRecord.Read(tuned)]).Select(r => r.Name).ToList();
        Assert.Equal(["mlp-deep, lr 2e-4", "mlp-deep, lr 2e-4, cosine, flip, dropout 0.2, smoothing 0.1"], names);

        // Identical settings would give identical names: the directory tells them apart.
        string again = Path.Combine(SyntheticData.NewDirectory(), "c");
        Assert.Equal(0, Run([.. common, "--out", again]).Code);
        var twins = Pictures.NameByDifferences([RunRecord.Read(plain), RunRecord.Read(again)]).Select(r => r.Name).ToList();
        Assert.Equal(["mlp-deep, lr 2e-4 (a)", "mlp-deep, lr 2e-4 (c)"], twins);
    }

    [Fact]
    public void DataPreviewDrawsTheAskedGridWithClassNames()
    {
        string dir = SyntheticData.WriteCifarLike(6, 2);
        var data = DataSets.Load(DatasetKind.Cifar10, dir);
        var (png, labels) = Pictures.PreviewGrid(data, 7, 3, seed: 2);
        Assert.Equal(7, labels.Count);
        Assert.Equal((3 * Pictures.Cell, 3 * (Pictures.Cell + Pictures.Caption)), PngSize(png));

        string outFile = Path.Combine(SyntheticData.NewDirectory(), "grid.png");
        var (code, output, error) = Run("data", "preview", "--dataset", "cifar10", "--data-dir", dir, "--count", "12", "--columns", "4", "--out", outFile);
        Assert.True(code == 0, error);
        Assert.Equal((4 * Pictures.Cell, 3 * (Pictures.Cell + Pictures.Caption)), PngSize(File.ReadAllBytes(outFile)));
        Assert.Contains("12 cifar10 training images", output, StringComparison.Ordinal);
        Assert.Equal(Program.UsageError, Run("data", "preview", "--count", "0", "--out", outFile).Code);

        // Augmented samples: the same images, transformed as training would.
        string augmented = Path.Combine(SyntheticData.NewDirectory(), "augmented.png");
        var (augCode, augOutput, augError) = Run("data", "preview", "--dataset", "cifar10", "--data-dir", dir, "--count", "12", "--columns", "4", "--out", augmented, "--augment", "flip,crop");
        Assert.True(augCode == 0, augError);
        Assert.Contains("augmented (flip,crop)", augOutput, StringComparison.Ordinal);
        Assert.Equal(PngSize(File.ReadAllBytes(outFile)), PngSize(File.ReadAllBytes(augmented)));
        Assert.NotEqual(File.ReadAllBytes(outFile), File.ReadAllBytes(augmented));
        Assert.Equal(Program.UsageError, Run("data", "preview", "--augment", "rotate", "--out", augmented).Code);
    }

    [Fact]
    public void CompareOverlaysEveryRunAndTabulatesThem()
    {
        string data = SyntheticData.WriteMnistLike(200, 50, seed: 21);
        var dirs = new List<string>();
        foreach (var (name, extra) in new[] { ("sgd", Array.Empty<string>()), ("adam", new[] { "--optimizer", "adam", "--lr", "1e-3", "--val-split", "0.2", "--keep", "best" }) })
        {
            string dir = Path.Combine(SyntheticData.NewDirectory(), name);
            var (trainCode, _, trainError) = Run(["train", "--dataset", "mnist", "--data-dir", data, "--hidden", "8", "--batch-size", "20", "--steps", "10", "--eval-every", "5", "--accelerator", "cpu", "--out", dir, .. extra]);
            Assert.True(trainCode == 0, trainError);
            dirs.Add(dir);
        }

        var records = dirs.Select(RunRecord.Read).ToList();
        var (png, legend) = Pictures.CompareRuns(records, 800, 500);
        Assert.Equal((800, 500), PngSize(png));
        Assert.Equal(["sgd: test accuracy", "sgd: training loss", "adam: test accuracy", "adam: training loss", "adam: validation accuracy"], legend);

        string outFile = Path.Combine(SyntheticData.NewDirectory(), "compare.png");
        var (code, output, error) = Run(["compare", .. dirs, "--out", outFile]);
        Assert.True(code == 0, error);
        Assert.True(File.Exists(outFile));
        var table = File.ReadAllText(Path.ChangeExtension(outFile, ".md")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, table.Length);
        // Runs are named by their model, learning rate and the settings in which they differ.
        Assert.StartsWith("| mlp, lr 2e-3 | mlp | mnist | sgd |", table[2], StringComparison.Ordinal);
        Assert.StartsWith("| mlp, lr 1e-3, adam, val split 0.2 | mlp | mnist | adam | 0.001 |", table[3], StringComparison.Ordinal);
        Assert.Contains("| run | model |", output, StringComparison.Ordinal);
        Assert.Equal(["mlp, lr 2e-3", "mlp, lr 1e-3, adam, val split 0.2"], Pictures.NameByDifferences(records).Select(r => r.Name));

        var (labelCode, labelOutput, labelError) = Run(["compare", .. dirs, "--out", outFile, "--labels", "plain, tuned"]);
        Assert.True(labelCode == 0, labelError);
        Assert.Contains("| plain | mlp |", labelOutput, StringComparison.Ordinal);
        Assert.Contains("| tuned | mlp |", labelOutput, StringComparison.Ordinal);
        var (wrongCode, _, wrongError) = Run(["compare", .. dirs, "--out", outFile, "--labels", "only-one"]);
        Assert.Equal(Program.UsageError, wrongCode);
        Assert.Contains("1 names for 2 runs", wrongError, StringComparison.Ordinal);

        var (badCode, _, badError) = Run("compare", SyntheticData.NewDirectory());
        Assert.Equal(Program.Failure, badCode);
        Assert.Contains("not a run directory", badError, StringComparison.Ordinal);
    }
}
