// The built-in models, generated from their options; with the default options each equals its shipped model file
// (models/NAME.json, embedded in the engine; a test holds them equal), which `gpunet models show NAME` prints.
using System.Reflection;
using GpuNet.Engine.Layers;
using GpuNet.Kernels;

namespace GpuNet.Engine.Models;

/// <summary>mlp, mlp-deep and vgg: their definitions and their shipped files.</summary>
public static class BuiltinModels
{
    /// <summary>The built-in models' names.</summary>
    public static readonly IReadOnlyList<string> Names = ["mlp", "mlp-deep", "vgg"];

    /// <summary>The reference ConvNet's channels; a max-pool follows the blocks marked true.</summary>
    public static readonly IReadOnlyList<(int Channels, bool PoolAfter)> VggBlocks =
    [
        (64, true), (128, true), (256, false), (256, true), (512, false), (512, true), (512, false), (512, true),
    ];

    /// <summary>One line on each built-in model, for <c>gpunet models</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string> Descriptions = new Dictionary<string, string>
    {
        ["mlp"] = "the reference MLP: Linear 100, ReLU, Linear to the classes (SGD, small-normal init)",
        ["mlp-deep"] = "the tuned MLP: hidden widths 512, 512, 256, 128, 64 with ReLU (Adam, Kaiming-uniform init)",
        ["vgg"] = "the VGG-style ConvNet: 8 conv3x3-BatchNorm-ReLU blocks, 5 max-pools, a linear classifier",
    };

    /// <summary>A VGG channel count scaled by <paramref name="width"/>, at least 1.</summary>
    public static int Scaled(int channels, double width) => Math.Max(1, (int)Math.Round(channels * width));

    /// <summary>
    /// The built-in <paramref name="model"/> with its options: an MLP's hidden widths, BatchNorm and dropout; the VGG's
    /// channel multiplier.
    /// </summary>
    public static ModelDefinition Generate(string model, int[] hidden, bool batchNorm, WeightInit init, double width = 1.0, double dropout = 0)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        var layers = new List<LayerPlan>();
        switch (model)
        {
            case "mlp" or "mlp-deep":
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
            case "vgg":
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
                throw new ConfigurationException($"Unknown model '{model}'; known: {string.Join(", ", Names)}, or a model file (NAME.json).");
        }

        return new ModelDefinition(model, layers, init);
    }

    /// <summary>The shipped model file of <paramref name="model"/>, as text.</summary>
    public static string ShippedText(string model)
    {
        if (!Names.Contains(model))
        {
            throw new ConfigurationException($"Unknown model '{model}'; known: {string.Join(", ", Names)}.");
        }

        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"GpuNet.Engine.models.{model}.json")
            ?? throw new InvalidOperationException($"The engine was built without its model file {model}.json.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The shipped model file of <paramref name="model"/>, parsed.</summary>
    public static ModelDefinition Shipped(string model) => ModelDefinition.Parse(ShippedText(model), $"{model}.json", model);
}
