// What a training run reports and returns: the observer, the trainer's options, the interruption and the result.
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Runs;

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
/// <param name="BestStep">The step of the evaluation with the best validation accuracy (test accuracy without a validation split).</param>
/// <param name="StoppedEarlyAt">The step at which --early-stop ended the run (0: it ran all its steps).</param>
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
    int Ranks = 1,
    int BestStep = 0,
    int StoppedEarlyAt = 0)
{
    /// <summary>The evaluation at <see cref="BestStep"/> (the last one when none is recorded).</summary>
    public MetricsRow Best => Rows.LastOrDefault(r => r.Step == BestStep) ?? Rows[^1];
}
