using GpuNet.Engine.Layers;
using GpuNet.Kernels;

namespace GpuNet.Engine.Models;

/// <summary>
/// Everything needed to rebuild a model: its definition (the model file's layers and initialization) and the data's
/// sample shape and class count. Stored in checkpoints, so a file alone rebuilds its model.
/// </summary>
/// <param name="Definition">The layers, as a model file gives them; its init is the one the model was built with.</param>
/// <param name="InputShape">The per-sample input (C, H, W).</param>
/// <param name="Classes">Output classes.</param>
public sealed record ModelSpec(ModelDefinition Definition, int[] InputShape, int Classes)
{
    /// <summary>The model's name (a built-in's, or the model file's).</summary>
    public string Model => Definition.Name;

    /// <summary>How Linear and Conv2d weights are initialized (Kaiming-uniform unless the definition says).</summary>
    public WeightInit Init => Definition.Init ?? WeightInit.KaimingUniform;

    /// <summary>A built-in model (see <see cref="BuiltinModels.Generate"/>) for samples of <paramref name="inputShape"/>.</summary>
    public static ModelSpec Builtin(
        BuiltinModel model, int[] inputShape, int classes, int[] hidden, bool batchNorm, WeightInit init, double width = 1.0, double dropout = 0) =>
        new(BuiltinModels.Generate(model, hidden, batchNorm, init, width, dropout), inputShape, classes);

    /// <summary>The top-level layers in order (their index is their nn.Sequential index), class counts resolved.</summary>
    public IReadOnlyList<LayerPlan> Plan() => Definition.Resolve(Classes);

    /// <summary>
    /// Builds the model for batches of up to <paramref name="batchCapacity"/>, initialized from <paramref name="seed"/>,
    /// its GEMMs in <paramref name="precision"/>.
    /// </summary>
    public Sequential Build(KernelLibrary kernels, int batchCapacity, int seed, GemmPrecision precision = GemmPrecision.Fp32)
    {
        var builder = new Sequential.Builder(kernels, new Shape(InputShape), batchCapacity, new Random(seed), seed, precision);
        ModelDefinition.AddTo(builder, Plan(), Init);
        return builder.Build();
    }
}
