// The built-in models, generated from their options; with the default options each equals its shipped model file
// (models/NAME.json, embedded in the engine; a test holds them equal), which `gpunet models show NAME` prints.
using System.Reflection;
using GpuNet.Engine.Layers;
using GpuNet.Kernels;

namespace GpuNet.Engine.Models;

/// <summary>The built-in models (kebab-case names: mlp, mlp-deep, vgg).</summary>
public enum BuiltinModel
{
    /// <summary>The reference MLP (one hidden layer of 100).</summary>
    Mlp,

    /// <summary>The tuned MLP (hidden widths 512, 512, 256, 128, 64).</summary>
    MlpDeep,

    /// <summary>The VGG-style ConvNet.</summary>
    Vgg,
}

/// <summary>mlp, mlp-deep and vgg: their definitions and their shipped files.</summary>
public static class BuiltinModels
{
    /// <summary>The built-in models' names, in <see cref="BuiltinModel"/>'s order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Enum.GetValues<BuiltinModel>().Select(Name)];

    /// <summary>The reference ConvNet's channels; a max-pool follows the blocks marked true.</summary>
    public static readonly IReadOnlyList<(int Channels, bool PoolAfter)> VggBlocks =
    [
        (64, true), (128, true), (256, false), (256, true), (512, false), (512, true), (512, false), (512, true),
    ];

    /// <summary>One line on each built-in model, for <c>gpunet models</c>.</summary>
    public static readonly IReadOnlyDictionary<BuiltinModel, string> Descriptions = new Dictionary<BuiltinModel, string>
    {
        [BuiltinModel.Mlp] = "the reference MLP: Linear 100, ReLU, Linear to the classes (SGD, small-normal init)",
        [BuiltinModel.MlpDeep] = "the tuned MLP: hidden widths 512, 512, 256, 128, 64 with ReLU (Adam, Kaiming-uniform init)",
        [BuiltinModel.Vgg] = "the VGG-style ConvNet: 8 conv3x3-BatchNorm-ReLU blocks, 5 max-pools, a linear classifier",
    };

    /// <summary><paramref name="model"/>'s name: mlp, mlp-deep or vgg.</summary>
    public static string Name(BuiltinModel model) => Runs.Choices.Name(model);

    /// <summary>The built-in model named <paramref name="name"/>, or null (a model file's name, or none).</summary>
    public static BuiltinModel? Find(string? name) =>
        Enum.GetValues<BuiltinModel>().Where(model => Name(model) == name).Select(model => (BuiltinModel?)model).FirstOrDefault();

    /// <summary>A VGG channel count scaled by <paramref name="width"/>, at least 1.</summary>
    public static int Scaled(int channels, double width) => Math.Max(1, (int)Math.Round(channels * width));

    /// <summary>
    /// The built-in <paramref name="model"/> with its options: an MLP's hidden widths, BatchNorm and dropout; the VGG's
    /// channel multiplier.
    /// </summary>
    public static ModelDefinition Generate(BuiltinModel model, int[] hidden, bool batchNorm, WeightInit init, double width = 1.0, double dropout = 0)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        var layers = new List<LayerPlan>();
        switch (model)
        {
            case BuiltinModel.Mlp or BuiltinModel.MlpDeep:
                foreach (int size in hidden)
                {
                    layers.Add(new LayerPlan(LayerKind.Linear, size));
                    if (batchNorm)
                    {
                        layers.Add(new LayerPlan(LayerKind.BatchNorm));
                    }

                    layers.Add(new LayerPlan(LayerKind.Relu));
                    if (dropout > 0)
                    {
                        layers.Add(new LayerPlan(LayerKind.Dropout, Probability: dropout));
                    }
                }

                layers.Add(new LayerPlan(LayerKind.Linear, LayerPlan.ClassCount));
                break;
            case BuiltinModel.Vgg:
                // conv 3x3/1/1 -> BatchNorm -> ReLU blocks, max-pool 3x3/2/1 after blocks 1, 2, 4, 6 and 8, a 1x1
                // average pool, flatten and a linear layer to the classes.
                foreach (var (channels, poolAfter) in VggBlocks)
                {
                    layers.Add(new LayerPlan(LayerKind.Conv2d, Scaled(channels, width), new Window(3, 1, 1)));
                    layers.Add(new LayerPlan(LayerKind.BatchNorm));
                    layers.Add(new LayerPlan(LayerKind.Relu));
                    if (poolAfter)
                    {
                        layers.Add(new LayerPlan(LayerKind.MaxPool2d, 0, new Window(3, 2, 1)));
                    }
                }

                layers.Add(new LayerPlan(LayerKind.AvgPool2d, 0, new Window(1, 1, 0)));
                layers.Add(new LayerPlan(LayerKind.Flatten));
                layers.Add(new LayerPlan(LayerKind.Linear, LayerPlan.ClassCount));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(model), model, "not a built-in model");
        }

        return new ModelDefinition(Name(model), layers, init);
    }

    /// <summary>The shipped model file of <paramref name="model"/>, as text.</summary>
    public static string ShippedText(BuiltinModel model)
    {
        string name = Name(model);
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"GpuNet.Engine.models.{name}.json")
            ?? throw new InvalidOperationException($"The engine was built without its model file {name}.json.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The shipped model file of <paramref name="model"/>, parsed.</summary>
    public static ModelDefinition Shipped(BuiltinModel model) => ModelDefinition.Parse(ShippedText(model), $"{Name(model)}.json", Name(model));
}
