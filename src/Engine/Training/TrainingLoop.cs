// TrainingLoop runs the steps without waiting for the device and reads it only at its read points (evaluations,
// checkpoints, progress intervals, the end), where it reports divergence, evaluates, writes checkpoints and the run's files.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Runs;

namespace GpuNet.Engine.Training;

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
    private long trainImages, appliedUpdates, launchesInSteps, waitsInSteps, collectivesInSteps;
    private int skipped, bestStep, evaluationsSinceBest, stoppedEarlyAt;
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
        bestStep = state.BestStep;
        evaluationsSinceBest = state.EvaluationsSinceBest;
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
            long launches = policy.Launches, waits = device.Reads.Count, collectives = parallel.Collectives;
            parallel.OfferStop(StopRequest(cancel));
            session.Step.Run(step);
            samplerAfter = session.Step.Orders.SamplerAfter(step);
            launchesInSteps += policy.Launches - launches;
            waitsInSteps += device.Reads.Count - waits;
            trainImages += config.BatchSize;

            // The ranks agree after the same step, with no collective of their own: on the MPI path the request offered
            // above rode in the step's gradient sum; on the NCCL path it rides there too, and the host learns the sum
            // at the next read point (below), the same step on every rank.
            // A stop agreed after the last step is no stop: the run is whole, and finishing writes its model and summary.
            int stopCode = parallel.AgreeOnStop(StopRequest(cancel));
            collectivesInSteps += parallel.Collectives - collectives;
            bool stopping = stopCode != 0 && step < config.Steps;
            bool evaluate = step % config.EvalEvery == 0 || step == config.Steps;
            bool checkpoint = stopping || step == config.Steps || (config.CheckpointEvery > 0 && step % config.CheckpointEvery == 0);
            // Progress reads are timed, so ranks would read at different steps: data-parallel runs read only where all do.
            bool progress = parallel.Size == 1 && options.ProgressReadInterval is { } interval && sinceRead.Elapsed >= interval;
            if (evaluate || checkpoint || progress || step - monitor.AccountedThrough >= session.Step.ReadEvery)
            {
                var report = ReadDevice(step);
                session.Step.PrepareOrders(step + 1);
                if (!stopping && step < config.Steps && parallel.StopAtRead(report.StopCode) is var recorded and not 0)
                {
                    (stopCode, stopping, checkpoint) = (recorded, true, true);
                }
            }

            trainClock.Stop();
            if (evaluate)
            {
                Evaluate(step);
            }

            // --early-stop: every rank sees the same all-reduced accuracies, so all stop at the same evaluation.
            if (evaluate && config.EarlyStop > 0 && evaluationsSinceBest >= config.EarlyStop && step < config.Steps)
            {
                stoppedEarlyAt = step;
                session.SaveCheckpoint(checkpointPath, Snapshot(step));
                return Finish(step);
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

    /// <summary>This process's stop request: its interrupt's exit code once <paramref name="cancel"/> is signalled, else 0.</summary>
    private int StopRequest(CancellationToken cancel) => cancel.IsCancellationRequested ? options.InterruptCode?.Invoke() ?? DataParallel.InterruptCode : 0;

    /// <summary>A read point: the device's record through <paramref name="step"/>; stops a diverged run (--on-nan stop).</summary>
    private StepReport ReadDevice(int step)
    {
        var report = monitor.Read(step);
        parallel.CheckCommunication();
        sinceRead.Restart();
        appliedUpdates = report.AppliedUpdates;
        skipped = report.SkippedSteps;
        if (report.Divergence is not { } reason)
        {
            return report;
        }

        if (config.OnNan == NanPolicy.Stop)
        {
            trainClock.Stop();
            throw new DivergenceException(
                $"{reason}; stopped{(File.Exists(checkpointPath) ? $", the last good checkpoint is {checkpointPath}" : "")} (--on-nan skip skips such steps).");
        }

        observer?.Skipped(step, report.NewlySkipped > 1 ? $"{report.NewlySkipped} steps skipped since the last report; the last: {reason}" : reason);
        return report;
    }

    private void Evaluate(int step)
    {
        // Data parallel: the ranks must hold the same parameters, and evaluate with the running statistics averaged.
        parallel.CheckIdentical(session.Model, step, session.Device.Reads);
        parallel.AverageBuffers(session.Model, session.Device.Reads);
        var (testLoss, testAccuracy) = session.Evaluator.Evaluate();
        var (valLoss, valAccuracy) = session.ValidationEvaluator?.Evaluate() ?? (double.NaN, double.NaN);
        var row = new MetricsRow(step, monitor.TakeLoss(), testLoss, testAccuracy, Elapsed, config.Schedule.At(step), valLoss, valAccuracy);
        var best = rows.FirstOrDefault(r => r.Step == bestStep);
        rows.Add(row);
        if (best is null || row.Score > best.Score)
        {
            bestStep = step;
            evaluationsSinceBest = 0;
            if (config.Keep == KeepModel.Best)
            {
                session.SaveModel(Path.Combine(outDir, RunFiles.BestModelFile));
            }
        }
        else
        {
            evaluationsSinceBest++;
        }

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
        BestStep = bestStep,
        EvaluationsSinceBest = evaluationsSinceBest,
        StoppedEarlyAt = stoppedEarlyAt,
    };

    private TrainResult Finish(int lastStep = 0)
    {
        session.SaveModel(Path.Combine(outDir, RunFiles.ModelFile));
        int stepsRun = Math.Max(1, (lastStep > 0 ? lastStep : config.Steps) - firstStep + 1);
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
            parallel.Size,
            bestStep,
            stoppedEarlyAt);
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
            ["class_names"] = new JsonArray([.. session.Data.ClassNames.Select(n => JsonValue.Create(n))]),
            ["accelerator"] = DeviceSelector.Describe(device.Info.Kind),
            ["precision"] = Choices.Name(config.Precision),
            ["device_name"] = device.Info.Name,
            ["steps"] = config.Steps,
            ["final_test_accuracy"] = last.TestAccuracy,
            ["best_test_accuracy"] = result.Rows.Max(r => r.TestAccuracy),
            ["best_step"] = result.BestStep,
            ["best_step_metric"] = session.ValidationEvaluator is null ? "test_accuracy" : "val_accuracy",
            ["best_step_val_accuracy"] = result.Best.ValAccuracy,
            ["best_step_test_accuracy"] = result.Best.TestAccuracy,
            ["best_model"] = config.Keep == KeepModel.Best ? RunFiles.BestModelFile : null,
            ["validation_images"] = session.Validation?.Count ?? 0,
            ["final_val_accuracy"] = last.ValAccuracy,
            ["final_val_loss"] = last.ValLoss,
            ["stopped_early_at"] = result.StoppedEarlyAt > 0 ? result.StoppedEarlyAt : null,
            ["final_test_loss"] = last.TestLoss,
            ["final_train_loss"] = last.TrainLoss,
            ["train_images_per_second"] = Math.Round(result.TrainImagesPerSecond, 1),
            ["ranks"] = result.Ranks,
            ["train_images_per_second_per_rank"] = Math.Round(result.TrainImagesPerSecond / result.Ranks, 1),
            ["communication"] = Choices.Name(parallel.Method),
            ["train_seconds"] = Math.Round(result.TrainSeconds, 3),
            ["wall_seconds"] = Math.Round(result.WallSeconds, 3),
            ["skipped_steps"] = result.SkippedSteps,
            ["parameters"] = result.ParameterCount,
            ["device_memory_bytes"] = result.DeviceBytes,
            ["launches_per_step"] = Math.Round(result.LaunchesPerStep, 2),
            ["collectives_per_step"] = Math.Round((double)collectivesInSteps / Math.Max(1, result.Rows[^1].Step - firstStep + 1), 2),
            ["host_waits_per_step"] = Math.Round(result.HostWaitsPerStep, 4),
            ["host_waits"] = result.HostWaits,
            ["config"] = JsonSerializer.SerializeToNode(config, RunJson.Options),
        };
    }
}
