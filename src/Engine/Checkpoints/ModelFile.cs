using System.Text.Json;
using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Runs;
using GpuNet.Kernels;
using BatchNorm = GpuNet.Engine.Layers.BatchNorm;

namespace GpuNet.Engine.Checkpoints;

/// <summary>
/// What a model file holds besides the weights: the architecture, the preprocessing, the data set's name and the
/// precision its GEMMs were trained in (what evaluating it uses too).
/// </summary>
public sealed record ModelFileInfo(ModelSpec Spec, Preprocessing Preprocessing, string Dataset, IReadOnlyDictionary<string, string> Metadata, GemmPrecision Precision = GemmPrecision.Fp32);

/// <summary>
/// A trained model as a safetensors file: parameters and BatchNorm buffers under PyTorch nn.Sequential names
/// ("0.weight", "1.running_mean", "1.num_batches_tracked", ...), the preprocessing as tensors
/// ("preprocess.mean" (C, H, W) and "preprocess.inv_std" (C): input = (pixels - mean) * inv_std per channel) and, in
/// the metadata, the architecture ("gpunet.model") and the training configuration ("gpunet.config") as JSON.
/// </summary>
public static class ModelFile
{
    /// <summary>The metadata key of the architecture (<see cref="ModelSpec"/> as JSON).</summary>
    public const string ModelKey = "gpunet.model";
    /// <summary>The metadata key of the training configuration (<see cref="TrainConfig"/> as JSON).</summary>
    public const string ConfigKey = "gpunet.config";
    /// <summary>The metadata key of the data set's name.</summary>
    public const string DatasetKey = "gpunet.dataset";
    /// <summary>The metadata key of the GEMMs' precision (fp32 or tf32; fp32 when absent).</summary>
    public const string PrecisionKey = "gpunet.precision";
    /// <summary>The tensor of the preprocessing's mean, (C, H, W).</summary>
    public const string MeanName = "preprocess.mean";
    /// <summary>The tensor of the preprocessing's per-channel 1 / std, (C).</summary>
    public const string InvStdName = "preprocess.inv_std";

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="path"/> atomically, with <paramref name="extraTensors"/> and
    /// <paramref name="extraMetadata"/> (a checkpoint's optimizer state and position) beside it.
    /// </summary>
    public static void Save(
        string path,
        Sequential model,
        ModelSpec spec,
        Preprocessing preprocessing,
        string dataset,
        TrainConfig? config,
        IEnumerable<(string Name, SafeTensor Tensor)>? extraTensors = null,
        IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(preprocessing);
        var tensors = new List<(string, SafeTensor)>();
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            foreach (var p in layer.Parameters)
            {
                tensors.Add(($"{i}.{p.Name}", ToSafe(p.Value)));
            }

            foreach (var (name, value) in layer.Buffers)
            {
                tensors.Add(($"{i}.{name}", ToSafe(value)));
            }

            if (layer is BatchNorm bn)
            {
                tensors.Add(($"{i}.num_batches_tracked", SafeTensor.FromInt64(bn.BatchesTracked)));
            }
        }

        var sample = spec.InputShape.Select(d => (long)d).ToArray();
        tensors.Add((MeanName, SafeTensor.FromFloats(preprocessing.Mean, sample)));
        tensors.Add((InvStdName, SafeTensor.FromFloats(preprocessing.InvStd, sample[0])));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [ModelKey] = JsonSerializer.Serialize(spec, RunJson.Options),
            [DatasetKey] = dataset,
            ["gpunet.normalization"] = preprocessing.Normalization == Normalization.None ? "none" : "standard",
        };
        if (config is not null)
        {
            metadata[ConfigKey] = JsonSerializer.Serialize(config, RunJson.Options);
            metadata[PrecisionKey] = Choices.Name(config.Precision);
        }

        tensors.AddRange(extraTensors ?? []);
        foreach (var (key, value) in extraMetadata ?? new Dictionary<string, string>())
        {
            metadata[key] = value;
        }

        AtomicFile.WriteAllBytes(path, SafeTensors.Serialize(tensors, metadata));
    }

    /// <summary>Reads a model file: its description and its tensors by name.</summary>
    /// <exception cref="CheckpointException">The file is missing or malformed.</exception>
    public static (ModelFileInfo Info, Dictionary<string, SafeTensor> Tensors) Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new CheckpointException($"{path}: file not found.");
        }

        var (tensors, metadata) = SafeTensors.Parse(File.ReadAllBytes(path), path);
        if (!metadata.TryGetValue(ModelKey, out var modelJson))
        {
            throw new CheckpointException($"{path}: no '{ModelKey}' metadata; not a GpuNet model file.");
        }

        ModelSpec spec;
        try
        {
            spec = JsonSerializer.Deserialize<ModelSpec>(modelJson, RunJson.Options)
                ?? throw new CheckpointException($"{path}: empty '{ModelKey}' metadata.");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: '{ModelKey}' metadata is not a model description ({GpuNetException.OneLine(e.Message)}).", e);
        }

        if (!ModelSpec.Names.Contains(spec.Model) || spec.InputShape is not { Length: 3 } || spec.InputShape.Any(d => d < 1 || d > Readers.MaxSide)
            || spec.Classes is < 1 or > 100_000 || spec.Hidden is null || spec.Hidden.Any(h => h is < 1 or > 1 << 16) || spec.Hidden.Length > 64
            || !(spec.Width > 0 && spec.Width <= 64) || !Enum.IsDefined(spec.Init))
        {
            throw new CheckpointException($"{path}: the model description is invalid (model '{spec.Model}', input, classes, hidden widths or width out of range).");
        }

        var mean = Expect(tensors, MeanName, [.. spec.InputShape.Select(d => (long)d)], path);
        var invStd = Expect(tensors, InvStdName, [spec.InputShape[0]], path);
        var normalization = metadata.GetValueOrDefault("gpunet.normalization") == "standard" ? Normalization.Standard : Normalization.None;
        var precision = GemmPrecision.Fp32;
        if (metadata.TryGetValue(PrecisionKey, out var precisionName))
        {
            precision = Choices.Of<GemmPrecision>().Contains(precisionName)
                ? Choices.Parse<GemmPrecision>(precisionName)
                : throw new CheckpointException($"{path}: '{PrecisionKey}' is '{precisionName}', not one of {string.Join(", ", Choices.Of<GemmPrecision>())}.");
        }

        var info = new ModelFileInfo(spec, new Preprocessing(normalization, mean.ToFloats(), invStd.ToFloats()), metadata.GetValueOrDefault(DatasetKey) ?? "", metadata, precision);
        return (info, tensors);
    }

    /// <summary>Uploads the file's parameters and buffers into <paramref name="model"/>, checking every name and shape.</summary>
    public static void Apply(Sequential model, IReadOnlyDictionary<string, SafeTensor> tensors, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tensors);
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            foreach (var p in layer.Parameters)
            {
                Load(p.Value, $"{i}.{p.Name}");
            }

            foreach (var (name, value) in layer.Buffers)
            {
                Load(value, $"{i}.{name}");
            }

            if (layer is BatchNorm bn && tensors.TryGetValue($"{i}.num_batches_tracked", out var tracked) && tracked.DType == "I64" && tracked.Shape.Length == 0)
            {
                bn.BatchesTracked = tracked.ToInt64();
            }
        }

        void Load(Tensor<float> target, string name)
        {
            var shape = Enumerable.Range(0, target.Capacity.Rank).Select(a => (long)target.Capacity[a]).ToArray();
            target.Upload(Expect(tensors, name, shape, source).ToFloats());
        }
    }

    /// <summary>The tensor <paramref name="name"/>, checked to be F32 of <paramref name="shape"/>.</summary>
    internal static SafeTensor Expect(IReadOnlyDictionary<string, SafeTensor> tensors, string name, long[] shape, string source)
    {
        if (!tensors.TryGetValue(name, out var tensor))
        {
            throw new CheckpointException($"{source}: tensor '{name}' is missing; the file does not fit this model.");
        }

        if (tensor.DType != "F32" || !tensor.Shape.SequenceEqual(shape))
        {
            throw new CheckpointException(
                $"{source}: tensor '{name}' is {tensor.DType} [{string.Join(", ", tensor.Shape)}] but the model needs F32 [{string.Join(", ", shape)}].");
        }

        return tensor;
    }

    internal static SafeTensor ToSafe(Tensor<float> tensor)
    {
        var shape = Enumerable.Range(0, tensor.Capacity.Rank).Select(a => (long)tensor.Capacity[a]).ToArray();
        return SafeTensor.FromFloats(tensor.Download(), shape);
    }
}
