using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Engine;

/// <summary>
/// A corpus of malformed inputs made here: truncations at every header boundary (and into the data), every single-bit
/// flip of each header and of sampled data bytes, oversized dimensions, mismatched counts and hostile safetensors
/// headers. Each case says what the reader must do (reject it with its typed one-line error, read it as well formed,
/// or, where the test cannot tell, either), and nothing else may escape.
/// </summary>
public sealed class MalformedInputTests
{
    private static readonly Lazy<string> ModelPath = new(() =>
    {
        string dir = SyntheticData.NewDirectory();
        string data = SyntheticData.WriteMnistLike(50, 20, seed: 3);
        using var device = Device.Open(AcceleratorKind.Cpu);
        Trainer.Run(new TrainConfig { Dataset = DatasetKind.Mnist, DataDir = data, Hidden = [8], BatchNorm = true, BatchSize = 10, Steps = 2, EvalEvery = 2, Accelerator = AcceleratorKind.Cpu }, DataSets.Load(DatasetKind.Mnist, data), device, dir);
        return Path.Combine(dir, Checkpoint.FileName);
    });

    /// <summary>What a reader must do with a corrupted file.</summary>
    private enum Expect
    {
        Reject,
        Accept,

        /// <summary>A flip whose effect the test does not model (inside a safetensors JSON header, a non-finite weight).</summary>
        Either,
    }

    private sealed record Case(string What, byte[] Bytes, Expect Expect);

    /// <summary>How one format's corpus went: cases by expectation, and how the "either" ones fell.</summary>
    private sealed record Tally(string Format, int MustReject, int MustAccept, int EitherRejected, int EitherAccepted)
    {
        public override string ToString() =>
            $"{Format}: {MustReject} rejected and {MustAccept} accepted as required, {EitherRejected} rejected / {EitherAccepted} accepted where either may be";
    }

    /// <summary>Truncations at every header byte and one past, to half the file and to all but its last byte.</summary>
    private static IEnumerable<Case> Truncations(byte[] valid, int header, bool gzip = false)
    {
        for (int length = 0; length < Math.Min(header + 2, valid.Length); length++)
        {
            yield return new Case($"truncated to {length} bytes", valid[..length], Expect.Reject);
        }

        yield return new Case($"truncated to {valid.Length / 2} bytes", valid[..(valid.Length / 2)], Expect.Reject);

        // .NET's GZipStream does not check the gzip trailer, so data whose last trailer byte is missing still reads whole.
        yield return new Case($"truncated to {valid.Length - 1} bytes", valid[..^1], gzip ? Expect.Either : Expect.Reject);
    }

    /// <summary>Every single-bit flip of the bytes at <paramref name="positions"/>, each judged by <paramref name="expect"/>.</summary>
    private static IEnumerable<Case> Flips(byte[] valid, IEnumerable<int> positions, Func<int, byte[], Expect> expect)
    {
        foreach (int position in positions)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                var flipped = (byte[])valid.Clone();
                flipped[position] ^= (byte)(1 << bit);
                yield return new Case($"bit {bit} flipped at byte {position}", flipped, expect(position, flipped));
            }
        }
    }

    /// <summary><paramref name="count"/> distinct positions in [<paramref name="from"/>, <paramref name="to"/>), seeded.</summary>
    private static int[] Sample(int seed, int from, int to, int count)
    {
        var positions = Enumerable.Range(from, to - from).ToArray();
        new Random(seed).Shuffle(positions);
        return positions[..Math.Min(count, positions.Length)];
    }

    /// <summary>The IDX image format, written out independently of the reader: magic 0x00000803, dimensions within the limits, exactly their bytes.</summary>
    private static bool IsWellFormedIdxImages(byte[] file)
    {
        if (file.Length < 16 || BinaryPrimitives.ReadUInt32BigEndian(file) != 0x00000803)
        {
            return false;
        }

        uint count = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(4)), rows = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(8));
        uint cols = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(12));
        return count <= Readers.MaxSamples && rows <= Readers.MaxSide && cols <= Readers.MaxSide && 16 + ((long)count * rows * cols) == file.Length;
    }

    /// <summary>The IDX label format: magic 0x00000801, a count of exactly the bytes that follow, each below the classes.</summary>
    private static bool IsWellFormedIdxLabels(byte[] file, int classes) =>
        file.Length >= 8 && BinaryPrimitives.ReadUInt32BigEndian(file) == 0x00000801
        && BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(4)) == file.Length - 8 && file.Skip(8).All(l => l < classes);

    /// <summary>What gzip data holds, or null where it does not decompress.</summary>
    private static byte[]? Gunzip(byte[] gzip)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
            using var output = new MemoryStream();
            input.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static Tally Check<TError>(string format, IEnumerable<Case> corpus, string path, Action read)
        where TError : GpuNetException
    {
        int mustReject = 0, mustAccept = 0, eitherRejected = 0, eitherAccepted = 0;
        foreach (var (what, bytes, expect) in corpus)
        {
            File.WriteAllBytes(path, bytes);
            try
            {
                read();
                Assert.True(expect != Expect.Reject, $"{format}, {what}: accepted, but it is malformed");
                _ = expect == Expect.Accept ? mustAccept++ : eitherAccepted++;
            }
            catch (TError e)
            {
                Assert.True(expect != Expect.Accept, $"{format}, {what}: rejected, but it is well formed: {e.Message}");
                Assert.False(e.Message.Contains('\n', StringComparison.Ordinal), $"{format}, {what}: multi-line message {e.Message}");
                _ = expect == Expect.Reject ? mustReject++ : eitherRejected++;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"{format}, {what}: escaped as {e.GetType().Name}: {e.Message}");
            }
        }

        return new Tally(format, mustReject, mustAccept, eitherRejected, eitherAccepted);
    }

    [Fact]
    public void EveryCorruptedFileIsRejectedCleanlyOrReadAsWellFormed()
    {
        string dir = SyntheticData.NewDirectory();
        var images = SyntheticData.IdxImages([SyntheticData.Image(new Random(1), 3, 1, 28), SyntheticData.Image(new Random(2), 4, 1, 28)], 28, 28);
        var labels = SyntheticData.IdxLabels([3, 4, 9, 8]); // 8 with bit 1 flipped is 10, the first label out of range
        var gzip = SyntheticData.Gzip(images);
        string imagesPath = Path.Combine(dir, "images"), labelsPath = Path.Combine(dir, "labels"), gzPath = Path.Combine(dir, "images.gz");
        string cifarPath = Path.Combine(dir, "batch.bin"), modelPath = Path.Combine(dir, "model.safetensors");
        const int record = 3073;
        var cifar = new byte[3 * record];
        new Random(4).NextBytes(cifar);
        cifar[0] = 3;
        cifar[record] = 9;
        cifar[2 * record] = 1;

        var truncated = new List<Tally>();
        var flipped = new List<Tally>();
        void Add<TError>(string format, IEnumerable<Case> truncations, IEnumerable<Case> flips, string path, Action read)
            where TError : GpuNetException
        {
            truncated.Add(Check<TError>(format + " truncations", truncations, path, read));
            flipped.Add(Check<TError>(format + " bit flips", flips, path, read));
        }

        // Uncompressed IDX: every flip of the header (magic, element type, rank, dimensions that must match the file's
        // size) and of sampled data bytes, judged by the format itself (a pixel may be anything, a label below 10).
        Expect IdxImages(int _, byte[] file) => IsWellFormedIdxImages(file) ? Expect.Accept : Expect.Reject;
        Add<DataException>(
            "IDX images",
            Truncations(images, 16),
            Flips(images, Enumerable.Range(0, 16), IdxImages).Concat(Flips(images, Sample(1, 16, images.Length, 16), IdxImages)),
            imagesPath,
            () => Readers.ReadIdxImages(imagesPath));
        Add<DataException>(
            "IDX labels",
            Truncations(labels, 8),
            Flips(labels, Enumerable.Range(0, labels.Length), (_, file) => IsWellFormedIdxLabels(file, 10) ? Expect.Accept : Expect.Reject),
            labelsPath,
            () => Readers.ReadIdxLabels(labelsPath, 10));

        // Gzipped IDX: every flip of the 10-byte gzip header and of sampled deflate bytes; what the flipped file must do
        // follows from what it decompresses to (nothing, or well-formed IDX images or not).
        Expect GzipImages(int _, byte[] file) => Gunzip(file) is { } content && IsWellFormedIdxImages(content) ? Expect.Accept : Expect.Reject;
        Add<DataException>(
            "gzipped IDX images",
            Truncations(gzip, 10, gzip: true),
            Flips(gzip, Enumerable.Range(0, 10), GzipImages).Concat(Flips(gzip, Sample(3, 10, gzip.Length - 8, 24), GzipImages)),
            gzPath,
            () => Readers.ReadIdxImages(gzPath));

        // CIFAR-10: every flip of each record's label byte (rejected above 9) and of sampled pixel bytes (any value).
        Expect Cifar(int position, byte[] file) => position % record != 0 || file[position] <= 9 ? Expect.Accept : Expect.Reject;
        Add<DataException>(
            "CIFAR-10 batch",
            Truncations(cifar, 1),
            Flips(cifar, [0, record, 2 * record], Cifar).Concat(Flips(cifar, Sample(4, 1, record, 16), Cifar)),
            cifarPath,
            () => Readers.ReadCifar10([cifarPath]));

        // Checkpoint: the header length is a multiple of 8 (space-padded JSON), so a flip either moves the header's end
        // past the closing brace into the data, which then ends before the last tensor, or cuts 8 or more bytes, the
        // closing brace with them: every flip of its 8 bytes is rejected. A flip inside the JSON may or may not leave it
        // valid; a flip in the first tensor's data leaves a well-formed file unless it makes a non-finite weight.
        var model = File.ReadAllBytes(ModelPath.Value);
        int header = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(model);
        using var json = JsonDocument.Parse(Encoding.UTF8.GetString(model, 8, header - 8));
        var firstTensor = json.RootElement.GetProperty("0.weight").GetProperty("data_offsets");
        int weightsFrom = header + firstTensor[0].GetInt32(), weightsTo = header + firstTensor[1].GetInt32();
        Expect Weight(int position, byte[] file) =>
            float.IsFinite(BitConverter.ToSingle(file, position - ((position - weightsFrom) % 4))) ? Expect.Accept : Expect.Either;
        var checkpointFlips = Flips(model, Enumerable.Range(0, 8), (_, _) => Expect.Reject)
            .Concat(Flips(model, Sample(5, 8, header, 16), (_, _) => Expect.Either))
            .Concat(Flips(model, Sample(6, weightsFrom, weightsTo, 8), Weight));
        Add<CheckpointException>("checkpoint", Truncations(model, header), checkpointFlips, modelPath, () =>
        {
            var (info, tensors) = Checkpoint.Read(modelPath) is var c ? (c.Info, c.Tensors) : default;
            Support.Accelerators.Run("cpu", (kernels, _) =>
            {
                using var rebuilt = info.Spec.Build(kernels, 2, seed: 0);
                ModelFile.Apply(rebuilt, tensors, modelPath);
            });
        });

        // Oversized dimensions and mismatched counts.
        var huge = (byte[])images.Clone();
        BinaryPrimitives.WriteInt32BigEndian(huge.AsSpan(4), 1 << 30);
        File.WriteAllBytes(imagesPath, huge);
        Assert.Throws<DataException>(() => Readers.ReadIdxImages(imagesPath));
        var mismatched = (byte[])labels.Clone();
        BinaryPrimitives.WriteInt32BigEndian(mismatched.AsSpan(4), 5);
        File.WriteAllBytes(labelsPath, mismatched);
        Assert.Throws<DataException>(() => Readers.ReadIdxLabels(labelsPath, 10));

        TestContext.Current.TestOutputHelper?.WriteLine("malformed-input corpus: " + string.Join("; ", truncated.Concat(flipped)));

        // Each format's flips hold some that must be rejected and some that must be read, each checked above.
        Assert.All(flipped, t => Assert.True(t.MustAccept > 0 && t.MustReject > 0, t.ToString()));
    }
}
