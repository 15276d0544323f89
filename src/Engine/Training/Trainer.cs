// The training loop, in named parts: TrainingSession builds everything a run holds on the device (model, loss,
// optimizer, data, the step and its monitor) and restores a checkpoint; TrainingLoop runs the steps without waiting
// for the device and reads it only at its read points (evaluations, checkpoints, progress intervals, the end), where
// it reports divergence, evaluates, writes checkpoints and the run's files; Trainer ties them together.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;
using GpuNet.Engine.Runs;
using GpuNet.Kernels;

namespace GpuNet.Engine.Training;

/// <summary>What a training run reports as it goes; the CLI renders it.</summary>
public interface ITrainingObserver
{
    /// <summary>The model is built: its parameter count and the device memory the run holds.</summary>
    void Started(TrainConfig config, string accelerator, long parameters, long deviceBytes, int firstStep);

    /// <summary>A step was handed to the device; <paramref name="imagesPerSecond"/> is the training throughput so far.</summary>
    void Step(int step, int steps, double imagesPerSecond, double elapsedSeconds);

    /// <summary>An evaluation finished.</summary>
    void Evaluated(MetricsRow row, int steps);

    /// <summary>A read found steps with a non-finite loss or gradient that were skipped (--on-nan skip).</summary>
    void Skipped(int step, string reason);
}

/// <summary>How the trainer talks to the host and to other ranks, beyond the configuration.</summary>
/// <param name="ProgressReadInterval">
/// Read the device's step record at most this often between evaluations, to report skipped steps and stop a diverged
/// run early (null: only at evaluations, checkpoints and the end). Changes no result.
/// </param>
/// <param name="Parallel">The data-parallel ranks this process is one of (null: one process).</param>
/// <param name="InterruptCode">
/// The exit code a stop request stands for (130 for SIGINT, 143 for SIGTERM), read when the cancellation token is
/// signalled; data-parallel ranks agree on the largest.
/// </param>
public sealed record TrainerOptions(TimeSpan? ProgressReadInterval = null, DataParallel? Parallel = null, Func<int>? InterruptCode = null);

/// <summary>The run stopped after a whole step because a rank was asked to stop; it wrote a checkpoint.</summary>
public sealed class TrainingInterruptedException : OperationCanceledException
{
    /// <summary>Creates the exception with its one-line message and the agreed exit code.</summary>
    public TrainingInterruptedException(string message, int exitCode, CancellationToken token)
        : base(message, token)
    {
        ExitCode = exitCode;
    }

    /// <summary>Creates the exception.</summary>
    public TrainingInterruptedException()
    {
    }

    /// <summary>Creates the exception with its message.</summary>
    public TrainingInterruptedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    public TrainingInterruptedException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>130 (SIGINT) or 143 (SIGTERM): the largest any rank was asked for.</summary>
    public int ExitCode { get; } = 130;
}

/// <summary>The outcome of a training run.</summary>
/// <param name="Rows">The evaluations.</param>
/// <param name="WallSeconds">Wall time across resumes.</param>
/// <param name="TrainSeconds">Time in training steps (evaluation and file writing excluded).</param>
/// <param name="TrainImagesPerSecond">Training throughput.</param>
/// <param name="ParameterCount">Trainable parameters.</param>
/// <param name="DeviceBytes">Device memory the run held.</param>
/// <param name="SkippedSteps">Steps skipped for a non-finite loss or gradient.</param>
/// <param name="LaunchesPerStep">Kernel launches per training step (this run's steps).</param>
/// <param name="HostWaitsPerStep">Blocking device reads made inside training steps, per step (0 by design).</param>
/// <param name="HostWaits">Blocking device reads of the whole loop: evaluations, checkpoints, progress reads, the end.</param>
/// <param name="Ranks">Data-parallel ranks (1: one process).</param>
public sealed record TrainResult(
    IReadOnlyList<MetricsRow> Rows,
    double WallSeconds,
    double TrainSeconds,
    double TrainImagesPerSecond,
    long ParameterCount,
    long DeviceBytes,
    int SkippedSteps,
    double LaunchesPerStep = 0,
    double HostWaitsPerStep = 0,
    long HostWaits = 0,
    int Ranks = 1);

/// <summary>
/// A model with its loss and the device-resident test data, for evaluation. Data-parallel ranks each evaluate a
/// contiguous share of the split and sum their losses and correct counts, so the accuracy is exactly one process's.
/// </summary>
public sealed class Evaluator(Sequential model, SoftmaxCrossEntropyLoss loss, BatchBuffers batches, DeviceSplit test, LossTotals totals, DataParallel? parallel = null)
{
    /// <summary>Mean loss and accuracy over the whole split, in evaluation mode (running BatchNorm statistics).</summary>
    public (double Loss, double Accuracy) Evaluate()
    {
        ArgumentNullException.ThrowIfNull(model);
        var ranks = parallel ?? DataParallel.OneProcess;
        int first = (int)((long)test.Count * ranks.Rank / ranks.Size), end = (int)((long)test.Count * (ranks.Rank + 1) / ranks.Size);
        for (int offset = first; offset < end; offset += model.BatchCapacity)
        {
            int rows = Math.Min(model.BatchCapacity, end - offset);
            var (input, labels) = batches.Gather(test, offset, rows);
            loss.Compute(model.Forward(input, training: false), labels, totals);
        }

        var (lossSum, correct, samples) = totals.ReadSums();
        (lossSum, correct, samples) = ranks.SumEvaluation(lossSum, correct, samples);
        return samples == 0 ? (double.NaN, double.NaN) : (lossSum / samples, (double)correct / samples);
    }
}

/// <summary>Trains a model: builds the session, restores a checkpoint when asked, runs the loop.</summary>
public static class Trainer
{
    /// <summary>
    /// Trains as <paramref name="config"/> says on <paramref name="device"/>, writing the run's files into
    /// <paramref name="outDir"/>; continues from <paramref name="resumeFrom"/> (a checkpoint path) when given.
    /// </summary>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancel"/> was signalled: the run stopped after a whole step and wrote a checkpoint.
    /// </exception>
    /// <exception cref="DivergenceException">A non-finite loss or gradient under <see cref="NanPolicy.Stop"/>.</exception>
    public static TrainResult Run(
        TrainConfig config,
        Dataset data,
        Device device,
        string outDir,
        ITrainingObserver? observer = null,
        string? resumeFrom = null,
        TrainerOptions? options = null,
        CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(device);
        config.Validate();
        if (config.BatchSize > data.Train.Count)
        {
            throw new ConfigurationException($"--batch-size {config.BatchSize} exceeds the {data.Train.Count} training images.");
        }

        options ??= new TrainerOptions();
        var wall = Stopwatch.StartNew();
        using var session = new TrainingSession(config, data, device, options.Parallel);
        var state = resumeFrom is null ? new TrainingState() : session.Restore(resumeFrom);
        var loop = new TrainingLoop(session, state, outDir, observer, options, wall);
        return loop.Run(cancel);
    }
}

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
        if (config.BatchSize % Parallel.Size != 0)
        {
            throw new ConfigurationException($"--batch-size {config.BatchSize} is the global batch and must divide by the {Parallel.Size} ranks.");
        }

        int localBatch = config.BatchSize / Parallel.Size;
        var kernels = device.Kernels;
        var sample = data.SampleShape;
        Spec = config.Architecture([sample[0], sample[1], sample[2]], data.Classes);
        Preprocessing = Preprocessing.FromTraining(data.Train, sample, config.Normalize);
        try
        {
            Model = Own(Spec.Build(kernels, localBatch, config.Seed, config.Precision));
            Loss = Own(new SoftmaxCrossEntropyLoss(kernels, localBatch, data.Classes));
            Optimizer = Own(CreateOptimizer(kernels, Model, config));
            Optimizer.Prepare(config.Steps);
            Batches = Own(new BatchBuffers(kernels, sample, localBatch, Preprocessing));
            Train = Own(new DeviceSplit(kernels, data.Train, sample));
            Test = Own(new DeviceSplit(kernels, data.Test, sample));
            TestTotals = Own(new LossTotals(kernels, device.Reads));
            Evaluator = new Evaluator(Model, Loss, Batches, Test, TestTotals, Parallel);
            Sampler = new EpochSampler(data.Train.Count, config.BatchSize, config.Seed + 1);
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

    /// <summary>The training data order.</summary>
    public EpochSampler Sampler { get; } = null!;

    /// <summary>One training step's launches.</summary>
    public TrainingStep Step { get; } = null!;

    /// <summary>Device memory the session holds.</summary>
    public long DeviceBytes =>
        Model.DeviceBytes + Loss.DeviceBytes + Optimizer.DeviceBytes + Batches.DeviceBytes + Train.DeviceBytes + Test.DeviceBytes + Step.DeviceBytes;

    /// <summary>The optimizer <paramref name="config"/> names, over <paramref name="model"/>'s arenas.</summary>
    public static Optimizer CreateOptimizer(KernelLibrary kernels, Sequential model, TrainConfig config) => Choices.Parse<OptimizerKind>(config.Optimizer) == OptimizerKind.Adam
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
            Checkpoint.Save(path, Model, Optimizer, Spec, Preprocessing, Data.Name, Config, state);
        }
    }

    /// <summary>Writes the model file to <paramref name="path"/> (rank 0 writes, after the running statistics are averaged).</summary>
    public void SaveModel(string path)
    {
        Parallel.AverageBuffers(Model, Device.Reads);
        if (Parallel.Rank == 0)
        {
            ModelFile.Save(path, Model, Spec, Preprocessing, Data.Name, Config);
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

/// <summary>The steps of one run and its read points: divergence, evaluation, checkpoints, progress, the end.</summary>
internal sealed class TrainingLoop
{
    private readonly TrainingSession session;
    private readonly TrainConfig config;
    private readonly string outDir;
    private readonly ITrainingObserver? observer;
    private readonly TrainerOptions options;
    private readonly Stopwatch wall;
    private readonly Stopwatch trainClock = new();
    private readonly Stopwatch sinceRead = Stopwatch.StartNew();
    private readonly StepMonitor monitor;
    private readonly List<MetricsRow> rows;
    private readonly double elapsedBefore, trainBefore;
    private readonly string title, checkpointPath;
    private readonly int firstStep;
    private readonly DataParallel parallel;
    private long trainImages, appliedUpdates, launchesInSteps, waitsInSteps;
    private int skipped;
    private (int Epoch, int Offset) samplerAfter;

    public TrainingLoop(TrainingSession session, TrainingState state, string outDir, ITrainingObserver? observer, TrainerOptions options, Stopwatch wall)
    {
        this.session = session;
        config = session.Config;
        this.outDir = outDir;
        this.observer = observer;
        this.options = options;
        this.wall = wall;
        parallel = session.Parallel;
        firstStep = state.Step + 1;
        rows = [.. state.Rows];
        elapsedBefore = state.ElapsedSeconds;
        trainBefore = state.TrainSeconds;
        trainImages = state.TrainImages;
        appliedUpdates = state.OptimizerSteps;
        skipped = state.SkippedSteps;
        monitor = new StepMonitor(session.Step, session.Model, session.Device.Reads, config.BatchSize, state.Step, state.TrainLossSum, state.TrainSamples, state.SkippedSteps);
        var device = session.Device;
        title = $"{config.Model} on {session.Data.Name} ({DeviceSelector.Describe(device.Info.Kind)}: {device.Info.Name})";
        checkpointPath = Path.Combine(outDir, Checkpoint.FileName);
    }

    private double Elapsed => elapsedBefore + wall.Elapsed.TotalSeconds;

    private double TrainSeconds => trainBefore + trainClock.Elapsed.TotalSeconds;

    public TrainResult Run(CancellationToken cancel)
    {
        var device = session.Device;
        var policy = device.Kernels.Policy;
        session.Step.Reset(firstStep, appliedUpdates);
        observer?.Started(config, DeviceSelector.Describe(device.Info.Kind), session.Model.ParameterCount, session.DeviceBytes, firstStep);
        for (int step = firstStep; step <= config.Steps; step++)
        {
            trainClock.Start();
            long launches = policy.Launches, waits = device.Reads.Count;
            session.Step.Run(step);
            samplerAfter = session.Step.Orders.SamplerAfter(step);
            launchesInSteps += policy.Launches - launches;
            waitsInSteps += device.Reads.Count - waits;
            trainImages += config.BatchSize;

            int stopCode = parallel.AgreeOnStop(cancel.IsCancellationRequested ? options.InterruptCode?.Invoke() ?? 130 : 0);
            bool stopping = stopCode != 0;
            bool evaluate = step % config.EvalEvery == 0 || step == config.Steps;
            bool checkpoint = stopping || step == config.Steps || (config.CheckpointEvery > 0 && step % config.CheckpointEvery == 0);
            // Progress reads are timed, so ranks would read at different steps: data-parallel runs read only where all do.
            bool progress = parallel.Size == 1 && options.ProgressReadInterval is { } interval && sinceRead.Elapsed >= interval;
            if (evaluate || checkpoint || progress || step - monitor.AccountedThrough >= session.Step.ReadEvery)
            {
                ReadDevice(step);
                session.Step.PrepareOrders(step + 1);
            }

            trainClock.Stop();
            if (evaluate)
            {
                Evaluate(step);
            }

            if (checkpoint)
            {
                session.SaveCheckpoint(checkpointPath, Snapshot(step));
            }

            if (stopping)
            {
                WriteProgress();
                throw new TrainingInterruptedException(
                    string.Create(CultureInfo.InvariantCulture, $"Interrupted after step {step}; resume with: gpunet train --resume {outDir}"), stopCode, cancel);
            }

            observer?.Step(step, config.Steps, trainImages / Math.Max(TrainSeconds, 1e-9), Elapsed);
        }

        return Finish();
    }

    /// <summary>A read point: the device's record through <paramref name="step"/>; stops a diverged run (--on-nan stop).</summary>
    private void ReadDevice(int step)
    {
        var report = monitor.Read(step);
        sinceRead.Restart();
        appliedUpdates = report.AppliedUpdates;
        skipped = report.SkippedSteps;
        if (report.Divergence is not { } reason)
        {
            return;
        }

        if (config.OnNan == NanPolicy.Stop)
        {
            trainClock.Stop();
            throw new DivergenceException(
                $"{reason}; stopped{(File.Exists(checkpointPath) ? $", the last good checkpoint is {checkpointPath}" : "")} (--on-nan skip skips such steps).");
        }

        observer?.Skipped(step, report.NewlySkipped > 1 ? $"{report.NewlySkipped} steps skipped since the last report; the last: {reason}" : reason);
    }

    private void Evaluate(int step)
    {
        // Data parallel: the ranks must hold the same parameters, and evaluate with the running statistics averaged.
        parallel.CheckIdentical(session.Model, step, session.Device.Reads);
        parallel.AverageBuffers(session.Model, session.Device.Reads);
        var (testLoss, testAccuracy) = session.Evaluator.Evaluate();
        var row = new MetricsRow(step, monitor.TakeLoss(), testLoss, testAccuracy, Elapsed, config.Schedule.At(step));
        rows.Add(row);
        WriteProgress();
        observer?.Evaluated(row, config.Steps);
    }

    /// <summary>metrics.csv and curves.png, by rank 0.</summary>
    private void WriteProgress()
    {
        if (parallel.Rank == 0)
        {
            RunFiles.WriteProgress(outDir, rows, title, config.Schedule.Describe());
        }
    }

    private TrainingState Snapshot(int step) => new()
    {
        Step = step,
        OptimizerSteps = appliedUpdates,
        Epoch = samplerAfter.Epoch,
        Offset = samplerAfter.Offset,
        TrainLossSum = monitor.LossSum,
        TrainSamples = monitor.Samples,
        SkippedSteps = skipped,
        ElapsedSeconds = Elapsed,
        TrainSeconds = TrainSeconds,
        TrainImages = trainImages,
        Rows = [.. rows],
        Ranks = parallel.Size,
    };

    private TrainResult Finish()
    {
        session.SaveModel(Path.Combine(outDir, RunFiles.ModelFile));
        int stepsRun = Math.Max(1, config.Steps - firstStep + 1);
        var result = new TrainResult(
            rows,
            Elapsed,
            TrainSeconds,
            trainImages / Math.Max(TrainSeconds, 1e-9),
            session.Model.ParameterCount,
            session.DeviceBytes,
            skipped,
            (double)launchesInSteps / stepsRun,
            (double)waitsInSteps / stepsRun,
            session.Device.Reads.Count,
            parallel.Size);
        if (parallel.Rank == 0)
        {
            RunFiles.WriteSummary(outDir, Summary(result));
        }

        return result;
    }

    private JsonObject Summary(TrainResult result)
    {
        var last = result.Rows[^1];
        var device = session.Device;
        return new JsonObject
        {
            ["model"] = config.Model,
            ["dataset"] = session.Data.Name,
            ["accelerator"] = DeviceSelector.Describe(device.Info.Kind),
            ["precision"] = Choices.Name(config.Precision),
            ["device_name"] = device.Info.Name,
            ["steps"] = config.Steps,
            ["final_test_accuracy"] = last.TestAccuracy,
            ["best_test_accuracy"] = result.Rows.Max(r => r.TestAccuracy),
            ["final_test_loss"] = last.TestLoss,
            ["final_train_loss"] = last.TrainLoss,
            ["train_images_per_second"] = Math.Round(result.TrainImagesPerSecond, 1),
            ["ranks"] = result.Ranks,
            ["train_images_per_second_per_rank"] = Math.Round(result.TrainImagesPerSecond / result.Ranks, 1),
            ["communication"] = parallel.Method,
            ["train_seconds"] = Math.Round(result.TrainSeconds, 3),
            ["wall_seconds"] = Math.Round(result.WallSeconds, 3),
            ["skipped_steps"] = result.SkippedSteps,
            ["parameters"] = result.ParameterCount,
            ["device_memory_bytes"] = result.DeviceBytes,
            ["launches_per_step"] = Math.Round(result.LaunchesPerStep, 2),
            ["host_waits_per_step"] = Math.Round(result.HostWaitsPerStep, 4),
            ["host_waits"] = result.HostWaits,
            ["config"] = JsonSerializer.SerializeToNode(config, RunJson.Options),
        };
    }
}
