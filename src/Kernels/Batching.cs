// Batch assembly on the device. The data set lives on the device as raw bytes (count, S) with S = C * H * W, its
// labels beside it; a batch is gathered by an index list (the epoch's shuffled order, uploaded once per epoch) and
// preprocessed on the way: batch[b, c, y, x] = (pixel(b, c, y, x) - mean[c, y, x]) * invStd[c], where pixel is
// pixels[order[offset + b], c, y, x] or, when augmenting, the augmented image's:
//   bits = Hash((firstRow + b) ^ key), key = Key(seed, step, AugmentStream) (CounterRandom; firstRow is the row's place
//   in the global batch, so data-parallel ranks draw what one process would);
//   flip when bit 0 is set: x' = W - 1 - x, else x' = x;
//   crop with padding P: dy = (bits >> 8 & 0xFFF) % (2P + 1) - P, dx = (bits >> 20) % (2P + 1) - P;
//   pixel = source[c, y + dy, x' + dx], 0 outside the image (zero padding, before normalization).
// That is: pad by P, crop back at offset (P + dy, P + dx), then mirror.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>The random transformations a gather applies, and the draws they come from.</summary>
/// <param name="Flip">Mirror left to right with probability 0.5.</param>
/// <param name="CropPadding">Zero-pad by this many pixels and crop back at a random offset (0: no crop).</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="Step">The training step.</param>
/// <param name="FirstRow">The first gathered row's place in the global batch.</param>
public readonly record struct GatherAugmentation(bool Flip, int CropPadding, int Seed, int Step, int FirstRow)
{
    /// <summary>The stream of augmentation draws (dropout uses layer indices, which stay far below).</summary>
    public const int AugmentStream = 1 << 20;

    /// <summary>Whether anything is applied.</summary>
    public bool Active => Flip || CropPadding > 0;

    /// <summary>The key of the draws.</summary>
    public uint Key => CounterRandom.Key(Seed, Step, AugmentStream);

    /// <summary>
    /// Where output pixel (<paramref name="y"/>, <paramref name="x"/>) of row <paramref name="row"/> comes from in the
    /// source image of <paramref name="height"/> x <paramref name="width"/>; false when it is padding.
    /// </summary>
    public static bool Source(uint key, int row, int y, int x, int height, int width, int flip, int padding, out int sourceY, out int sourceX)
    {
        uint bits = CounterRandom.Bits(key, row);
        int xx = flip != 0 && (bits & 1) != 0 ? width - 1 - x : x;
        int range = (2 * padding) + 1;
        int dy = padding > 0 ? (int)(((bits >> 8) & 0xFFFU) % (uint)range) - padding : 0;
        int dx = padding > 0 ? (int)((bits >> 20) % (uint)range) - padding : 0;
        sourceY = y + dy;
        sourceX = xx + dx;
        return sourceY >= 0 && sourceY < height && sourceX >= 0 && sourceX < width;
    }
}

/// <summary>Gathers, augments and preprocesses a batch from a device-resident data set.</summary>
public sealed class Batching
{
    private readonly ItemKernel<GatherOp> gather;

    internal Batching(Accelerator accelerator, LaunchPolicy policy) => gather = new(accelerator, policy);

    /// <summary>
    /// batch[b] = (pixels[order[offset + b]], augmented as <paramref name="augmentation"/> says, - mean) * invStd per
    /// channel, labels[b] = sourceLabels[order[offset + b]], for b in 0 .. batch.Shape[0] - 1. pixels is (count, C, H, W)
    /// bytes; mean is (C, H, W); invStd is (C).
    /// </summary>
    public void Gather(
        TensorView<float> batch,
        TensorView<int> labels,
        TensorView<byte> pixels,
        TensorView<int> sourceLabels,
        TensorView<int> order,
        int offset,
        TensorView<float> mean,
        TensorView<float> invStd,
        GatherAugmentation augmentation = default)
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

        if (augmentation.CropPadding < 0 || augmentation.FirstRow < 0)
        {
            throw new ArgumentException($"Crop padding {augmentation.CropPadding} and first row {augmentation.FirstRow} must not be negative.", nameof(augmentation));
        }

        var geometry = new GatherGeometry(sample, batch.Shape[2], batch.Shape[3]);
        var augment = new GatherDraw(
            augmentation.Active ? 1 : 0, augmentation.Flip ? 1 : 0, augmentation.CropPadding, augmentation.Active ? augmentation.Key : 0, augmentation.FirstRow);
        var op = new GatherOp(batch.Data, labels.Data, pixels.Data, sourceLabels.Data, order.Data, offset, mean.Data, invStd.Data, geometry, augment);
        gather.Launch(op, batch.Length);
    }

    internal readonly record struct GatherGeometry(int Sample, int Height, int Width)
    {
        public int Plane => Height * Width;
    }

    internal readonly record struct GatherDraw(int Active, int Flip, int Padding, uint Key, int FirstRow);

    internal readonly record struct GatherOp(
        ArrayView<float> Batch,
        ArrayView<int> Labels,
        ArrayView<byte> Pixels,
        ArrayView<int> SourceLabels,
        ArrayView<int> Order,
        int Offset,
        ArrayView<float> Mean,
        ArrayView<float> InvStd,
        GatherGeometry G,
        GatherDraw A) : IItemOp
    {
        public void Apply(int index)
        {
            int row = index / G.Sample, p = index - (row * G.Sample);
            int source = Order[Offset + row];
            int channel = p / G.Plane;
            float pixel;
            if (A.Active == 0)
            {
                pixel = Pixels[(source * G.Sample) + p];
            }
            else
            {
                int within = p - (channel * G.Plane), y = within / G.Width, x = within - (y * G.Width);
                pixel = GatherAugmentation.Source(A.Key, A.FirstRow + row, y, x, G.Height, G.Width, A.Flip, A.Padding, out int sy, out int sx)
                    ? Pixels[(source * G.Sample) + (channel * G.Plane) + (sy * G.Width) + sx]
                    : 0f;
            }

            Batch[index] = (pixel - Mean[p]) * InvStd[channel];
            if (p == 0)
            {
                Labels[row] = SourceLabels[source];
            }
        }
    }
}
