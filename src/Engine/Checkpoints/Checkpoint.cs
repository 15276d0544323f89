using System.Text.Json;
using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;
using GpuNet.Engine.Runs;

namespace GpuNet.Engine.Checkpoints;

/// <summary>
/// A training checkpoint: a model file (so eval reads it) plus the optimizer state as "optimizer.{parameter}.{state}"
/// tensors and, in the metadata, the run's <see cref="TrainingState"/> ("gpunet.state"). Written atomically.
/// </summary>
public static class Checkpoint
{
    /// <summary>The checkpoint's file name in a run directory.</summary>
    public const string FileName = "checkpoint.safetensors";
    /// <summary>The metadata key of the <see cref="TrainingState"/> JSON.</summary>
    public const string StateKey = "gpunet.state";
    private const string OptimizerPrefix = "optimizer.";

    /// <summary>Writes a checkpoint of the model, the optimizer state and <paramref name="state"/> to <paramref name="path"/>, atomically.</summary>
    public static void Save(
        string path, Sequential model, Optimizer optimizer, ModelSpec spec, Preprocessing preprocessing, string dataset, TrainConfig config, TrainingState state, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var extra = optimizer.State.Select(s => (OptimizerPrefix + s.Name, ModelFile.ToSafe(s.Value)));
        var metadata = new Dictionary<string, string> { [StateKey] = JsonSerializer.Serialize(state, RunJson.Options) };
        ModelFile.Save(path, model, spec, preprocessing, dataset, config, extra, metadata, classNames);
    }

    /// <summary>Reads a checkpoint: its model file description, tensors, configuration and state.</summary>
    /// <exception cref="CheckpointException">It is missing, malformed or not a training checkpoint.</exception>
    public static (ModelFileInfo Info, Dictionary<string, SafeTensor> Tensors, TrainConfig Config, TrainingState State) Read(string path)
    {
        var (info, tensors) = ModelFile.Read(path);
        if (!info.Metadata.TryGetValue(StateKey, out var stateJson) || !info.Metadata.TryGetValue(ModelFile.ConfigKey, out var configJson))
        {
            throw new CheckpointException($"{path}: no training state; it is a model file, not a checkpoint (resume needs {FileName}).");
        }

        try
        {
            var config = JsonSerializer.Deserialize<TrainConfig>(configJson, RunJson.Options) ?? throw new JsonException("empty configuration");
            var state = JsonSerializer.Deserialize<TrainingState>(stateJson, RunJson.Options) ?? throw new JsonException("empty state");
            if (state.Step < 0 || state.Step > config.Steps || state.Epoch < 0 || state.Offset < 0 || state.TrainSamples < 0)
            {
                throw new JsonException($"step {state.Step}, epoch {state.Epoch}, offset {state.Offset} do not fit the configuration");
            }

            return (info, tensors, config, state);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: the training state or configuration is malformed ({GpuNetException.OneLine(e.Message)}).", e);
        }
    }

    /// <summary>Uploads the optimizer state of a checkpoint, checking every name and shape.</summary>
    public static void ApplyOptimizer(Optimizer optimizer, IReadOnlyDictionary<string, SafeTensor> tensors, string source)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        foreach (var (name, value) in optimizer.State)
        {
            var shape = Enumerable.Range(0, value.Capacity.Rank).Select(a => (long)value.Capacity[a]).ToArray();
            value.Upload(ModelFile.Expect(tensors, OptimizerPrefix + name, shape, source).ToFloats());
        }
    }
}
