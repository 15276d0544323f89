// One training step as the device receives it, with no wait for the device: gather the batch (a data-parallel rank's
// slice of the global batch, at the step's slot of the orders drawn at the last read point), forward, the fused softmax cross-entropy (its loss sum into the slot after the gradient
// arena), backward into the gradient arena, the ranks' sum of gradients and loss (data parallel only), one non-finite
// check over the arena and the loss (which also records the loss in this step's slot of a ring on the device), one
// optimizer launch over the parameter arena that reads the check's verdict on the device (data parallel: the check
// also records the summed stop flags and puts this rank's request in their place). The host learns what
// happened only when StepMonitor reads the ring and the status (at evaluations, checkpoints, progress intervals and
// the end). The only wait is MPI's sum through host memory, when several ranks run without NCCL.
using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Optim;
using GpuNet.Kernels;

namespace GpuNet.Engine.Training;

/// <summary>What a training step does besides forward, backward and the update.</summary>
/// <param name="BatchSize">Rows gathered per step.</param>
/// <param name="RingSize">Steps of losses the device keeps between reads (the host must read at least that often).</param>
/// <param name="Action">What a step with a non-finite loss or gradient does.</param>
/// <param name="Seed">The run's seed (augmentation draws).</param>
/// <param name="Flip">Mirror training images left to right with probability 0.5.</param>
/// <param name="CropPadding">Random crops from images zero-padded by this many pixels (0: none).</param>
/// <param name="LabelSmoothing">The training loss's label smoothing.</param>
/// <param name="Schedule">The learning rate of each step.</param>
/// <param name="FirstRow">This rank's first row in the global batch (0 in one process).</param>
/// <param name="GlobalBatch">Rows of the global batch, over all ranks (0: <paramref name="BatchSize"/>); gradients are of its mean loss.</param>
public sealed record StepSettings(
    int BatchSize,
    int RingSize,
    NonFiniteAction Action,
    LearningRateSchedule Schedule,
    int Seed = 0,
    bool Flip = false,
    int CropPadding = 0,
    float LabelSmoothing = 0f,
    int FirstRow = 0,
    int GlobalBatch = 0);

/// <summary>A training step's launches and the device-side record of every step since the host last read it.</summary>
public sealed class TrainingStep : IDisposable
{
    private readonly KernelLibrary kernels;
    private readonly Sequential model;
    private readonly SoftmaxCrossEntropyLoss loss;
    private readonly Optimizer optimizer;
    private readonly BatchBuffers batches;
    private readonly DeviceSplit train;
    private readonly StepOrders orders;
    private readonly StepSettings settings;
    private readonly DataParallel parallel;
    private readonly DeviceReads reads;

    /// <summary>Binds a step to its model, loss, optimizer and data, and (data parallel) to the other ranks.</summary>
    public TrainingStep(
        KernelLibrary kernels,
        Sequential model,
        SoftmaxCrossEntropyLoss loss,
        Optimizer optimizer,
        BatchBuffers batches,
        DeviceSplit train,
        EpochSampler sampler,
        StepSettings settings,
        DataParallel? parallel = null,
        DeviceReads? reads = null)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.RingSize, 1);
        this.kernels = kernels;
        this.model = model;
        this.loss = loss;
        this.optimizer = optimizer;
        this.batches = batches;
        this.train = train;
        this.settings = settings;
        this.parallel = parallel ?? DataParallel.OneProcess;
        this.reads = reads ?? new DeviceReads(kernels);
        int ringSize = settings.RingSize;
        RingSize = ringSize;
        int globalBatch = settings.GlobalBatch > 0 ? settings.GlobalBatch : settings.BatchSize;
        orders = new StepOrders(kernels, sampler, Math.Clamp(MaxOrderElements / globalBatch, 1, ringSize), globalBatch);
        Status = new Tensor<int>(kernels.Accelerator, new Shape(StepStatus.Length(model.NamedParameters.Count)));
        Losses = new Tensor<float>(kernels.Accelerator, new Shape(ringSize));
        Correct = new Tensor<int>(kernels.Accelerator, new Shape(ringSize));
        BadMarks = new Tensor<int>(kernels.Accelerator, new Shape(ringSize));
    }

    /// <summary>Sample indices the device holds for the coming steps at most (4 MiB): a read point comes at least that often.</summary>
    public const int MaxOrderElements = 1 << 20;

    /// <summary>Steps whose losses the device keeps between reads.</summary>
    public int RingSize { get; }

    /// <summary>Steps the host may run between read points: the ring's, or fewer when the orders of that many would not fit <see cref="MaxOrderElements"/>.</summary>
    public int ReadEvery => orders.Steps;

    /// <summary>The step status (see <see cref="StepStatus"/>).</summary>
    public Tensor<int> Status { get; }

    /// <summary>Per step (slot (step - 1) % RingSize): the batch's loss sum.</summary>
    public Tensor<float> Losses { get; }

    /// <summary>Per step: the batch's correct predictions.</summary>
    public Tensor<int> Correct { get; }

    /// <summary>Per step: the step number when its check failed.</summary>
    public Tensor<int> BadMarks { get; }

    /// <summary>Device memory held.</summary>
    public long DeviceBytes => Status.SizeInBytes + Losses.SizeInBytes + Correct.SizeInBytes + BadMarks.SizeInBytes + orders.DeviceBytes;

    /// <summary>The training order of the steps drawn at the last read point.</summary>
    public StepOrders Orders => orders;

    /// <summary>The ring slot of step <paramref name="step"/>.</summary>
    public int Slot(int step) => (step - 1) % RingSize;

    /// <summary>
    /// Clears the status before the first step a run makes, recording <paramref name="appliedUpdates"/> updates made
    /// before <paramref name="firstStep"/> (a resumed run's), and draws the orders of the steps from
    /// <paramref name="firstStep"/> on.
    /// </summary>
    public void Reset(int firstStep, long appliedUpdates)
    {
        var status = new int[Status.Capacity.Length];
        status[StepStatus.AppliedBefore(firstStep)] = checked((int)appliedUpdates);
        Status.Upload(status);
        BadMarks.Upload(new int[RingSize]);
        orders.Fill(firstStep);
    }

    /// <summary>
    /// Draws and uploads the orders of steps <paramref name="nextStep"/> .. nextStep + RingSize - 1. Call at a read
    /// point, when every launched step has finished (their slots are then free).
    /// </summary>
    public void PrepareOrders(int nextStep) => orders.Fill(nextStep);

    /// <summary>The settings it runs with.</summary>
    public StepSettings Settings => settings;

    /// <summary>Enqueues step <paramref name="step"/>; waits for nothing.</summary>
    public void Run(int step)
    {
        var augmentation = new GatherAugmentation(settings.Flip, settings.CropPadding, settings.Seed, step, settings.FirstRow);
        var (input, labels) = batches.Gather(train, orders.View, orders.OffsetOf(step) + settings.FirstRow, settings.BatchSize, augmentation);
        model.Step = step;
        model.FirstRow = settings.FirstRow;
        int slot = Slot(step);
        float gradScale = 1f / (settings.GlobalBatch > 0 ? settings.GlobalBatch : settings.BatchSize);
        var dLogits = loss.Compute(
            model.Forward(input, training: true), labels, model.LossSlot, Correct.View.Slice(slot, new Shape(1)), accumulate: false, gradScale, settings.LabelSmoothing);
        model.Backward(dLogits);
        parallel.SumArena(model.ReductionArena, reads);
        kernels.Optimizers.CheckFinite(
            Status.View,
            model.GradientArena,
            model.ArenaOffsetsOnDevice,
            model.LossSlot,
            BadMarks.View.Slice(slot, new Shape(1)),
            step,
            settings.Action,
            Losses.View.Slice(slot, new Shape(1)),
            parallel.Size > 1 ? model.CarriedSlots : default,
            parallel.OfferedFlags);
        optimizer.Step(step, (float)settings.Schedule.At(step), Status.View, settings.Action);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        orders.Dispose();
        Status.Dispose();
        Losses.Dispose();
        Correct.Dispose();
        BadMarks.Dispose();
    }
}
