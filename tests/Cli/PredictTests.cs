using System.Text.Json;
using GpuNet.Cli;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;
using SkiaSharp;

namespace GpuNet.Tests.Cli;

/// <summary>gpunet data export-images and gpunet predict: the round trip from test images to predictions, bad images, polarity.</summary>
public sealed class PredictTests
{
    /// <summary>The default MLP (its architecture and settings) trained for 300 steps on the embedded Fashion-MNIST.</summary>
    private static readonly Lazy<string> DefaultMlp = new(() =>
    {
        string dir = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, _, error) = Support.Cli.Run("train", "--steps", "300", "--eval-every", "300", "--accelerator", "cpu", "--out", dir);
        Assert.True(code == 0, error);
        return Path.Combine(dir, "model.safetensors");
    });

    private static readonly Lazy<Dataset> Fashion = new(() => DataSets.Load(DatasetKind.FashionMnist, null));

    private static JsonElement[] PredictJson(params string[] files)
    {
        var (code, output, error) = Support.Cli.Run(["predict", "--json", "--checkpoint", DefaultMlp.Value, "--accelerator", "cpu", .. files]);
        Assert.True(code == 0, error);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToArray();
    }

    [Fact]
    public void ExportedTestImagesArePredictedAsEvalPredictsThem()
    {
        const int count = 200;
        string images = Path.Combine(SyntheticData.NewDirectory(), "images");
        var (code, output, error) = Support.Cli.Run("data", "export-images", "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", images);
        Assert.True(code == 0, error);
        Assert.Contains($"{count} fashion-mnist test images", output, StringComparison.Ordinal);
        var files = Directory.GetFiles(images).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(count, files.Length);
        var data = Fashion.Value;
        for (int i = 0; i < count; i++)
        {
            int label = data.Test.Labels[i];
            Assert.Equal(Pictures.ExportName(i, label, data.ClassNames[label]), Path.GetFileName(files[i]));
        }

        Assert.Equal("00000_label9_Ankle-boot.png", Path.GetFileName(files[0]));

        // The PNG holds the test image's exact bytes.
        var (pixels, inverted) = ImageFiles.Load(files[5], 1, 28, 28, InvertMode.Auto, lightOnDark: true);
        Assert.False(inverted);
        Assert.Equal(data.Test.Pixels.AsSpan(5 * 784, 784).ToArray(), pixels);

        // predict's classes are the argmax of the model's own forward pass over the same test images.
        var lines = PredictJson(files);
        Assert.Equal(count, lines.Length);
        var predicted = lines.Select(l => l.GetProperty("top")[0].GetProperty("index").GetInt32()).ToArray();
        Assert.All(lines, l => Assert.Equal(3, l.GetProperty("top").GetArrayLength()));
        Assert.Equal(files, lines.Select(l => l.GetProperty("file").GetString()));
        var (info, tensors) = ModelFile.Read(DefaultMlp.Value);
        using var device = Device.Open(AcceleratorKind.Cpu);
        var probabilities = Evaluation.Predict(device, info, tensors, DefaultMlp.Value, data.Test.Pixels[..(count * 784)], count);
        var expected = Enumerable.Range(0, count).Select(n => Enumerable.Range(0, 10).MaxBy(j => probabilities[(n * 10) + j])).ToArray();
        Assert.Equal(expected, predicted);

        // And gpunet eval on exactly those 200 images counts the same correct predictions.
        int correct = predicted.Where((p, i) => p == data.Test.Labels[i]).Count();
        string subset = SyntheticData.NewDirectory();
        // The training files as the embedded folder holds them: gzipped in the repository, plain in pack.sh's archive.
        foreach (var file in Directory.GetFiles(DataSets.EmbeddedFashionMnist, "train-*-ubyte*"))
        {
            File.Copy(file, Path.Combine(subset, Path.GetFileName(file)));
        }

        File.WriteAllBytes(Path.Combine(subset, "t10k-images-idx3-ubyte"), SyntheticData.IdxImages(Enumerable.Range(0, count).Select(n => data.Test.Pixels[(n * 784)..((n + 1) * 784)]).ToArray(), 28, 28));
        File.WriteAllBytes(Path.Combine(subset, "t10k-labels-idx1-ubyte"), SyntheticData.IdxLabels(data.Test.Labels[..count]));
        var (evalCode, evalOutput, evalError) = Support.Cli.Run("eval", "--checkpoint", DefaultMlp.Value, "--dataset", "fashion-mnist", "--data-dir", subset, "--accelerator", "cpu");
        Assert.True(evalCode == 0, evalError);
        Assert.Contains(FormattableString.Invariant($"accuracy {correct / (double)count:F4} on {count} fashion-mnist test images"), evalOutput, StringComparison.Ordinal);
        Assert.True(correct >= 0.8 * count, $"{correct} of {count} correct");

        // The probabilities of the top classes are sorted and sum to at most 1.
        foreach (var line in lines)
        {
            var p = line.GetProperty("top").EnumerateArray().Select(t => t.GetProperty("probability").GetDouble()).ToArray();
            Assert.True(p[0] >= p[1] && p[1] >= p[2] && p.Sum() <= 1.0001, line.ToString());
        }
    }

    [Fact]
    public void ABadImageIsOneLineNamingItAndTheOthersAreStillPredicted()
    {
        string dir = SyntheticData.NewDirectory();
        string good = Path.Combine(dir, "good.png"), text = Path.Combine(dir, "notes.png"), missing = Path.Combine(dir, "missing.jpg");
        ImageFiles.WritePng(good, Fashion.Value.Test.Pixels.AsSpan(0, 784), 1, 28, 28);
        File.WriteAllText(text, "not an image");
        var (code, output, error) = Support.Cli.Run("predict", "--checkpoint", DefaultMlp.Value, "--accelerator", "cpu", good, text, missing);
        Assert.Equal(Program.Failure, code);
        var errors = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, errors.Length);
        Assert.StartsWith($"gpunet: {text}: not a PNG or JPEG", errors[0], StringComparison.Ordinal);
        Assert.StartsWith($"gpunet: {missing}: file not found", errors[1], StringComparison.Ordinal);
        Assert.StartsWith($"{good}: ", output, StringComparison.Ordinal);
        Assert.Matches(@"^\S+: [^,]+ \d\.\d{3}, [^,]+ \d\.\d{3}, [^,]+ \d\.\d{3}\n$", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ADarkObjectOnWhitePaperIsInvertedAndAJpegOfAnotherSizeIsResized()
    {
        string dir = SyntheticData.NewDirectory();
        var original = Fashion.Value.Test.Pixels.AsSpan(784, 784).ToArray();
        string plain = Path.Combine(dir, "plain.png"), paper = Path.Combine(dir, "paper.png"), large = Path.Combine(dir, "large.jpg");
        ImageFiles.WritePng(plain, original, 1, 28, 28);
        ImageFiles.WritePng(paper, original.Select(v => (byte)(255 - v)).ToArray(), 1, 28, 28);
        using (var bitmap = new SKBitmap(84, 84))
        {
            for (int y = 0; y < 84; y++)
            {
                for (int x = 0; x < 84; x++)
                {
                    byte v = original[((y / 3) * 28) + (x / 3)];
                    bitmap.SetPixel(x, y, new SKColor(v, v, v));
                }
            }

            using var jpeg = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
            File.WriteAllBytes(large, jpeg.ToArray());
        }

        var (restored, inverted) = ImageFiles.Load(paper, 1, 28, 28, InvertMode.Auto, lightOnDark: true);
        Assert.True(inverted);
        Assert.Equal(original, restored);
        Assert.False(ImageFiles.Load(paper, 1, 28, 28, InvertMode.No, lightOnDark: true).Inverted);
        Assert.False(ImageFiles.Load(paper, 1, 28, 28, InvertMode.Auto, lightOnDark: false).Inverted);
        var (resized, _) = ImageFiles.Load(large, 1, 28, 28, InvertMode.No, lightOnDark: true);
        Assert.True(resized.Zip(original).Average(p => Math.Abs(p.First - p.Second)) < 12, "the resized JPEG is far from the original");

        var lines = PredictJson(plain, paper, large);
        int Top(JsonElement line) => line.GetProperty("top")[0].GetProperty("index").GetInt32();
        Assert.Equal(Top(lines[0]), Top(lines[1]));
        Assert.Equal(Top(lines[0]), Top(lines[2]));
        var (noInvertCode, noInvert, _) = Support.Cli.Run("predict", "--json", "--invert", "no", "--checkpoint", DefaultMlp.Value, "--accelerator", "cpu", paper);
        Assert.Equal(0, noInvertCode);
        Assert.NotEqual(lines[1].GetProperty("top").ToString(), JsonDocument.Parse(noInvert).RootElement.GetProperty("top").ToString());
    }
}
