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
                throw new ConfigurationException("--model vgg is not yet available; use mlp or mlp-deep.");
            default:
                throw new ConfigurationException($"Unknown model '{Model}'; known: {string.Join(", ", Names)}.");
        }
    }
}
