using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;
using GpuNet.Kernels;

namespace GpuNet.Engine.Training;

/// <summary>What a training run reports as it goes; the CLI renders it.</summary>
public interface ITrainingObserver
{
    /// <summary>The model is built: its parameter count and the device memory the run holds.</summary>
    void Started(TrainConfig config, string accelerator, long parameters, long deviceBytes);

    /// <summary>A step finished; <paramref name="imagesPerSecond"/> is the training throughput so far.</summary>
    void Step(int step, int steps, double imagesPerSecond, double elapsedSeconds);

    /// <summary>An evaluation finished.</summary>
    void Evaluated(MetricsRow row, int steps);
}

/// <summary>The outcome of a training run.</summary>
public sealed record TrainResult(
    IReadOnlyList<MetricsRow> Rows, double WallSeconds, double TrainSeconds, double TrainImagesPerSecond, long ParameterCount, long DeviceBytes);

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

/// <summary>The training loop: steps, periodic evaluation on the whole test set, metrics, plot, summary and weights.</summary>
public static class Trainer
{
    /// <summary>Trains as <paramref name="config"/> says on <paramref name="device"/>, writing the run's files into <paramref name="outDir"/>.</summary>
    public static TrainResult Run(TrainConfig config, Dataset data, Device device, string outDir, ITrainingObserver? observer = null)
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
        using var trainTotals = new LossTotals(kernels);
        using var testTotals = new LossTotals(kernels);
        var evaluator = new Evaluator(model, loss, batches, test, testTotals);
        long deviceBytes = model.DeviceBytes + loss.DeviceBytes + optimizer.DeviceBytes + batches.DeviceBytes + train.DeviceBytes + test.DeviceBytes;
        string accelerator = DeviceSelector.Describe(device.Info.Kind);
        observer?.Started(config, accelerator, model.ParameterCount, deviceBytes);

        var sampler = new EpochSampler(data.Train.Count, config.BatchSize, config.Seed + 1);
        var rows = new List<MetricsRow>();
        string title = $"{config.Model} on {data.Name} ({accelerator}: {device.Info.Name})";
        var trainClock = new Stopwatch();
        long trainImages = 0;
        for (int step = 1; step <= config.Steps; step++)
        {
            trainClock.Start();
            int offset = sampler.Next(out bool reshuffled);
            if (reshuffled)
            {
                train.SetOrder(sampler.Permutation);
            }

            var (input, labels) = batches.Gather(train, offset, config.BatchSize);
            var dLogits = loss.Compute(model.Forward(input, training: true), labels, trainTotals);
            model.Backward(dLogits);
            optimizer.Step();
            trainImages += config.BatchSize;

            if (step % config.EvalEvery == 0 || step == config.Steps)
            {
                var (trainLoss, _, _) = trainTotals.Read(); // waits for the device: the clock then holds real training time
                trainClock.Stop();
                var (testLoss, testAccuracy) = evaluator.Evaluate();
                var row = new MetricsRow(step, trainLoss, testLoss, testAccuracy, wall.Elapsed.TotalSeconds);
                rows.Add(row);
                RunFiles.WriteProgress(outDir, rows, title);
                observer?.Evaluated(row, config.Steps);
            }
            else
            {
                trainClock.Stop();
            }

            observer?.Step(step, config.Steps, trainImages / Math.Max(trainClock.Elapsed.TotalSeconds, 1e-9), wall.Elapsed.TotalSeconds);
        }

        ModelFile.Save(Path.Combine(outDir, RunFiles.ModelFile), model, spec, preprocessing, data.Name, config);
        var result = new TrainResult(
            rows, wall.Elapsed.TotalSeconds, trainClock.Elapsed.TotalSeconds, trainImages / Math.Max(trainClock.Elapsed.TotalSeconds, 1e-9),
            model.ParameterCount, deviceBytes);
        RunFiles.WriteSummary(outDir, Summary(config, data, device, result));
        return result;
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
            ["parameters"] = result.ParameterCount,
            ["device_memory_bytes"] = result.DeviceBytes,
            ["config"] = JsonSerializer.SerializeToNode(config, RunFiles.Json),
        };
    }
}
