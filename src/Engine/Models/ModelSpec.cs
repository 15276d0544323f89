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
public sealed record ModelSpec(string Model, int[] InputShape, int Classes, int[] Hidden, bool BatchNorm, WeightInit Init, double Width = 1.0)
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

    /// <summary>Builds the model for batches of up to <paramref name="batchCapacity"/>, initialized from <paramref name="seed"/>.</summary>
    public Sequential Build(KernelLibrary kernels, int batchCapacity, int seed)
    {
        var builder = new Sequential.Builder(kernels, new Shape(InputShape), batchCapacity, new Random(seed));
        switch (Model)
        {
            case "mlp" or "mlp-deep":
                foreach (int width in Hidden)
                {
                    builder.Linear(width, Init);
                    if (BatchNorm)
                    {
                        builder.BatchNorm();
                    }

                    builder.Relu();
                }

                builder.Linear(Classes, Init);
                return builder.Build();
            case "vgg":
                BuildVgg(builder);
                return builder.Build();
            default:
                throw new ConfigurationException($"Unknown model '{Model}'; known: {string.Join(", ", Names)}.");
        }
    }

    /// <summary>
    /// conv 3x3/1/1 -> BatchNorm -> ReLU blocks, max-pool 3x3/2/1 after blocks 1, 2, 4, 6 and 8, a 1x1 average pool,
    /// flatten and a linear layer to the classes.
    /// </summary>
    private void BuildVgg(Sequential.Builder builder)
    {
        var conv = new Window(3, 1, 1);
        var pool = new Window(3, 2, 1);
        foreach (var (channels, poolAfter) in VggBlocks)
        {
            builder.Conv2d(Scaled(channels), conv, Init).BatchNorm().Relu();
            if (poolAfter)
            {
                builder.MaxPool2d(pool);
            }
        }

        builder.AvgPool2d(new Window(1, 1, 0)).Flatten().Linear(Classes, Init);
    }
}
