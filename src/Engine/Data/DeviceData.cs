// Data on the device. Legend: S = C * H * W. A split's pixels (count, C, H, W) bytes and labels (count) are uploaded
// once; a batch is gathered and preprocessed on the device by an order (count) uploaded once per epoch, so a
// training step copies nothing from the host.
using GpuNet.Kernels;

namespace GpuNet.Engine.Data;

/// <summary>One data split resident on the device, with the order its batches are drawn in.</summary>
public sealed class DeviceSplit : IDisposable
{
    private readonly Tensor<byte> pixels;
    private readonly Tensor<int> labels, order;

    /// <summary>Uploads <paramref name="split"/> (samples of <paramref name="sample"/>) to the device, in its stored order.</summary>
    public DeviceSplit(KernelLibrary kernels, DataSplit split, Shape sample)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(split);
        Count = split.Count;
        var batched = new Shape(Count, sample[0], sample[1], sample[2]);
        pixels = new Tensor<byte>(kernels.Accelerator, batched);
        labels = new Tensor<int>(kernels.Accelerator, new Shape(Count));
        order = new Tensor<int>(kernels.Accelerator, new Shape(Count));
        pixels.Upload(split.Pixels);
        labels.Upload(split.Labels);
        SetOrder(Enumerable.Range(0, Count).ToArray());
    }

    /// <summary>Samples in the split.</summary>
    public int Count { get; }

    /// <summary>Device memory held.</summary>
    public long DeviceBytes => pixels.SizeInBytes + labels.SizeInBytes + order.SizeInBytes;

    internal TensorView<byte> Pixels => pixels.View;

    internal TensorView<int> Labels => labels.View;

    internal TensorView<int> Order => order.View;

    /// <summary>Sets the order batches are drawn in (a permutation of 0 .. Count - 1); waits for the copy.</summary>
    public void SetOrder(int[] permutation) => order.Upload(permutation);

    /// <inheritdoc/>
    public void Dispose()
    {
        pixels.Dispose();
        labels.Dispose();
        order.Dispose();
    }
}

/// <summary>The model's input batch and labels, and the preprocessing applied while gathering them.</summary>
public sealed class BatchBuffers : IDisposable
{
    private readonly KernelLibrary kernels;
    private readonly Tensor<float> input, mean, invStd;
    private readonly Tensor<int> labels;

    /// <summary>Allocates the input batch (capacity <paramref name="batchCapacity"/>) and uploads the preprocessing.</summary>
    public BatchBuffers(KernelLibrary kernels, Shape sample, int batchCapacity, Preprocessing preprocessing)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(preprocessing);
        this.kernels = kernels;
        input = new Tensor<float>(kernels.Accelerator, new Shape(batchCapacity, sample[0], sample[1], sample[2]));
        labels = new Tensor<int>(kernels.Accelerator, new Shape(batchCapacity));
        mean = new Tensor<float>(kernels.Accelerator, sample);
        invStd = new Tensor<float>(kernels.Accelerator, new Shape(sample[0]));
        mean.Upload(preprocessing.Mean);
        invStd.Upload(preprocessing.InvStd);
    }

    /// <summary>Device memory held.</summary>
    public long DeviceBytes => input.SizeInBytes + labels.SizeInBytes + mean.SizeInBytes + invStd.SizeInBytes;

    /// <summary>
    /// Gathers rows offset .. offset + rows - 1 of <paramref name="split"/>'s order, augmented as
    /// <paramref name="augmentation"/> says (training only); returns (input, labels).
    /// </summary>
    public (TensorView<float> Input, TensorView<int> Labels) Gather(DeviceSplit split, int offset, int rows, GatherAugmentation augmentation = default)
    {
        ArgumentNullException.ThrowIfNull(split);
        var x = input.ViewFor(rows);
        var y = labels.ViewFor(rows);
        kernels.Batching.Gather(x, y, split.Pixels, split.Labels, split.Order, offset, mean.View, invStd.View, augmentation);
        return (x, y);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        input.Dispose();
        labels.Dispose();
        mean.Dispose();
        invStd.Dispose();
    }
}

/// <summary>Draws batches from a shuffled order; a new epoch (a new shuffle from the seeded generator) starts when fewer than a batch remain.</summary>
public sealed class EpochSampler(int count, int batchSize, int seed)
{
    private readonly Random random = new(seed);
    private readonly int[] permutation = Enumerable.Range(0, count).ToArray();

    /// <summary>Epochs started so far.</summary>
    public int Epoch { get; private set; }

    /// <summary>The row of the current order where the next batch starts.</summary>
    public int Offset { get; private set; } = int.MaxValue;

    /// <summary>The current epoch's order.</summary>
    public int[] Permutation => permutation;

    /// <summary>
    /// Returns to the position after <paramref name="epoch"/> shuffles with the next batch at <paramref name="offset"/>,
    /// by replaying the shuffles from the seed: the state a checkpoint needs is two integers.
    /// </summary>
    public void Restore(int epoch, int offset)
    {
        for (int e = 0; e < epoch; e++)
        {
            random.Shuffle(permutation);
        }

        Epoch = epoch;
        Offset = epoch == 0 ? int.MaxValue : offset;
    }

    /// <summary>The next batch's offset into <see cref="Permutation"/>; <paramref name="reshuffled"/> says a new order must be uploaded.</summary>
    public int Next(out bool reshuffled)
    {
        reshuffled = false;
        if (Offset > count - batchSize)
        {
            random.Shuffle(permutation);
            Epoch++;
            Offset = 0;
            reshuffled = true;
        }

        int offset = Offset;
        Offset += batchSize;
        return offset;
    }
}
