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
public sealed record ModelFileInfo(ModelSpec Spec, Preprocessing Preprocessing, string Dataset, IReadOnlyDictionary<string, string> Metadata, GemmPrecision Precision = GemmPrecision.Fp32)
{
    /// <summary>
    /// The class names, in label order: those the file records (an image folder's), else the named data set's, else
    /// the label numbers.
    /// </summary>
    public IReadOnlyList<string> ClassNames
    {
        get
        {
            if (Metadata.TryGetValue(ModelFile.ClassNamesKey, out var json))
            {
                try
                {
                    if (JsonSerializer.Deserialize<string[]>(json) is { } names && names.Length == Spec.Classes)
                    {
                        return names;
                    }
                }
                catch (JsonException)
                {
                    // A malformed list falls back to the data set's names.
                }
            }

            return (Data.DataSets.Find(Dataset) is { } kind ? Data.DataSets.ClassNames(kind) : null) is { } known && known.Count == Spec.Classes
                ? known
                : [.. Enumerable.Range(0, Spec.Classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        }
    }
}

/// <summary>
/// A trained model as a safetensors file: parameters and BatchNorm buffers under PyTorch nn.Sequential names
/// ("0.weight", "1.running_mean", "1.num_batches_tracked", ...), the preprocessing as tensors
/// ("preprocess.mean" (C, H, W) and "preprocess.inv_std" (C): input = (pixels - mean) * inv_std per channel) and, in
/// the metadata, the architecture ("gpunet.model") and the training configuration ("gpunet.config") as JSON.
/// </summary>
public static class ModelFile
{
    /// <summary>The metadata key of the architecture: the model file's JSON (<see cref="ModelDefinition.ToJson"/>).</summary>
    public const string ModelKey = "gpunet.model";
    /// <summary>The metadata key of the per-sample input shape, "C,H,W".</summary>
    public const string InputKey = "gpunet.input";
    /// <summary>The metadata key of the class count.</summary>
    public const string ClassesKey = "gpunet.classes";
    /// <summary>The metadata key of the training configuration (<see cref="TrainConfig"/> as JSON).</summary>
    public const string ConfigKey = "gpunet.config";
    /// <summary>The metadata key of the data set's name.</summary>
    public const string DatasetKey = "gpunet.dataset";

    /// <summary>The metadata key of the class names, a JSON array in label order.</summary>
    public const string ClassNamesKey = "gpunet.class_names";
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
        IReadOnlyDictionary<string, string>? extraMetadata = null,
        IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(preprocessing);
        var tensors = new List<(string, SafeTensor)>();
        foreach (var (layerPath, layer) in model.NamedLayers)
        {
            foreach (var p in layer.Parameters)
            {
                tensors.Add(($"{layerPath}.{p.Name}", ToSafe(p.Value)));
            }

            foreach (var (name, value) in layer.Buffers)
            {
                tensors.Add(($"{layerPath}.{name}", ToSafe(value)));
            }

            if (layer is BatchNorm bn)
            {
                tensors.Add(($"{layerPath}.num_batches_tracked", SafeTensor.FromInt64(bn.BatchesTracked)));
            }
        }

        var sample = spec.InputShape.Select(d => (long)d).ToArray();
        tensors.Add((MeanName, SafeTensor.FromFloats(preprocessing.Mean, sample)));
        tensors.Add((InvStdName, SafeTensor.FromFloats(preprocessing.InvStd, sample[0])));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [ModelKey] = spec.Definition.ToJson(),
            [InputKey] = string.Join(",", spec.InputShape),
            [ClassesKey] = spec.Classes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [DatasetKey] = dataset,
            [ClassNamesKey] = JsonSerializer.Serialize(classNames ?? []),
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

        var input = metadata.GetValueOrDefault(InputKey)?.Split(',');
        int[] inputShape = [];
        int classes = 0;
        if (input is not { Length: 3 } || !input.All(d => int.TryParse(d, System.Globalization.CultureInfo.InvariantCulture, out _))
            || (inputShape = [.. input.Select(d => int.Parse(d, System.Globalization.CultureInfo.InvariantCulture))]).Any(d => d < 1 || d > Readers.MaxSide)
            || !int.TryParse(metadata.GetValueOrDefault(ClassesKey), System.Globalization.CultureInfo.InvariantCulture, out classes) || classes is < 1 or > 100_000)
        {
            throw new CheckpointException($"{path}: '{InputKey}' or '{ClassesKey}' metadata is missing or out of range; not a model file of this GpuNet version.");
        }

        ModelSpec spec;
        try
        {
            var definition = ModelDefinition.Parse(modelJson, $"{path}: '{ModelKey}'");
            definition.Check(new Shape(inputShape), classes, $"{path}: '{ModelKey}'");
            spec = new ModelSpec(definition, inputShape, classes);
        }
        catch (ConfigurationException e)
        {
            throw new CheckpointException(e.Message, e);
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
        foreach (var (path, layer) in model.NamedLayers)
        {
            foreach (var p in layer.Parameters)
            {
                Load(p.Value, $"{path}.{p.Name}");
            }

            foreach (var (name, value) in layer.Buffers)
            {
                Load(value, $"{path}.{name}");
            }

            if (layer is BatchNorm bn && tensors.TryGetValue($"{path}.num_batches_tracked", out var tracked) && tracked.DType == "I64" && tracked.Shape.Length == 0)
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
