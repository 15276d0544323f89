using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Engine;

/// <summary>
/// A corpus of malformed inputs made here: truncations at every header boundary (and into the data), random bit
/// flips, oversized dimensions, mismatched counts and hostile safetensors headers. Every reader must reject each one
/// with its typed one-line error, or (for a flip that leaves the file well formed) accept it; nothing else may escape.
/// </summary>
public sealed class MalformedInputTests
{
    private static readonly Lazy<string> ModelPath = new(() =>
    {
        string dir = SyntheticData.NewDirectory();
        string data = SyntheticData.WriteMnistLike(50, 20, seed: 3);
        using var device = Device.Open(AcceleratorKind.Cpu);
        Trainer.Run(new TrainConfig { Dataset = "mnist", DataDir = data, Hidden = [8], BatchNorm = true, BatchSize = 10, Steps = 2, EvalEvery = 2, Accelerator = AcceleratorKind.Cpu }, DataSets.Load("mnist", data), device, dir);
        return Path.Combine(dir, Checkpoint.FileName);
    });

    /// <summary>Truncations at every header byte and a few into the data, then 150 single-bit flips in the first bytes.</summary>
    private static IEnumerable<(string What, byte[] Bytes, bool MustReject)> Corrupt(byte[] valid, int header, int seed, bool gzip = false)
    {
        for (int length = 0; length < Math.Min(header + 2, valid.Length); length++)
        {
            yield return ($"truncated to {length} bytes", valid[..length], true);
        }

        yield return ($"truncated to {valid.Length / 2} bytes", valid[..(valid.Length / 2)], true);

        // .NET's GZipStream does not check the gzip trailer, so data whose last trailer byte is missing still reads whole.
        yield return ($"truncated to {valid.Length - 1} bytes", valid[..^1], !gzip);

        var random = new Random(seed);
        for (int i = 0; i < 150; i++)
        {
            var flipped = (byte[])valid.Clone();
            int position = random.Next(Math.Min(valid.Length, header + 64));
            flipped[position] ^= (byte)(1 << random.Next(8));
            yield return ($"bit flip at byte {position}", flipped, false);
        }
    }

    private static (int Rejected, int Accepted) Check<TError>(IEnumerable<(string What, byte[] Bytes, bool MustReject)> corpus, string path, Action read)
        where TError : GpuNetException
    {
        int rejected = 0, accepted = 0;
        foreach (var (what, bytes, mustReject) in corpus)
        {
            File.WriteAllBytes(path, bytes);
            try
            {
                read();
                Assert.False(mustReject, $"{what}: accepted");
                accepted++;
            }
            catch (TError e)
            {
                Assert.False(e.Message.Contains('\n', StringComparison.Ordinal), $"{what}: multi-line message {e.Message}");
                rejected++;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"{what}: escaped as {e.GetType().Name}: {e.Message}");
            }
        }

        return (rejected, accepted);
    }

    [Fact]
    public void EveryCorruptedFileIsRejectedCleanlyOrReadAsWellFormed()
    {
        string dir = SyntheticData.NewDirectory();
        var images = SyntheticData.IdxImages([SyntheticData.Image(new Random(1), 3, 1, 28), SyntheticData.Image(new Random(2), 4, 1, 28)], 28, 28);
        var labels = SyntheticData.IdxLabels([3, 4, 9]);
        string imagesPath = Path.Combine(dir, "images"), labelsPath = Path.Combine(dir, "labels"), gzPath = Path.Combine(dir, "images.gz");
        string cifarPath = Path.Combine(dir, "batch.bin"), modelPath = Path.Combine(dir, "model.safetensors");
        var cifar = new byte[3 * 3073];
        cifar[0] = 3;
        cifar[3073] = 9;
        cifar[2 * 3073] = 1;

        var counts = new List<(string Format, int Rejected, int Accepted)>();
        var r = Check<DataException>(Corrupt(images, 16, 1), imagesPath, () => Readers.ReadIdxImages(imagesPath));
        counts.Add(("IDX images", r.Rejected, r.Accepted));
        r = Check<DataException>(Corrupt(labels, 8, 2), labelsPath, () => Readers.ReadIdxLabels(labelsPath, 10));
        counts.Add(("IDX labels", r.Rejected, r.Accepted));
        r = Check<DataException>(Corrupt(SyntheticData.Gzip(images), 10, 3, gzip: true), gzPath, () => Readers.ReadIdxImages(gzPath));
        counts.Add(("gzipped IDX", r.Rejected, r.Accepted));
        r = Check<DataException>(Corrupt(cifar, 1, 4).Where(c => c.Bytes.Length > 0 || c.MustReject), cifarPath, () => Readers.ReadCifar10([cifarPath]));
        counts.Add(("CIFAR-10 batch", r.Rejected, r.Accepted));

        var model = File.ReadAllBytes(ModelPath.Value);
        int header = 8 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(model);
        r = Check<CheckpointException>(Corrupt(model, header, 5), modelPath, () =>
        {
            var (info, tensors) = Checkpoint.Read(modelPath) is var c ? (c.Info, c.Tensors) : default;
            Support.Accelerators.Run("cpu", (kernels, _) =>
            {
                using var rebuilt = info.Spec.Build(kernels, 2, seed: 0);
                ModelFile.Apply(rebuilt, tensors, modelPath);
            });
        });
        counts.Add(("checkpoint", r.Rejected, r.Accepted));

        // Oversized dimensions and mismatched counts.
        var huge = (byte[])images.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(huge.AsSpan(4), 1 << 30);
        File.WriteAllBytes(imagesPath, huge);
        Assert.Throws<DataException>(() => Readers.ReadIdxImages(imagesPath));
        var mismatched = (byte[])labels.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(mismatched.AsSpan(4), 4);
        File.WriteAllBytes(labelsPath, mismatched);
        Assert.Throws<DataException>(() => Readers.ReadIdxLabels(labelsPath, 10));

        int total = counts.Sum(c => c.Rejected + c.Accepted);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"malformed-input corpus: {counts.Sum(c => c.Rejected)} of {total} rejected cleanly, {counts.Sum(c => c.Accepted)} still well formed: " +
            string.Join("; ", counts.Select(c => $"{c.Format} {c.Rejected} rejected / {c.Accepted} accepted")));
        Assert.True(counts.All(c => c.Rejected >= 5), string.Join("; ", counts));
    }
}
