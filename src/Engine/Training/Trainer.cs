// The training loop, in named parts: TrainingSession (TrainingSession.cs) builds what a run holds on the device,
// TrainingLoop (TrainingLoop.cs) runs the steps and their read points; Trainer ties them together.
using System.Diagnostics;
using GpuNet.Engine.Data;
using GpuNet.Engine.Runs;

namespace GpuNet.Engine.Training;

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
        options ??= new TrainerOptions();
        var wall = Stopwatch.StartNew();
        using var session = new TrainingSession(config, data, device, options.Parallel);
        var state = resumeFrom is null ? new TrainingState() : session.Restore(resumeFrom);
        var loop = new TrainingLoop(session, state, outDir, observer, options, wall);
        return loop.Run(cancel);
    }
}
