using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class SoftmaxCrossEntropyTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void LossCountAndGradientMatchReferenceAndFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(40);
        foreach (var (rows, classes) in new[] { (1, 1), (1, 10), (7, 3), (200, 10), (513, 7) })
        {
            string what = $"softmax cross-entropy ({rows}, {classes}) on {accelerator}";
            var logits = Numerics.Normal(random, rows * classes, 3.0);
            var labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
            var dLogits = buffers.Garbage(rows, classes);
            var lossSum = buffers.Garbage(1);
            var correct = buffers.IntGarbage(1);
            library.SoftmaxCrossEntropy.Compute(dLogits, lossSum, correct, buffers.Upload(logits, rows, classes), buffers.Upload(labels, rows));

            var (losses, hits, probabilities) = Reference.SoftmaxCrossEntropy(Numerics.ToDouble(logits), labels, classes);
            Numerics.AssertClose(new[] { losses.Sum() }, buffers.Read(lossSum), 1e-4, 1e-5, what + " loss sum");
            Assert.Equal(hits, buffers.Read(correct)[0]);
            var expectedGradient = probabilities.Select((q, i) => (q - (labels[i / classes] == i % classes ? 1.0 : 0.0)) / rows).ToArray();
            Numerics.AssertClose(expectedGradient, buffers.Read(dLogits), 1e-6, 1e-4, what + " dLogits");

            if (rows * classes <= 30)
            {
                var fd = Reference.Gradient(z => Reference.SoftmaxCrossEntropy(z, labels, classes).Losses.Average(), Numerics.ToDouble(logits));
                Numerics.AssertClose(fd, buffers.Read(dLogits), 1e-6, 1e-4, what + " dLogits vs finite differences");
            }
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AccumulatesAcrossBatchesAndSurvivesHugeLogits(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        // Logits of 1e4 overflow exp() without the max-subtraction trick.
        float[] logits = [10_000f, 0f, -10_000f, 5_000f, 5_001f, 5_000f];
        int[] labels = [0, 2];
        var dLogits = buffers.Garbage(2, 3);
        var lossSum = buffers.Upload(new[] { 1.5f }, 1);
        var correct = buffers.Upload(new[] { 4 }, 1);
        var logitsView = buffers.Upload(logits, 2, 3);
        var labelsView = buffers.Upload(labels, 2);
        library.SoftmaxCrossEntropy.Compute(dLogits, lossSum, correct, logitsView, labelsView, accumulate: true);
        library.SoftmaxCrossEntropy.Compute(dLogits, lossSum, correct, logitsView, labelsView, accumulate: true);
        var (losses, hits, _) = Reference.SoftmaxCrossEntropy(Numerics.ToDouble(logits), labels, 3);
        Numerics.AssertClose(new[] { 1.5 + (2 * losses.Sum()) }, buffers.Read(lossSum), 1e-3, 1e-5, "accumulated loss");
        Assert.Equal(4 + (2 * hits), buffers.Read(correct)[0]);
        Assert.All(buffers.Read(dLogits), g => Assert.True(float.IsFinite(g)));
    });

    /// <summary>PyTorch's CrossEntropyLoss(label_smoothing=e): (1 - e) * nll + e * mean over classes of -log p.</summary>
    private static double SmoothedLoss(double[] logits, int[] labels, int classes, double smoothing)
    {
        var (losses, _, probabilities) = Reference.SoftmaxCrossEntropy(logits, labels, classes);
        double total = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            double uniform = 0;
            for (int j = 0; j < classes; j++)
            {
                uniform -= Math.Log(probabilities[(r * classes) + j]);
            }

            total += ((1 - smoothing) * losses[r]) + (smoothing * uniform / classes);
        }

        return total;
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void LabelSmoothingMatchesPyTorchsDefinitionAndFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(41);
        foreach (var (rows, classes, smoothing) in new[] { (1, 1, 0.1), (3, 4, 0.1), (5, 10, 0.3), (200, 10, 0.05) })
        {
            string what = $"label smoothing {smoothing} ({rows}, {classes}) on {accelerator}";
            var logits = Numerics.Normal(random, rows * classes, 3.0);
            var labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
            var dLogits = buffers.Garbage(rows, classes);
            var lossSum = buffers.Garbage(1);
            library.SoftmaxCrossEntropy.Compute(
                dLogits, lossSum, buffers.IntGarbage(1), buffers.Upload(logits, rows, classes), buffers.Upload(labels, rows), labelSmoothing: (float)smoothing);
            var z = Numerics.ToDouble(logits);
            Numerics.AssertClose(new[] { SmoothedLoss(z, labels, classes, smoothing) }, buffers.Read(lossSum), 1e-4, 1e-5, what + " loss sum");
            var (_, _, probabilities) = Reference.SoftmaxCrossEntropy(z, labels, classes);
            var expected = probabilities.Select((q, i) => (q - ((labels[i / classes] == i % classes ? 1 - smoothing : 0) + (smoothing / classes))) / rows).ToArray();
            Numerics.AssertClose(expected, buffers.Read(dLogits), 1e-6, 1e-4, what + " dLogits");
            if (rows * classes <= 50)
            {
                var fd = Reference.Gradient(x => SmoothedLoss(x, labels, classes, smoothing) / rows, z);
                Numerics.AssertClose(fd, buffers.Read(dLogits), 1e-6, 1e-4, what + " dLogits vs finite differences");
            }
        }
    });

    [Fact]
    public void LabelOutOfRangeGivesNaNLoss() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var lossSum = buffers.Garbage(1);
        library.SoftmaxCrossEntropy.Compute(
            buffers.Garbage(2, 3), lossSum, buffers.IntGarbage(1), buffers.Upload(new float[6], 2, 3), buffers.Upload(new[] { 1, 3 }, 2));
        Assert.True(float.IsNaN(buffers.Read(lossSum)[0]));
    });

    [Fact]
    public void LabelCountMismatchNamesBothShapes() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var logits = buffers.Garbage(4, 10);
        var error = Assert.Throws<ArgumentException>(() => library.SoftmaxCrossEntropy.Compute(
            logits, buffers.Garbage(1), buffers.IntGarbage(1), logits, buffers.IntGarbage(3)));
        Assert.Contains("(3)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(4)", error.Message, StringComparison.Ordinal);
    });
}
