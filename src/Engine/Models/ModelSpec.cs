using GpuNet.Engine.Layers;
using GpuNet.Kernels;

namespace GpuNet.Engine.Models;

/// <summary>
/// Everything needed to rebuild a model's architecture: stored in checkpoints, so a file alone rebuilds its model.
/// </summary>
/// <param name="Model">mlp, mlp-deep or vgg.</param>
/// <param name="InputShape">The per-sample input (C, H, W).</param>
/// <param name="Classes">Output classes.</param>
/// <param name="Hidden">Hidden layer widths of an MLP.</param>
/// <param name="BatchNorm">Whether an MLP has BatchNorm after each hidden Linear.</param>
/// <param name="Init">How Linear layers are initialized.</param>
/// <param name="Width">The VGG's channel multiplier.</param>
/// <param name="Dropout">An MLP's dropout probability between hidden layers (0: no Dropout layers).</param>
public sealed record ModelSpec(string Model, int[] InputShape, int Classes, int[] Hidden, bool BatchNorm, WeightInit Init, double Width = 1.0, double Dropout = 0)
{
    /// <summary>The model names accepted.</summary>
    public static readonly IReadOnlyList<string> Names = ["mlp", "mlp-deep", "vgg"];

    /// <summary>The reference ConvNet's channels; a max-pool follows the blocks marked true.</summary>
    public static readonly IReadOnlyList<(int Channels, bool PoolAfter)> VggBlocks =
    [
        (64, true), (128, true), (256, false), (256, true), (512, false), (512, true), (512, false), (512, true),
    ];

    /// <summary>A VGG channel count scaled by <see cref="Width"/>, at least 1.</summary>
    public int Scaled(int channels) => Math.Max(1, (int)Math.Round(channels * Width));

    /// <summary>
    /// The layers in order (their index is their nn.Sequential index): the one description both building and export
    /// read.
    /// </summary>
    public IReadOnlyList<LayerPlan> Plan()
    {
        var plan = new List<LayerPlan>();
        switch (Model)
        {
            case "mlp" or "mlp-deep":
                foreach (int width in Hidden)
                {
                    plan.Add(new LayerPlan(LayerKind.Linear, width));
                    if (BatchNorm)
                    {
                        plan.Add(new LayerPlan(LayerKind.BatchNorm));
                    }

                    plan.Add(new LayerPlan(LayerKind.Relu));
                    if (Dropout > 0)
                    {
                        plan.Add(new LayerPlan(LayerKind.Dropout));
                    }
                }

                plan.Add(new LayerPlan(LayerKind.Linear, Classes));
                return plan;
            case "vgg":
                // conv 3x3/1/1 -> BatchNorm -> ReLU blocks, max-pool 3x3/2/1 after blocks 1, 2, 4, 6 and 8, a 1x1
                // average pool, flatten and a linear layer to the classes.
                foreach (var (channels, poolAfter) in VggBlocks)
                {
                    plan.Add(new LayerPlan(LayerKind.Conv2d, Scaled(channels), new Window(3, 1, 1)));
                    plan.Add(new LayerPlan(LayerKind.BatchNorm));
                    plan.Add(new LayerPlan(LayerKind.Relu));
                    if (poolAfter)
                    {
                        plan.Add(new LayerPlan(LayerKind.MaxPool2d, 0, new Window(3, 2, 1)));
                    }
                }

                plan.Add(new LayerPlan(LayerKind.AvgPool2d, 0, new Window(1, 1, 0)));
                plan.Add(new LayerPlan(LayerKind.Flatten));
                plan.Add(new LayerPlan(LayerKind.Linear, Classes));
                return plan;
            default:
                throw new ConfigurationException($"Unknown model '{Model}'; known: {string.Join(", ", Names)}.");
        }
    }

    /// <summary>
    /// Builds the model for batches of up to <paramref name="batchCapacity"/>, initialized from <paramref name="seed"/>,
    /// its GEMMs in <paramref name="precision"/>.
    /// </summary>
    public Sequential Build(KernelLibrary kernels, int batchCapacity, int seed, GemmPrecision precision = GemmPrecision.Fp32)
    {
        var builder = new Sequential.Builder(kernels, new Shape(InputShape), batchCapacity, new Random(seed), seed, precision);
        foreach (var layer in Plan())
        {
            _ = layer.Kind switch
            {
                LayerKind.Linear => builder.Linear(layer.Size, Init),
                LayerKind.BatchNorm => builder.BatchNorm(),
                LayerKind.Relu => builder.Relu(),
                LayerKind.Conv2d => builder.Conv2d(layer.Size, layer.Window, Init),
                LayerKind.MaxPool2d => builder.MaxPool2d(layer.Window),
                LayerKind.AvgPool2d => builder.AvgPool2d(layer.Window),
                LayerKind.Dropout => builder.Dropout(Dropout),
                _ => builder.Flatten(),
            };
        }

        return builder.Build();
    }
}

/// <summary>The kinds of layer a model is made of.</summary>
public enum LayerKind
{
    /// <summary>A fully connected layer.</summary>
    Linear,
    /// <summary>Batch normalization (1-D or 2-D by the input).</summary>
    BatchNorm,
    /// <summary>ReLU.</summary>
    Relu,
    /// <summary>A 2-D convolution.</summary>
    Conv2d,
    /// <summary>Max pooling.</summary>
    MaxPool2d,
    /// <summary>Average pooling.</summary>
    AvgPool2d,
    /// <summary>Flatten to (N, features).</summary>
    Flatten,
    /// <summary>Inverted dropout (identity at evaluation).</summary>
    Dropout,
}

/// <summary>One layer of a model's plan: its kind, its output features or channels, and its window.</summary>
public readonly record struct LayerPlan(LayerKind Kind, int Size = 0, Window Window = default);
