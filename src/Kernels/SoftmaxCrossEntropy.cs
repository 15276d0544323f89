// Fused softmax cross-entropy over logits (N, K) and integer labels (N), in one pass:
//   loss_n = log(sum_j exp(z_nj - max_n)) - (z_n,label - max_n)   (the max-subtraction trick)
//   dLogits[n, j] = (softmax(z_n)_j - [j == label_n]) * gradScale  (gradScale = 1 / N for the batch-mean loss)
// With label smoothing e (PyTorch's CrossEntropyLoss(label_smoothing=e)) the target is (1 - e) onehot + e / K:
//   loss_n = log(sum_j exp(z_nj - max_n)) - (1 - e) (z_n,label - max_n) - (e / K) sum_j (z_nj - max_n)
//   dLogits[n, j] = (softmax(z_n)_j - (1 - e) [j == label_n] - e / K) * gradScale
//   lossSum = sum_n loss_n; correct = #{n : argmax_j z_nj == label_n} (first maximum wins).
// With accumulate, lossSum and correct are added to instead of overwritten (running totals stay on the device).
// A label outside 0 .. K - 1 gives a NaN loss for its row. One group sums the batch in a fixed order.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>Sizes and scalars of one softmax cross-entropy launch.</summary>
internal readonly record struct SoftmaxArgs(int Rows, int Classes, float GradScale, int Accumulate, float Smoothing);

/// <summary>The fused softmax cross-entropy loss, its gradient and the count of correct predictions.</summary>
public sealed class SoftmaxCrossEntropy
{
    private readonly LaunchPolicy policy;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>, SoftmaxArgs> kernel;

    internal SoftmaxCrossEntropy(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        kernel = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>, SoftmaxArgs>(Kernel);
    }

    /// <summary>
    /// Writes dLogits (N, K) = (softmax - target) * gradScale (1 / N, the batch mean, unless given), the sum of the N
    /// per-sample losses into lossSum (1) and the count of correct predictions into correct (1); adds to both instead
    /// when <paramref name="accumulate"/>. The target is the one-hot label, smoothed by <paramref name="labelSmoothing"/>.
    /// </summary>
    public void Compute(
        TensorView<float> dLogits,
        TensorView<float> lossSum,
        TensorView<int> correct,
        TensorView<float> logits,
        TensorView<int> labels,
        bool accumulate = false,
        float? gradScale = null,
        float labelSmoothing = 0f)
    {
        Check.Rank(logits, 2, nameof(logits));
        Check.SameShape(dLogits, nameof(dLogits), logits, nameof(logits));
        Check.Shape(labels, new Shape(logits.Shape[0]), nameof(labels));
        Check.Shape(lossSum, new Shape(1), nameof(lossSum));
        Check.Shape(correct, new Shape(1), nameof(correct));
        int rows = logits.Shape[0], classes = logits.Shape[1];
        if (classes == 0)
        {
            throw new ArgumentException($"Softmax cross-entropy needs at least one class, got logits of shape {logits.Shape}.", nameof(logits));
        }

        if (!(labelSmoothing >= 0f && labelSmoothing < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"Label smoothing must be in [0, 1), got {labelSmoothing}.");
        }

        var args = new SoftmaxArgs(rows, classes, gradScale ?? (rows == 0 ? 0f : 1f / rows), accumulate ? 1 : 0, labelSmoothing);
        var config = policy.PerGroup(1);
        if (policy.Launch("SoftmaxCrossEntropy", config, LaunchPolicy.ReduceSharedBytes))
        {
            kernel(config, dLogits.Data, lossSum.Data, correct.Data, logits.Data, labels.Data, args);
        }
    }

    [GpuKernel]
    internal static void Kernel(
        ArrayView<float> dLogits, ArrayView<float> lossSum, ArrayView<int> correct, ArrayView<float> logits, ArrayView<int> labels, SoftmaxArgs a)
    {
        var scratch = SharedMemory.Allocate<float>(LaunchPolicy.MaxReduceGroupSize);
        float loss = 0f, hits = 0f;
        int stride = Group.DimX;
        for (int row = Group.IdxX; row < a.Rows; row += stride)
        {
            int rowBase = row * a.Classes;
            float max = logits[rowBase];
            int argmax = 0;
            for (int j = 1; j < a.Classes; j++)
            {
                float z = logits[rowBase + j];
                if (z > max)
                {
                    max = z;
                    argmax = j;
                }
            }

            float sumExp = 0f, sumShifted = 0f;
            for (int j = 0; j < a.Classes; j++)
            {
                float shifted = logits[rowBase + j] - max;
                sumExp += MathF.Exp(shifted);
                sumShifted += shifted;
            }

            int label = labels[row];
            bool valid = label >= 0 && label < a.Classes;
            if (a.Smoothing == 0f)
            {
                loss += valid ? MathF.Log(sumExp) - (logits[rowBase + label] - max) : float.NaN;
            }
            else
            {
                float uniform = a.Smoothing / a.Classes;
                loss += valid ? MathF.Log(sumExp) - ((1f - a.Smoothing) * (logits[rowBase + label] - max)) - (uniform * sumShifted) : float.NaN;
            }

            hits += argmax == label ? 1f : 0f;
            float inverseSum = 1f / sumExp;
            float hit = 1f - a.Smoothing, rest = a.Smoothing / a.Classes;
            for (int j = 0; j < a.Classes; j++)
            {
                float p = MathF.Exp(logits[rowBase + j] - max) * inverseSum;
                float target = a.Smoothing == 0f ? (j == label ? 1f : 0f) : (j == label ? hit : 0f) + rest;
                dLogits[rowBase + j] = (p - target) * a.GradScale;
            }
        }

        loss = KernelSupport.GroupSum(scratch, loss);
        hits = KernelSupport.GroupSum(scratch, hits);
        if (Group.IdxX == 0)
        {
            lossSum[0] = a.Accumulate != 0 ? lossSum[0] + loss : loss;
            correct[0] = a.Accumulate != 0 ? correct[0] + (int)hits : (int)hits;
        }
    }
}
