using GpuNet.Kernels;
using GpuNet.Tests.Support;
using ILGPU.Runtime;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The kernels that draw random numbers (dropout, augmentation inside the batch gather) against C# references that
/// draw the same counter-based numbers; the draws themselves are checked for their rates.
/// </summary>
public sealed class RandomizedKernelTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    /// <summary>lowbias32, written out again here so a change to the kernels' hash is caught.</summary>
    private static uint Hash(uint x)
    {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }

    private static uint Key(int seed, int step, int stream) => Hash((uint)stream ^ Hash((uint)step ^ Hash((uint)seed)));

    [Fact]
    public void CounterRandomIsTheDocumentedHashAndRoughlyUniform()
    {
        Assert.Equal(Key(42, 7, 3), CounterRandom.Key(42, 7, 3));
        Assert.Equal(Hash(5u ^ Key(1, 2, 3)), CounterRandom.Bits(Key(1, 2, 3), 5));
        uint key = CounterRandom.Key(9, 1, 0);
        var draws = Enumerable.Range(0, 100_000).Select(i => CounterRandom.Uniform(key, i)).ToArray();
        Assert.All(draws, u => Assert.InRange(u, 0f, 0.99999995f));
        Assert.InRange(draws.Average(), 0.49, 0.51);
        Assert.InRange(draws.Count(u => u < 0.1f) / 100_000.0, 0.095, 0.105);
        Assert.NotEqual(CounterRandom.Key(9, 1, 0), CounterRandom.Key(9, 2, 0));
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void DropoutMatchesItsReferenceAndItsBackwardIsItsGradient(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        foreach (var (length, p) in new[] { (1, 0.5f), (1000, 0.2f), (4097, 0.5f), (300, 0f) })
        {
            var x = Numerics.Normal(new Random(length), length);
            var draw = new DropoutDraw(42, 3, 2);
            var output = buffers.Garbage(length);
            library.Elementwise.Dropout(output, buffers.Upload(x, length), p, draw);
            var expected = x.Select((v, i) => Uniform(draw, i) >= p ? (double)v / (1 - p) : 0).ToArray();
            string what = $"dropout p {p} length {length} on {accelerator}";
            Numerics.AssertClose(expected, buffers.Read(output), 1e-6, 1e-6, what);
            if (length >= 1000 && p > 0)
            {
                double dropped = expected.Count(v => v == 0) / (double)length;
                Assert.InRange(dropped, p - 0.05, p + 0.05);
            }

            // The layer is linear in x for fixed draws: its Jacobian is diagonal, kept / (1 - p); backward = forward.
            var dOutput = Numerics.Normal(new Random(length + 1), length);
            var dInput = buffers.Garbage(length);
            library.Elementwise.Dropout(dInput, buffers.Upload(dOutput, length), p, draw);
            var fd = Reference.Gradient(v => Reference.Dot(v.Select((e, i) => Uniform(draw, i) >= p ? e / (1 - p) : 0).ToArray(), dOutput), Numerics.ToDouble(x));
            if (length <= 1000)
            {
                Numerics.AssertClose(fd, buffers.Read(dInput), 1e-5, 1e-5, what + " backward vs finite differences");
            }

            // Another step draws another mask.
            var other = buffers.Garbage(length);
            library.Elementwise.Dropout(other, buffers.Upload(x, length), p, draw with { Step = 4 });
            if (length >= 1000 && p > 0)
            {
                Assert.NotEqual(buffers.Read(output), buffers.Read(other));
            }
        }
    });

    private static float Uniform(DropoutDraw draw, int i) => (Hash((uint)i ^ Key(draw.Seed, draw.Step, draw.Stream)) >> 8) * (1f / 16777216f);

    /// <summary>
    /// The augmented, preprocessed batch by the definition: pad by P with zeros, crop at (P + dy, P + dx), mirror when the
    /// row's bit 0 is set, then (pixel - mean) * invStd.
    /// </summary>
    private static (float[] Batch, int[] Labels) AugmentedBatch(
        byte[] pixels, int[] labels, int[] order, int offset, int rows, int channels, int height, int width, float[] mean, float[] invStd, GatherAugmentation a)
    {
        int sample = channels * height * width;
        var batch = new float[rows * sample];
        var outLabels = new int[rows];
        uint key = Key(a.Seed, a.Step, GatherAugmentation.AugmentStream);
        for (int b = 0; b < rows; b++)
        {
            int source = order[offset + b];
            outLabels[b] = labels[source];
            uint bits = Hash((uint)(a.FirstRow + b) ^ key);
            int pad = a.CropPadding, range = (2 * pad) + 1;
            int dy = pad > 0 ? (int)(((bits >> 8) & 0xFFF) % range) - pad : 0;
            int dx = pad > 0 ? (int)((bits >> 20) % range) - pad : 0;
            bool flip = a.Flip && (bits & 1) != 0;

            // The padded image, then the crop, then the mirror, as three separate steps.
            int ph = height + (2 * pad), pw = width + (2 * pad);
            for (int c = 0; c < channels; c++)
            {
                var padded = new double[ph * pw];
                for (int y = 0; y < height; y++)
                {
                    for (int x = 0; x < width; x++)
                    {
                        padded[((y + pad) * pw) + x + pad] = pixels[(source * sample) + (c * height * width) + (y * width) + x];
                    }
                }

                var cropped = new double[height * width];
                for (int y = 0; y < height; y++)
                {
                    for (int x = 0; x < width; x++)
                    {
                        cropped[(y * width) + x] = padded[((y + pad + dy) * pw) + x + pad + dx];
                    }
                }

                for (int y = 0; y < height; y++)
                {
                    for (int x = 0; x < width; x++)
                    {
                        double v = cropped[(y * width) + (flip ? width - 1 - x : x)];
                        int p = (c * height * width) + (y * width) + x;
                        batch[(b * sample) + p] = (float)((v - mean[p]) * invStd[c]);
                    }
                }
            }
        }

        return (batch, outLabels);
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AugmentedGatherEqualsTheReferenceAndIsOffByDefault(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        const int count = 23, channels = 3, height = 7, width = 9;
        int sample = channels * height * width;
        var random = new Random(5);
        var pixels = new byte[count * sample];
        random.NextBytes(pixels);
        var labels = Enumerable.Range(0, count).Select(i => (i * 7) % 10).ToArray();
        var order = Enumerable.Range(0, count).ToArray();
        random.Shuffle(order);
        var mean = Numerics.Normal(random, sample, 20, 120);
        float[] invStd = [0.5f, 0.25f, 2f];
        using var pixelsBuffer = library.Accelerator.Allocate1D<byte>(pixels);
        var pixelsView = new TensorView<byte>(pixelsBuffer.View, new Shape(count, channels, height, width));
        var settings = new[]
        {
            new GatherAugmentation(false, 0, 1, 1, 0),
            new GatherAugmentation(true, 0, 1, 1, 0),
            new GatherAugmentation(false, 2, 1, 1, 0),
            new GatherAugmentation(true, 4, 7, 12, 16),
            new GatherAugmentation(true, 4, 7, 13, 16),
        };
        var batches = new List<float[]>();
        foreach (var a in settings)
        {
            const int rows = 17, offset = 6; // ends exactly at the last image of the order
            var batch = buffers.Garbage(rows, channels, height, width);
            var outLabels = buffers.IntGarbage(rows);
            library.Batching.Gather(
                batch, outLabels, pixelsView, buffers.Upload(labels, count), buffers.Upload(order, count), offset, buffers.Upload(mean, channels, height, width), buffers.Upload(invStd, channels), a);
            var (expected, expectedLabels) = AugmentedBatch(pixels, labels, order, offset, rows, channels, height, width, mean, invStd, a);
            var actual = buffers.Read(batch);
            Assert.Equal(expected, actual);
            Assert.Equal(expectedLabels, buffers.Read(outLabels));
            batches.Add(actual);
        }

        // Off by default: a default augmentation is the plain gather; each transformation changes the batch; the step
        // changes the draws.
        Assert.Equal(batches[0], AugmentedBatch(pixels, labels, order, 6, 17, channels, height, width, mean, invStd, default).Batch);
        Assert.NotEqual(batches[0], batches[1]);
        Assert.NotEqual(batches[0], batches[2]);
        Assert.NotEqual(batches[3], batches[4]);
    });

    [Fact]
    public void FlipsHappenHalfTheTimeAndCropsCoverEveryOffset()
    {
        uint key = CounterRandom.Key(3, 5, GatherAugmentation.AugmentStream);
        int flips = 0;
        var offsets = new HashSet<(int, int)>();
        for (int row = 0; row < 4000; row++)
        {
            GatherAugmentation.Source(key, row, 0, 0, 28, 28, 1, 2, out int sy, out int sx);
            bool flipped = (CounterRandom.Bits(key, row) & 1) != 0;
            flips += flipped ? 1 : 0;
            offsets.Add((sy, flipped ? sx - 27 : sx));
        }

        Assert.InRange(flips, 1800, 2200);
        Assert.Equal(25, offsets.Count); // dy, dx in -2..2
    }
}
