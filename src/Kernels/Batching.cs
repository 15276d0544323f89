// Batch assembly on the device. The data set lives on the device as raw bytes (count, S) with S = C * H * W, its
// labels beside it; a batch is gathered by an index list (the epoch's shuffled order, uploaded once per epoch) and
// preprocessed on the way: batch[b, p] = (pixels[order[offset + b], p] - mean[p]) * invStd[p / (H * W)].
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>Gathers and preprocesses a batch from a device-resident data set.</summary>
public sealed class Batching
{
    private readonly ItemKernel<GatherOp> gather;

    internal Batching(Accelerator accelerator, LaunchPolicy policy) => gather = new(accelerator, policy);

    /// <summary>
    /// batch[b] = (pixels[order[offset + b]] - mean) * invStd per channel, labels[b] = sourceLabels[order[offset + b]],
    /// for b in 0 .. batch.Shape[0] - 1. pixels is (count, C, H, W) bytes; mean is (C, H, W); invStd is (C).
    /// </summary>
    public void Gather(
        TensorView<float> batch,
        TensorView<int> labels,
        TensorView<byte> pixels,
        TensorView<int> sourceLabels,
        TensorView<int> order,
        int offset,
        TensorView<float> mean,
        TensorView<float> invStd)
    {
        Check.Rank(batch, 4, nameof(batch));
        Check.Rank(pixels, 4, nameof(pixels));
        int rows = batch.Shape[0], sample = batch.Shape.SampleLength;
        if (batch.Shape.WithBatch(pixels.Shape[0]) != pixels.Shape)
        {
            throw new ArgumentException($"Batch shape {batch.Shape} does not match the data set's shape {pixels.Shape}.", nameof(batch));
        }

        Check.Shape(labels, new Shape(rows), nameof(labels));
        Check.Shape(sourceLabels, new Shape(pixels.Shape[0]), nameof(sourceLabels));
        Check.Shape(mean, new Shape(batch.Shape[1], batch.Shape[2], batch.Shape[3]), nameof(mean));
        Check.Shape(invStd, new Shape(batch.Shape[1]), nameof(invStd));
        if (offset < 0 || offset + rows > order.Length)
        {
            throw new ArgumentException($"Rows {offset} .. {offset + rows - 1} are outside the order of shape {order.Shape}.", nameof(offset));
        }

        var op = new GatherOp(batch.Data, labels.Data, pixels.Data, sourceLabels.Data, order.Data, offset, mean.Data, invStd.Data, sample, batch.Shape[2] * batch.Shape[3]);
        gather.Launch(op, batch.Length);
    }

    internal readonly record struct GatherOp(
        ArrayView<float> Batch,
        ArrayView<int> Labels,
        ArrayView<byte> Pixels,
        ArrayView<int> SourceLabels,
        ArrayView<int> Order,
        int Offset,
        ArrayView<float> Mean,
        ArrayView<float> InvStd,
        int Sample,
        int Plane) : IItemOp
    {
        public void Apply(int index)
        {
            int row = index / Sample, p = index - (row * Sample);
            int source = Order[Offset + row];
            Batch[index] = (Pixels[(source * Sample) + p] - Mean[p]) * InvStd[p / Plane];
            if (p == 0)
            {
                Labels[row] = SourceLabels[source];
            }
        }
    }
}
