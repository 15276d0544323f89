// Data on the device. Legend: S = C * H * W. A split's pixels (count, C, H, W) bytes and labels (count) are uploaded
// once; a batch is gathered and preprocessed on the device by an order: the split's own (identity, for evaluation) or,
// in training, the sampler's rows for the next steps (StepOrders), drawn and uploaded at a read point, when the host
// has waited for the device anyway. A training step copies nothing from the host.
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
        order.Upload(Enumerable.Range(0, Count).ToArray());
    }

    /// <summary>Samples in the split.</summary>
    public int Count { get; }

    /// <summary>Device memory held.</summary>
    public long DeviceBytes => pixels.SizeInBytes + labels.SizeInBytes + order.SizeInBytes;

    internal TensorView<byte> Pixels => pixels.View;

    internal TensorView<int> Labels => labels.View;

    internal TensorView<int> Order => order.View;


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

    /// <summary>Gathers samples offset .. offset + rows - 1 of <paramref name="split"/> in its stored order; returns (input, labels).</summary>
    public (TensorView<float> Input, TensorView<int> Labels) Gather(DeviceSplit split, int offset, int rows)
    {
        ArgumentNullException.ThrowIfNull(split);
        return Gather(split, split.Order, offset, rows);
    }

    /// <summary>
    /// Gathers the samples <paramref name="order"/>[offset .. offset + rows - 1] of <paramref name="split"/>, augmented as
    /// <paramref name="augmentation"/> says (training only); returns (input, labels).
    /// </summary>
    public (TensorView<float> Input, TensorView<int> Labels) Gather(DeviceSplit split, TensorView<int> order, int offset, int rows, GatherAugmentation augmentation = default)
    {
        ArgumentNullException.ThrowIfNull(split);
        var x = input.ViewFor(rows);
        var y = labels.ViewFor(rows);
        kernels.Batching.Gather(x, y, split.Pixels, split.Labels, order, offset, mean.View, invStd.View, augmentation);
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

/// <summary>
/// The training order of the next steps on the device: for each of <c>Steps</c> steps ahead, the global batch's sample
/// indices as the sampler draws them, in a ring of slots ((step - 1) % Steps). <see cref="Fill"/> draws and uploads the
/// steps after a read point, where the device is idle; a step then reads its slot and copies nothing. The sampler's
/// position after each drawn step is kept for checkpoints, since the sampler itself is ahead.
/// </summary>
public sealed class StepOrders : IDisposable
{
    private readonly Tensor<int> rows;
    private readonly int[] staging;
    private readonly (int Epoch, int Offset)[] after;
    private readonly EpochSampler sampler;
    private readonly int batch;
    private int firstStep, lastStep = -1;

    /// <summary>Holds <paramref name="steps"/> steps of <paramref name="globalBatch"/> rows drawn from <paramref name="sampler"/>.</summary>
    public StepOrders(KernelLibrary kernels, EpochSampler sampler, int steps, int globalBatch)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        this.sampler = sampler;
        Steps = steps;
        batch = globalBatch;
        rows = new Tensor<int>(kernels.Accelerator, new Shape(steps * globalBatch));
        staging = new int[steps * globalBatch];
        after = new (int, int)[steps];
    }

    /// <summary>Steps held at once.</summary>
    public int Steps { get; }

    /// <summary>The rows of every slot, (Steps * global batch).</summary>
    public TensorView<int> View => rows.View;

    /// <summary>Device memory held.</summary>
    public long DeviceBytes => rows.SizeInBytes;

    /// <summary>
    /// Makes steps <paramref name="first"/> .. first + Steps - 1 ready: draws those not drawn yet from the sampler (each
    /// step is drawn once, in order, whenever the reads fall) and uploads the slots (one copy; call where the device is
    /// idle, since the slots of earlier steps are overwritten).
    /// </summary>
    public void Fill(int first)
    {
        if (first < firstStep || first > lastStep + 1)
        {
            lastStep = first - 1;
        }

        for (int step = lastStep + 1; step < first + Steps; step++)
        {
            int slot = (step - 1) % Steps;
            int offset = sampler.Next(out _);
            Array.Copy(sampler.Permutation, offset, staging, slot * batch, batch);
            after[slot] = (sampler.Epoch, sampler.Offset);
        }

        rows.Upload(staging);
        firstStep = first;
        lastStep = first + Steps - 1;
    }

    /// <summary>Where step <paramref name="step"/>'s global batch starts in <see cref="View"/>.</summary>
    /// <exception cref="InvalidOperationException">The step was not drawn by the last <see cref="Fill"/>.</exception>
    public int OffsetOf(int step) => (Slot(step) * batch);

    /// <summary>The sampler's (epoch, offset) right after it drew step <paramref name="step"/>: where a resumed run continues.</summary>
    public (int Epoch, int Offset) SamplerAfter(int step) => after[Slot(step)];

    /// <inheritdoc/>
    public void Dispose() => rows.Dispose();

    private int Slot(int step)
    {
        if (step < firstStep || step > lastStep)
        {
            throw new InvalidOperationException($"Step {step} is not among the drawn steps {firstStep} .. {lastStep}; orders are drawn at read points.");
        }

        return (step - 1) % Steps;
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
