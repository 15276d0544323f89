// TrainingSession builds everything a run holds on the device (model, loss, optimizer, data, the step and its
// monitor) and restores a checkpoint.
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;
using GpuNet.Engine.Runs;
using GpuNet.Kernels;

namespace GpuNet.Engine.Training;

/// <summary>
/// Everything a training run holds on the device, built once: the model, its loss, optimizer, both data splits, the
/// evaluator and the training step with its device-side record. The trainer runs one; benchmarks and launch plans
/// drive <see cref="Step"/> directly.
/// </summary>
public sealed class TrainingSession : IDisposable
{
    private readonly List<IDisposable> owned = [];

    /// <summary>
    /// Builds the session <paramref name="config"/> describes for <paramref name="data"/> on <paramref name="device"/>,
    /// as one of the data-parallel ranks of <paramref name="parallel"/> when given (each holds the whole model for its
    /// share of the global batch, <c>config.BatchSize / ranks</c> rows).
    /// </summary>
    /// <exception cref="ConfigurationException">The global batch does not divide by the ranks.</exception>
    public TrainingSession(TrainConfig config, Dataset data, Device device, DataParallel? parallel = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(device);
        Config = config;
        Data = data;
        Device = device;
        Parallel = parallel ?? DataParallel.OneProcess;
        config.CheckRanks(Parallel.Size);

        // --val-split holds a fixed share of the training set out; the preprocessing and the data order see only the rest.
        var (train, validation) = config.ValSplit > 0 ? data.Train.SplitOff(config.ValSplit) : (data.Train, null);
        if (data.Test.Count == 0 && validation is null)
        {
            throw new ConfigurationException($"{data.Name} has no test images (an image folder without test/): pass --val-split F to hold out a validation split, which is then the test set too.");
        }

        if (config.BatchSize > train.Count)
        {
            throw new ConfigurationException($"--batch-size {config.BatchSize} exceeds the {train.Count} training images.");
        }

        int localBatch = config.BatchSize / Parallel.Size;
        var kernels = device.Kernels;
        var sample = data.SampleShape;
        Spec = config.Architecture([sample[0], sample[1], sample[2]], data.Classes);
        Preprocessing = Preprocessing.FromTraining(train, sample, config.Normalize);
        try
        {
            Model = Own(Spec.Build(kernels, localBatch, config.Seed, config.Precision));
            Loss = Own(new SoftmaxCrossEntropyLoss(kernels, localBatch, data.Classes));
            Optimizer = Own(CreateOptimizer(kernels, Model, config));
            Optimizer.Prepare(config.Steps);
            Batches = Own(new BatchBuffers(kernels, sample, localBatch, Preprocessing));
            Train = Own(new DeviceSplit(kernels, train, sample));
            Test = Own(new DeviceSplit(kernels, data.Test.Count > 0 ? data.Test : validation!, sample));
            TestTotals = Own(new LossTotals(kernels, device.Reads));
            Evaluator = new Evaluator(Model, Loss, Batches, Test, TestTotals, Parallel);
            if (validation is not null)
            {
                Validation = Own(new DeviceSplit(kernels, validation, sample));
                ValidationEvaluator = new Evaluator(Model, Loss, Batches, Validation, TestTotals, Parallel);
            }

            Sampler = new EpochSampler(train.Count, config.BatchSize, config.Seed + 1);
            var settings = new StepSettings(
                localBatch,
                Math.Min(config.EvalEvery, config.Steps),
                config.OnNan == NanPolicy.Skip ? NonFiniteAction.Skip : NonFiniteAction.Stop,
                config.Schedule,
                config.Seed,
                config.Augment.Contains(Augmentation.Flip),
                config.Augment.Contains(Augmentation.Crop) ? config.CropPadding : 0,
                (float)config.LabelSmoothing,
                Parallel.FirstRow(config.BatchSize),
                config.BatchSize);
            Step = Own(new TrainingStep(kernels, Model, Loss, Optimizer, Batches, Train, Sampler, settings, Parallel, device.Reads));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The run's configuration.</summary>
    public TrainConfig Config { get; }

    /// <summary>The data set.</summary>
    public Dataset Data { get; }

    /// <summary>Where it runs.</summary>
    public Device Device { get; }

    /// <summary>The data-parallel ranks this session is one of (one process: <see cref="DataParallel.OneProcess"/>).</summary>
    public DataParallel Parallel { get; }

    /// <summary>The architecture.</summary>
    public ModelSpec Spec { get; }

    /// <summary>The pixel preprocessing, from the training split.</summary>
    public Preprocessing Preprocessing { get; }

    /// <summary>The model.</summary>
    public Sequential Model { get; } = null!;

    /// <summary>The fused softmax cross-entropy.</summary>
    public SoftmaxCrossEntropyLoss Loss { get; } = null!;

    /// <summary>The optimizer over the model's arena.</summary>
    public Optimizer Optimizer { get; } = null!;

    /// <summary>The input batch and labels.</summary>
    public BatchBuffers Batches { get; } = null!;

    /// <summary>The training split on the device.</summary>
    public DeviceSplit Train { get; } = null!;

    /// <summary>The test split on the device.</summary>
    public DeviceSplit Test { get; } = null!;

    /// <summary>The evaluation's running totals.</summary>
    public LossTotals TestTotals { get; } = null!;

    /// <summary>Evaluates the model on the test split.</summary>
    public Evaluator Evaluator { get; } = null!;

    /// <summary>The validation split on the device (null without --val-split).</summary>
    public DeviceSplit? Validation { get; }

    /// <summary>Evaluates the model on the validation split (null without --val-split).</summary>
    public Evaluator? ValidationEvaluator { get; }

    /// <summary>The training data order.</summary>
    public EpochSampler Sampler { get; } = null!;

    /// <summary>One training step's launches.</summary>
    public TrainingStep Step { get; } = null!;

    /// <summary>Device memory the session holds.</summary>
    public long DeviceBytes =>
        Model.DeviceBytes + Loss.DeviceBytes + Optimizer.DeviceBytes + Batches.DeviceBytes + Train.DeviceBytes + Test.DeviceBytes + (Validation?.DeviceBytes ?? 0) + Step.DeviceBytes;

    /// <summary>The optimizer <paramref name="config"/> names, over <paramref name="model"/>'s arenas.</summary>
    public static Optimizer CreateOptimizer(KernelLibrary kernels, Sequential model, TrainConfig config) => config.Optimizer == OptimizerKind.Adam
        ? new Adam(kernels, model, new AdamSettings((float)config.LearningRate, WeightDecay: (float)config.WeightDecay))
        : new Sgd(kernels, model, new SgdSettings((float)config.LearningRate, (float)config.Momentum, (float)config.WeightDecay));

    /// <summary>Loads a checkpoint into the model and optimizer and puts the data order where it was; returns its state.</summary>
    public TrainingState Restore(string path)
    {
        var (_, tensors, _, saved) = Checkpoint.Read(path);
        ModelFile.Apply(Model, tensors, path);
        Checkpoint.ApplyOptimizer(Optimizer, tensors, path);
        Sampler.Restore(saved.Epoch, saved.Offset);

        return saved;
    }

    /// <summary>
    /// Writes a checkpoint of the model, the optimizer and <paramref name="state"/> to <paramref name="path"/> (rank 0
    /// writes; every rank first averages the BatchNorm running statistics).
    /// </summary>
    public void SaveCheckpoint(string path, TrainingState state)
    {
        Parallel.AverageBuffers(Model, Device.Reads);
        if (Parallel.Rank == 0)
        {
            Checkpoint.Save(path, Model, Optimizer, Spec, Preprocessing, Data.Name, Config, state, Data.ClassNames);
        }
    }

    /// <summary>Writes the model file to <paramref name="path"/> (rank 0 writes, after the running statistics are averaged).</summary>
    public void SaveModel(string path)
    {
        Parallel.AverageBuffers(Model, Device.Reads);
        if (Parallel.Rank == 0)
        {
            ModelFile.Save(path, Model, Spec, Preprocessing, Data.Name, Config, classNames: Data.ClassNames);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        for (int i = owned.Count - 1; i >= 0; i--)
        {
            owned[i].Dispose();
        }

        owned.Clear();
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        owned.Add(disposable);
        return disposable;
    }
}
