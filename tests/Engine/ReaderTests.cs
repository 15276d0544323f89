using System.Buffers.Binary;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Engine;

public sealed class ReaderTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IdxDataSetsRoundTripGzippedOrNot(bool gzip)
    {
        string dir = SyntheticData.WriteMnistLike(30, 20, gzip);
        var data = DataSets.Load(DatasetKind.Mnist, dir);
        Assert.Equal(new GpuNet.Kernels.Shape(1, 28, 28), data.SampleShape);
        Assert.Equal(30, data.Train.Count);
        Assert.Equal(20, data.Test.Count);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => i % 10), data.Train.Labels);
        var again = SyntheticData.Image(new Random(7), 0, 1, 28);
        Assert.Equal(again, data.Train.Pixels.AsSpan(0, 784).ToArray());
    }

    [Fact]
    public void Cifar10BatchesAreReadAsLabelAndRgbPlanes()
    {
        string dir = SyntheticData.WriteCifarLike(4, 3);
        var data = DataSets.Load(DatasetKind.Cifar10, dir);
        Assert.Equal(new GpuNet.Kernels.Shape(3, 32, 32), data.SampleShape);
        Assert.Equal(20, data.Train.Count);
        Assert.Equal(3, data.Test.Count);
        Assert.Equal([1, 2, 3, 4], data.Train.Labels.Take(4));
        Assert.Equal(SyntheticData.Image(new Random(8), 1, 3, 32), data.Train.Pixels.AsSpan(0, 3072).ToArray());
        Assert.Equal("airplane", data.ClassNames[0]);
    }

    [Fact]
    public void EmbeddedFashionMnistLoads()
    {
        var data = DataSets.Load(DatasetKind.FashionMnist, null);
        Assert.Equal(60_000, data.Train.Count);
        Assert.Equal(10_000, data.Test.Count);
        Assert.Equal(10, data.Classes);
        Assert.All(data.Test.Labels, l => Assert.InRange(l, 0, 9));
    }

    public static TheoryData<string, string, string> BadIdxFiles()
    {
        var images = SyntheticData.IdxImages([new byte[784], new byte[784]], 28, 28);
        var labels = SyntheticData.IdxLabels([1, 2]);
        var noisy = SyntheticData.IdxImages([SyntheticData.Image(new Random(1), 3, 1, 28), SyntheticData.Image(new Random(2), 4, 1, 28)], 28, 28);
        byte[] With(byte[] source, int offset, int value)
        {
            var copy = (byte[])source.Clone();
            BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(offset), value);
            return copy;
        }

        return new TheoryData<string, string, string>
        {
            { "wrong magic", Convert.ToBase64String(With(images, 0, 0x12345678)), "wrong magic" },
            { "wrong element type", Convert.ToBase64String(With(images, 0, 0x00000D03)), "element type" },
            { "wrong rank", Convert.ToBase64String(With(images, 0, 0x00000802)), "dimensions" },
            { "truncated header", Convert.ToBase64String(images[..10]), "truncated" },
            { "truncated pixels", Convert.ToBase64String(images[..^5]), "header says 2 images of 28 x 28 (1584 bytes) but the file has 1579 bytes" },
            { "trailing bytes", Convert.ToBase64String([.. images, 1, 2]), "header says 2 images of 28 x 28 (1584 bytes) but the file has 1586 bytes" },
            { "overflowing dimensions", Convert.ToBase64String(With(With(images, 4, int.MaxValue), 8, int.MaxValue)), "too large" },
            { "negative dimension", Convert.ToBase64String(With(images, 4, -1)), "overflows" },
            { "truncated gzip", Convert.ToBase64String(SyntheticData.Gzip(noisy)[..^30]), "truncated: the header announces 2 images of 28 x 28 (1568 bytes after it) but only " },
            { "gzip of short data", Convert.ToBase64String(SyntheticData.Gzip(images[..^5])), "truncated" },
            { "not gzip", Convert.ToBase64String(labels), "not gzip" },
        };
    }

    [Theory]
    [MemberData(nameof(BadIdxFiles))]
    public void MalformedIdxImagesAreRejectedNamingTheFile(string what, string base64, string expected)
    {
        string dir = SyntheticData.NewDirectory();
        string path = Path.Combine(dir, what.Contains("gzip", StringComparison.Ordinal) ? "images.gz" : "images");
        File.WriteAllBytes(path, Convert.FromBase64String(base64));
        var error = Assert.Throws<DataException>(() => Readers.ReadIdxImages(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    /// <summary>An IDX image header announcing count x rows x cols, then <paramref name="pixels"/> bytes of data, gzipped.</summary>
    private static byte[] GzipAnnouncing(int count, int rows, int cols, int pixels)
    {
        var file = new byte[16 + pixels];
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(0), 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(12), cols);
        new Random(3).NextBytes(file.AsSpan(16));
        return SyntheticData.Gzip(file);
    }

    /// <summary>
    /// Gzip files whose header announces more than they hold: 2^31 bytes of pixels from about 50 bytes (past the
    /// largest buffer a reader allocates), 65 MB from about 50 bytes (past what deflate can produce from them), and
    /// 1000 images where 2 are (within deflate's reach, so only reading finds the end), each with the sizes the
    /// message must name.
    /// </summary>
    public static TheoryData<string, string[]> LyingGzipFiles()
    {
        var small = GzipAnnouncing(32768, 256, 256, 24);
        var ratio = GzipAnnouncing(1000, 256, 256, 24);
        var shortData = GzipAnnouncing(1000, 28, 28, 2 * 784);
        return new TheoryData<string, string[]>
        {
            { Convert.ToBase64String(small), ["32768 x 256 x 256", "2147483648 bytes", $"{Readers.MaxPixelBytes} bytes"] },
            { Convert.ToBase64String(ratio), ["65536016 bytes", $"{ratio.Length} bytes of gzip data", $"{ratio.Length * Readers.MaxDeflateRatio} bytes"] },
            { Convert.ToBase64String(shortData), ["truncated", "1000 images of 28 x 28", "784000 bytes", "only 1568 bytes"] },
        };
    }

    [Theory]
    [MemberData(nameof(LyingGzipFiles))]
    public void AGzipAnnouncingMoreThanItHoldsIsADataErrorNamingTheSizes(string base64, string[] expected)
    {
        var bytes = Convert.FromBase64String(base64);
        Assert.True(bytes.Length <= 64 || expected[0] == "truncated", $"{bytes.Length} bytes of gzip");
        string dir = SyntheticData.WriteMnistLike(10, 10);
        string path = Path.Combine(dir, "train-images-idx3-ubyte.gz");
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<DataException>(() => Readers.ReadIdxImages(path));
        Assert.DoesNotContain('\n', error.Message);
        Assert.All(expected.Prepend(path), e => Assert.Contains(e, error.Message, StringComparison.Ordinal));

        var (code, _, stderr) = Support.Cli.Run("train", "--dataset", "mnist", "--data-dir", dir, "--steps", "1", "--accelerator", "cpu", "--out", Path.Combine(dir, "run"));
        Assert.Equal(GpuNet.Cli.Program.Failure, code);
        Assert.Equal($"gpunet: {error.Message}{Environment.NewLine}", stderr);
    }

    [Fact]
    public void AGzipAnnouncingTenMillionLabelsFromAFewBytesIsRejectedBeforeReading()
    {
        var file = new byte[8 + 30];
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(0), 0x00000801);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4), Readers.MaxSamples);
        var gzip = SyntheticData.Gzip(file);
        string path = Path.Combine(SyntheticData.NewDirectory(), "labels.gz");
        File.WriteAllBytes(path, gzip);
        var error = Assert.Throws<DataException>(() => Readers.ReadIdxLabels(path, 10));
        Assert.Contains($"{Readers.MaxSamples} labels ({Readers.MaxSamples + 8} bytes) but {gzip.Length} bytes of gzip data", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLargestPixelBufferFitsADotNetArray() => Assert.True((long)Array.MaxLength >= Readers.MaxPixelBytes);

    [Fact]
    public void LabelsOutsideTheClassesAreRejected()
    {
        string path = Path.Combine(SyntheticData.NewDirectory(), "labels");
        File.WriteAllBytes(path, SyntheticData.IdxLabels([1, 2, 10]));
        var error = Assert.Throws<DataException>(() => Readers.ReadIdxLabels(path, 10));
        Assert.Contains("label 2 is 10", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MismatchedLabelCountIsRejected()
    {
        string dir = SyntheticData.WriteMnistLike(30, 20);
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte.gz"), SyntheticData.Gzip(SyntheticData.IdxLabels(new int[29])));
        var error = Assert.Throws<DataException>(() => DataSets.Load(DatasetKind.Mnist, dir));
        Assert.Contains("30 training images but 29 training labels", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFilesAndDirectoriesAreRejected()
    {
        string dir = SyntheticData.WriteMnistLike(10, 10);
        File.Delete(Path.Combine(dir, "t10k-images-idx3-ubyte.gz"));
        Assert.Contains("t10k-images-idx3-ubyte.gz: file not found", Assert.Throws<DataException>(() => DataSets.Load(DatasetKind.Mnist, dir)).Message, StringComparison.Ordinal);
        Assert.Contains("not found", Assert.Throws<DataException>(() => DataSets.Load(DatasetKind.Mnist, Path.Combine(dir, "nope"))).Message, StringComparison.Ordinal);
        Assert.Contains("--data-dir", Assert.Throws<DataException>(() => DataSets.Load(DatasetKind.Cifar10, null)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedCifarBatchesAreRejected()
    {
        string dir = SyntheticData.WriteCifarLike(2, 2);
        string batch = Path.Combine(dir, "data_batch_3.bin");
        var bytes = File.ReadAllBytes(batch);
        File.WriteAllBytes(batch, bytes[..^100]);
        Assert.Contains("not a whole number", Assert.Throws<DataException>(() => DataSets.Load(DatasetKind.Cifar10, dir)).Message, StringComparison.Ordinal);
        bytes[0] = 11;
        File.WriteAllBytes(batch, bytes);
        Assert.Contains("label 11", Assert.Throws<DataException>(() => DataSets.Load(DatasetKind.Cifar10, dir)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PreprocessingSubtractsTheMeanImageOrStandardizesPerChannel()
    {
        var split = new DataSplit([0, 10, 20, 30, 4, 10, 40, 50], [0, 1]);
        var shape = new GpuNet.Kernels.Shape(2, 1, 2);
        var none = Preprocessing.FromTraining(split, shape, Normalization.None);
        Assert.Equal([2f, 10f, 30f, 40f], none.Mean);
        Assert.Equal([1f, 1f], none.InvStd);
        var standard = Preprocessing.FromTraining(split, shape, Normalization.Standard);
        Assert.Equal([6f, 6f, 35f, 35f], standard.Mean);
        double std0 = Math.Sqrt(new[] { 0, 10, 4, 10 }.Select(v => (v - 6.0) * (v - 6.0)).Average());
        Assert.Equal(1 / std0, standard.InvStd[0], 5);
    }
}
