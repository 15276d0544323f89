using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;

namespace GpuNet.Tests.Support;

/// <summary>
/// A double-precision copy of a device model: the layers of its spec's plan (residual blocks included) with the device's
/// parameter values found by their state_dict names, a training-mode forward (BatchNorm with the batch's statistics)
/// and the mean softmax cross-entropy, all in plain C#, so central differences of its loss give a model's gradients to
/// about 1e-9. Shapes are inferred here from the plan, not read from the device layers.
/// </summary>
public sealed class ReferenceModel
{
    private readonly IReadOnlyList<LayerPlan> plan;
    private readonly int[] inputShape;
    private readonly int classes;
    private readonly Dictionary<string, double[]> byName;

    /// <summary>Downloads <paramref name="model"/>'s parameters, which <paramref name="spec"/> built.</summary>
    public ReferenceModel(ModelSpec spec, Sequential model)
    {
        plan = spec.Plan();
        inputShape = spec.InputShape;
        classes = spec.Classes;
        Assert.Equal(plan.Count, model.Layers.Count);
        Parameters = [.. model.NamedParameters.Select(p => (p.Name, Array.ConvertAll(p.Parameter.Value.Download(), v => (double)v)))];
        byName = Parameters.ToDictionary(p => p.Name, p => p.Values);
    }

    /// <summary>Every parameter's values by state_dict name, in the model's order; the loss reads them as they are.</summary>
    public IReadOnlyList<(string Name, double[] Values)> Parameters { get; }

    /// <summary>The mean softmax cross-entropy of the training-mode forward of <paramref name="input"/> (N, sample).</summary>
    public double Loss(double[] input, int[] labels)
    {
        var (logits, shape) = Forward(plan, input, inputShape, labels.Length, "");
        Assert.Equal([classes], shape);
        return Reference.SoftmaxCrossEntropy(logits, labels, classes).Losses.Average();
    }

    private (double[] Output, int[] Shape) Forward(IReadOnlyList<LayerPlan> layers, double[] x, int[] shape, int n, string prefix)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            (x, shape) = Apply(layers[i], x, shape, n, $"{prefix}{i}");
        }

        return (x, shape);
    }

    private (double[] Output, int[] Shape) Apply(LayerPlan layer, double[] x, int[] shape, int n, string name)
    {
        double[] Weight() => byName[name + ".weight"];
        double[] Bias(int length) => byName.TryGetValue(name + ".bias", out var b) ? b : new double[length];
        var window = layer.Window;
        int features = shape.Aggregate(1, (a, b) => a * b);
        switch (layer.Kind)
        {
            case LayerKind.Linear:
                // A first linear takes the images themselves (flattened).
                return (Reference.Linear(x, Weight(), Bias(layer.Size), n, features, layer.Size), [layer.Size]);
            case LayerKind.BatchNorm:
                return (Reference.BatchNorm(x, Weight(), Bias(shape[0]), n, shape[0], features / shape[0], GpuNet.Kernels.BatchNorm.DefaultEpsilon).Output, shape);
            case LayerKind.Relu:
                return (Array.ConvertAll(x, v => Math.Max(v, 0)), shape);
            case LayerKind.Gelu:
                return (Array.ConvertAll(x, Reference.Gelu), shape);
            case LayerKind.Conv2d:
                {
                    var output = Reference.Conv2d(x, Weight(), Bias(layer.Size), n, shape[0], shape[1], shape[2], layer.Size, window.Kernel, window.Stride, window.Padding);
                    return (output, [layer.Size, window.OutputSize(shape[1]), window.OutputSize(shape[2])]);
                }

            case LayerKind.MaxPool2d:
                return (Reference.MaxPool(x, n, shape[0], shape[1], shape[2], window.Kernel, window.Stride, window.Padding).Output,
                    [shape[0], window.OutputSize(shape[1]), window.OutputSize(shape[2])]);
            case LayerKind.AvgPool2d:
                return (Reference.AvgPool(x, n, shape[0], shape[1], shape[2], window.Kernel, window.Stride, window.Padding),
                    [shape[0], window.OutputSize(shape[1]), window.OutputSize(shape[2])]);
            case LayerKind.GlobalAvgPool:
                return (Reference.GlobalAvgPool(x, n * shape[0], shape[1] * shape[2]), [shape[0], 1, 1]);
            case LayerKind.Flatten:
                return (x, [features]);
            case LayerKind.Residual:
                {
                    var (body, bodyShape) = Forward(layer.BodyLayers, x, shape, n, name + ".body.");
                    var (shortcut, shortcutShape) = Forward(layer.ShortcutLayers, x, shape, n, name + ".shortcut.");
                    Assert.Equal(bodyShape, shortcutShape);
                    return ([.. body.Zip(shortcut, (a, b) => a + b)], bodyShape);
                }

            default:
                throw new InvalidOperationException($"{name}: the reference model has no training-mode {layer.Kind} (its forward is random)");
        }
    }
}
