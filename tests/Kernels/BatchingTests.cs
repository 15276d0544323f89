using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class BatchingTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void GatherPicksTheOrderedImagesAndScalesEachChannel(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        // Five 3 x 3 x 5 images whose 225 pixels all differ, so a wrong image, pixel or channel shows in the values;
        // per-pixel means and per-channel scales that differ too; a shuffled order whose last entry is the last image.
        const int count = 5, channels = 3, height = 3, width = 5, sample = channels * height * width, plane = height * width;
        var random = new Random(31);
        var values = Enumerable.Range(0, 256).Select(v => (byte)v).ToArray();
        random.Shuffle(values);
        var pixels = values[..(count * sample)];
        int[] sourceLabels = [7, 3, 9, 0, 5];
        int[] order = [3, 0, 2, 1, 4];
        var mean = Enumerable.Range(0, sample).Select(p => (p * 1.37f) + 40.25f).ToArray();
        float[] invStd = [1 / 3f, 0.7f, 1.9f];
        var pixelsView = buffers.Upload(pixels, count, channels, height, width);
        var labelsView = buffers.Upload(sourceLabels, count);
        var orderView = buffers.Upload(order, count);
        var meanView = buffers.Upload(mean, channels, height, width);
        var invStdView = buffers.Upload(invStd, channels);

        // (offset, rows): a batch that ends exactly at the order's last entry, one inside it, one of a single row.
        foreach (var (offset, rows) in new[] { (2, 3), (1, 2), (4, 1) })
        {
            var batch = buffers.Garbage(rows, channels, height, width);
            var labels = buffers.IntGarbage(rows);
            library.Batching.Gather(batch, labels, pixelsView, labelsView, orderView, offset, meanView, invStdView);

            var expected = new double[rows * sample];
            var expectedLabels = new int[rows];
            for (int b = 0; b < rows; b++)
            {
                int image = order[offset + b];
                expectedLabels[b] = sourceLabels[image];
                for (int p = 0; p < sample; p++)
                {
                    expected[(b * sample) + p] = (pixels[(image * sample) + p] - mean[p]) * invStd[p / plane]; // float, as the kernel
                }
            }

            string what = $"gather offset {offset} rows {rows} on {accelerator}";
            Numerics.AssertClose(expected, buffers.Read(batch), 0, 0, what);
            Assert.True(expectedLabels.SequenceEqual(buffers.Read(labels)), $"{what}: labels {string.Join(",", buffers.Read(labels))}, expected {string.Join(",", expectedLabels)}");
        }
    });
}
