using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Optim;
using GpuNet.Kernels;

namespace GpuNet.Engine.Training;

/// <summary>What a training run reports as it goes; the CLI renders it.</summary>
public interface ITrainingObserver
{
    /// <summary>The model is built: its parameter count and the device memory the run holds.</summary>
    void Started(TrainConfig config, string accelerator, long parameters, long deviceBytes, int firstStep);

    /// <summary>A step finished; <paramref name="imagesPerSecond"/> is the training throughput so far.</summary>
    void Step(int step, int steps, double imagesPerSecond, double elapsedSeconds);

    /// <summary>An evaluation finished.</summary>
    void Evaluated(MetricsRow row, int steps);

    /// <summary>A step had a non-finite loss or gradient and was skipped (--on-nan skip).</summary>
    void Skipped(int step, string reason);
}

/// <summary>The outcome of a training run.</summary>
public sealed record TrainResult(
    IReadOnlyList<MetricsRow> Rows, double WallSeconds, double TrainSeconds, double TrainImagesPerSecond, long ParameterCount, long DeviceBytes, int SkippedSteps);

/// <summary>A model with its loss and the device-resident test data, for evaluation.</summary>
public sealed class Evaluator(Sequential model, SoftmaxCrossEntropyLoss loss, BatchBuffers batches, DeviceSplit test, LossTotals totals)
{
    /// <summary>Mean loss and accuracy over the whole split, in evaluation mode (running BatchNorm statistics).</summary>
    public (double Loss, double Accuracy) Evaluate()
    {
        ArgumentNullException.ThrowIfNull(model);
        for (int offset = 0; offset < test.Count; offset += model.BatchCapacity)
        {
            int rows = Math.Min(model.BatchCapacity, test.Count - offset);
            var (input, labels) = batches.Gather(test, offset, rows);
            loss.Compute(model.Forward(input, training: false), labels, totals);
        }

        var (meanLoss, accuracy, _) = totals.Read();
        return (meanLoss, accuracy);
    }
}

/// <summary>
/// The training loop: steps, periodic evaluation on the whole test set, checkpoints, and the run's files. Each step
/// reads back the batch loss and one flag per parameter (non-finite gradient) to catch divergence at the step it
/// happens; everything else stays on the device.
/// </summary>
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

        var wall = Stopwatch.StartNew();
        var kernels = device.Kernels;
        var sample = data.SampleShape;
        var spec = config.Architecture([sample[0], sample[1], sample[2]], data.Classes);
        var preprocessing = Preprocessing.FromTraining(data.Train, sample, config.Normalize);

        using var model = spec.Build(kernels, config.BatchSize, config.Seed);
        using var loss = new SoftmaxCrossEntropyLoss(kernels, config.BatchSize, data.Classes);
        using Optimizer optimizer = config.Optimizer == "adam"
            ? new Adam(kernels, model.NamedParameters, new AdamSettings((float)config.LearningRate, WeightDecay: (float)config.WeightDecay))
            : new Sgd(kernels, model.NamedParameters, new SgdSettings((float)config.LearningRate, (float)config.Momentum, (float)config.WeightDecay));
        using var batches = new BatchBuffers(kernels, sample, config.BatchSize, preprocessing);
        using var train = new DeviceSplit(kernels, data.Train, sample);
        using var test = new DeviceSplit(kernels, data.Test, sample);
        using var stepTotals = new LossTotals(kernels);
        using var testTotals = new LossTotals(kernels);
        using var nonFinite = new Tensor<int>(kernels.Accelerator, new Shape(Math.Max(1, model.NamedParameters.Count)));
        var flags = new int[nonFinite.Capacity.Length];
        var evaluator = new Evaluator(model, loss, batches, test, testTotals);
        var sampler = new EpochSampler(data.Train.Count, config.BatchSize, config.Seed + 1);

        var state = new TrainingState();
        if (resumeFrom is not null)
        {
            var (_, tensors, _, saved) = Checkpoint.Read(resumeFrom);
            ModelFile.Apply(model, tensors, resumeFrom);
            Checkpoint.ApplyOptimizer(optimizer, tensors, saved.OptimizerSteps, resumeFrom);
            sampler.Restore(saved.Epoch, saved.Offset);
            if (saved.Epoch > 0)
            {
                train.SetOrder(sampler.Permutation);
            }

            state = saved;
        }

        long deviceBytes = model.DeviceBytes + loss.DeviceBytes + optimizer.DeviceBytes + batches.DeviceBytes + train.DeviceBytes + test.DeviceBytes;
        string accelerator = DeviceSelector.Describe(device.Info.Kind);
        observer?.Started(config, accelerator, model.ParameterCount, deviceBytes, state.Step + 1);

        var rows = new List<MetricsRow>(state.Rows);
        string title = $"{config.Model} on {data.Name} ({accelerator}: {device.Info.Name})";
        string checkpointPath = Path.Combine(outDir, Checkpoint.FileName);
        double elapsedBefore = state.ElapsedSeconds, trainBefore = state.TrainSeconds;
        var trainClock = new Stopwatch();
        double lossSum = state.TrainLossSum;
        long samples = state.TrainSamples, trainImages = state.TrainImages, optimizerSteps = state.OptimizerSteps;
        int skipped = state.SkippedSteps;

        TrainingState Snapshot(int step) => new()
        {
            Step = step,
            OptimizerSteps = optimizerSteps,
            Epoch = sampler.Epoch,
            Offset = sampler.Epoch == 0 ? 0 : sampler.Offset,
            TrainLossSum = lossSum,
            TrainSamples = samples,
            SkippedSteps = skipped,
            ElapsedSeconds = elapsedBefore + wall.Elapsed.TotalSeconds,
            TrainSeconds = trainBefore + trainClock.Elapsed.TotalSeconds,
            TrainImages = trainImages,
            Rows = [.. rows],
        };

        void SaveCheckpoint(int step) =>
            Checkpoint.Save(checkpointPath, model, optimizer, spec, preprocessing, data.Name, config, Snapshot(step));

        for (int step = state.Step + 1; step <= config.Steps; step++)
        {
            trainClock.Start();
            int offset = sampler.Next(out bool reshuffled);
            if (reshuffled)
            {
                train.SetOrder(sampler.Permutation);
            }

            var (input, labels) = batches.Gather(train, offset, config.BatchSize);
            var dLogits = loss.Compute(model.Forward(input, training: true), labels, stepTotals, accumulate: false);
            model.Backward(dLogits);
            for (int i = 0; i < model.NamedParameters.Count; i++)
            {
                kernels.Elementwise.FlagNonFinite(nonFinite.View, i, model.NamedParameters[i].Parameter.Gradient.View);
            }

            float batchLoss = stepTotals.PeekLossSum(); // the one wait of a step: the batch loss and the gradient flags
            nonFinite.Download(flags);
            if (!float.IsFinite(batchLoss) || Array.IndexOf(flags, 1) >= 0)
            {
                string reason = Divergence(model, batchLoss, flags, step);
                if (config.OnNan == NanPolicy.Stop)
                {
                    trainClock.Stop();
                    throw new DivergenceException(
                        $"{reason}; stopped{(File.Exists(checkpointPath) ? $", the last good checkpoint is {checkpointPath}" : "")} (--on-nan skip skips such steps).");
                }

                foreach (var (_, parameter) in model.NamedParameters)
                {
                    kernels.Elementwise.Fill(parameter.Gradient.View, 0f);
                }

                Array.Clear(flags);
                nonFinite.Upload(flags);
                skipped++;
                observer?.Skipped(step, reason);
            }
            else
            {
                optimizer.Step();
                optimizerSteps++;
                lossSum += batchLoss;
                samples += config.BatchSize;
            }

            trainImages += config.BatchSize;
            trainClock.Stop();

            if (step % config.EvalEvery == 0 || step == config.Steps)
            {
                var (testLoss, testAccuracy) = evaluator.Evaluate();
                var row = new MetricsRow(step, samples > 0 ? lossSum / samples : double.NaN, testLoss, testAccuracy, elapsedBefore + wall.Elapsed.TotalSeconds);
                rows.Add(row);
                lossSum = 0;
                samples = 0;
                RunFiles.WriteProgress(outDir, rows, title);
                observer?.Evaluated(row, config.Steps);
            }

            bool stopping = cancel.IsCancellationRequested;
            if (stopping || step == config.Steps || (config.CheckpointEvery > 0 && step % config.CheckpointEvery == 0))
            {
                SaveCheckpoint(step);
            }

            if (stopping)
            {
                RunFiles.WriteProgress(outDir, rows, title);
                throw new OperationCanceledException(
                    string.Create(CultureInfo.InvariantCulture, $"Interrupted after step {step}; resume with: gpunet train --resume {outDir}"), cancel);
            }

            double trainSeconds = trainBefore + trainClock.Elapsed.TotalSeconds;
            observer?.Step(step, config.Steps, trainImages / Math.Max(trainSeconds, 1e-9), elapsedBefore + wall.Elapsed.TotalSeconds);
        }

        ModelFile.Save(Path.Combine(outDir, RunFiles.ModelFile), model, spec, preprocessing, data.Name, config);
        double totalTrain = trainBefore + trainClock.Elapsed.TotalSeconds;
        var result = new TrainResult(
            rows, elapsedBefore + wall.Elapsed.TotalSeconds, totalTrain, trainImages / Math.Max(totalTrain, 1e-9), model.ParameterCount, deviceBytes, skipped);
        RunFiles.WriteSummary(outDir, Summary(config, data, device, result));
        return result;
    }

    /// <summary>One line naming the step, the loss and the first layer whose gradient is not finite.</summary>
    private static string Divergence(Sequential model, float batchLoss, int[] flags, int step)
    {
        int first = Array.IndexOf(flags, 1);
        string where = "";
        if (first >= 0)
        {
            string name = model.NamedParameters[first].Name;
            int layer = int.Parse(name[..name.IndexOf('.', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            where = $"; first non-finite gradient in layer {layer} ({model.Layers[layer].Kind}, {name})";
        }

        return string.Create(CultureInfo.InvariantCulture, $"Divergence at step {step}: the batch loss is {batchLoss}{where}");
    }

    private static JsonObject Summary(TrainConfig config, Dataset data, Device device, TrainResult result)
    {
        var last = result.Rows[^1];
        return new JsonObject
        {
            ["model"] = config.Model,
            ["dataset"] = data.Name,
            ["accelerator"] = DeviceSelector.Describe(device.Info.Kind),
            ["device_name"] = device.Info.Name,
            ["steps"] = config.Steps,
            ["final_test_accuracy"] = last.TestAccuracy,
            ["best_test_accuracy"] = result.Rows.Max(r => r.TestAccuracy),
            ["final_test_loss"] = last.TestLoss,
            ["final_train_loss"] = last.TrainLoss,
            ["train_images_per_second"] = Math.Round(result.TrainImagesPerSecond, 1),
            ["train_seconds"] = Math.Round(result.TrainSeconds, 3),
            ["wall_seconds"] = Math.Round(result.WallSeconds, 3),
            ["skipped_steps"] = result.SkippedSteps,
            ["parameters"] = result.ParameterCount,
            ["device_memory_bytes"] = result.DeviceBytes,
            ["config"] = JsonSerializer.SerializeToNode(config, RunFiles.Json),
        };
    }
}
