// Softmax cross-entropy over logits (N, K) and labels (N). The loss sum and the correct count are written (or
// accumulated) on the device; the host reads them only when it asks (at evaluation, through DeviceReads).
using GpuNet.Kernels;

namespace GpuNet.Engine;

/// <summary>Device-side running totals of a loss: the sum of per-sample losses and the number of correct predictions.</summary>
public sealed class LossTotals : IDisposable
{
    private readonly Tensor<float> lossSum;
    private readonly Tensor<int> correct;
    private readonly DeviceReads reads;
    private readonly float[] lossHost = new float[1];
    private readonly int[] correctHost = new int[1];

    /// <summary>Allocates zeroed totals on <paramref name="kernels"/>' accelerator; reads wait through <paramref name="reads"/>.</summary>
    public LossTotals(KernelLibrary kernels, DeviceReads? reads = null)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        lossSum = new Tensor<float>(kernels.Accelerator, new Shape(1));
        correct = new Tensor<int>(kernels.Accelerator, new Shape(1));
        this.reads = reads ?? new DeviceReads(kernels);
    }

    /// <summary>Samples added since the last <see cref="Read"/>.</summary>
    public long Samples { get; internal set; }

    internal TensorView<float> LossSum => lossSum.View;

    internal TensorView<int> Correct => correct.View;

    /// <summary>Waits for the device, returns (mean loss, accuracy, samples) since the last read, and starts over.</summary>
    public (double MeanLoss, double Accuracy, long Samples) Read()
    {
        var (lossSum, correct, samples) = ReadSums();
        return samples == 0 ? (double.NaN, double.NaN, 0) : (lossSum / samples, (double)correct / samples, samples);
    }

    /// <summary>Waits for the device, returns (loss sum, correct count, samples) since the last read, and starts over.</summary>
    public (double LossSum, long Correct, long Samples) ReadSums()
    {
        long samples = Samples;
        if (samples == 0)
        {
            return (0, 0, 0);
        }

        reads.WaitForDevice();
        lossSum.Download(lossHost);
        correct.Download(correctHost);
        var result = ((double)lossHost[0], (long)correctHost[0], samples);
        Samples = 0;
        lossHost[0] = 0;
        correctHost[0] = 0;
        lossSum.Upload(lossHost);
        correct.Upload(correctHost);
        return result;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lossSum.Dispose();
        correct.Dispose();
    }
}

/// <summary>The fused softmax cross-entropy loss with its dLogits tensor, allocated once for the batch capacity.</summary>
public sealed class SoftmaxCrossEntropyLoss : IDisposable
{
    private readonly KernelLibrary kernels;
    private readonly Tensor<float> dLogits;

    /// <summary>Allocates dLogits for batches of up to <paramref name="batchCapacity"/> over <paramref name="classes"/> classes.</summary>
    public SoftmaxCrossEntropyLoss(KernelLibrary kernels, int batchCapacity, int classes)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        this.kernels = kernels;
        dLogits = new Tensor<float>(kernels.Accelerator, new Shape(batchCapacity, classes));
    }

    /// <summary>Device memory held.</summary>
    public long DeviceBytes => dLogits.SizeInBytes;

    /// <summary>
    /// Adds the batch's loss sum and correct count to <paramref name="totals"/> (or, with accumulate false, replaces
    /// them) and returns dLoss/dLogits of the batch-mean loss: (softmax - onehot) / N.
    /// </summary>
    public TensorView<float> Compute(TensorView<float> logits, TensorView<int> labels, LossTotals totals, bool accumulate = true)
    {
        ArgumentNullException.ThrowIfNull(totals);
        var d = Compute(logits, labels, totals.LossSum, totals.Correct, accumulate);
        totals.Samples = (accumulate ? totals.Samples : 0) + logits.Shape[0];
        return d;
    }

    /// <summary>
    /// Writes the batch's loss sum into <paramref name="lossSum"/> (1) and its correct count into
    /// <paramref name="correct"/> (1), or adds to them with <paramref name="accumulate"/>, and returns dLoss/dLogits of
    /// the batch loss scaled by <paramref name="gradScale"/> (1 / N, the batch mean, when not given), the targets
    /// smoothed by <paramref name="labelSmoothing"/>.
    /// </summary>
    public TensorView<float> Compute(
        TensorView<float> logits,
        TensorView<int> labels,
        TensorView<float> lossSum,
        TensorView<int> correct,
        bool accumulate,
        float? gradScale = null,
        float labelSmoothing = 0f)
    {
        var d = dLogits.ViewFor(logits.Shape[0]);
        kernels.SoftmaxCrossEntropy.Compute(d, lossSum, correct, logits, labels, accumulate, gradScale, labelSmoothing);
        return d;
    }

    /// <inheritdoc/>
    public void Dispose() => dLogits.Dispose();
}
