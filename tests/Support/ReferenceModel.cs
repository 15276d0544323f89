using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;

namespace GpuNet.Tests.Support;

/// <summary>
/// A double-precision copy of a device model: the layers of its spec's plan with the device layers' shapes and the
/// device's parameter values, a training-mode forward (BatchNorm with the batch's statistics) and the mean softmax
/// cross-entropy, all in plain C#, so central differences of its loss give a model's gradients to about 1e-9.
/// </summary>
public sealed class ReferenceModel
{
    private readonly IReadOnlyList<LayerPlan> plan;
    private readonly IReadOnlyList<Layer> layers;
    private readonly int classes;
    private readonly double[]?[] weights, biases;

    /// <summary>Downloads <paramref name="model"/>'s parameters, which <paramref name="spec"/> built.</summary>
    public ReferenceModel(ModelSpec spec, Sequential model)
    {
        plan = spec.Plan();
        layers = model.Layers;
        classes = spec.Classes;
        Assert.Equal(plan.Count, layers.Count);
        Parameters = [.. model.NamedParameters.Select(p => (p.Name, Array.ConvertAll(p.Parameter.Value.Download(), v => (double)v)))];
        double[]? Find(string name) => Parameters.FirstOrDefault(p => p.Name == name).Values;
        weights = [.. Enumerable.Range(0, layers.Count).Select(i => Find($"{i}.weight"))];
        biases = [.. Enumerable.Range(0, layers.Count).Select(i => Find($"{i}.bias"))];
    }

    /// <summary>Every parameter's values by state_dict name, in the model's order; the loss reads them as they are.</summary>
    public IReadOnlyList<(string Name, double[] Values)> Parameters { get; }

    /// <summary>The mean softmax cross-entropy of the training-mode forward of <paramref name="input"/> (N, sample).</summary>
    public double Loss(double[] input, int[] labels)
    {
        int n = labels.Length;
        var x = input;
        for (int i = 0; i < layers.Count; i++)
        {
            var shape = layers[i].InputShape;
            var window = plan[i].Window;
            x = plan[i].Kind switch
            {
                LayerKind.Linear => Reference.Linear(x, weights[i]!, biases[i]!, n, shape.Length, layers[i].OutputShape[0]),
                LayerKind.BatchNorm => Reference.BatchNorm(x, weights[i]!, biases[i]!, n, shape[0], shape.Length / shape[0], GpuNet.Kernels.BatchNorm.DefaultEpsilon).Output,
                LayerKind.Relu => Array.ConvertAll(x, v => Math.Max(v, 0)),
                LayerKind.Conv2d => Reference.Conv2d(
                    x, weights[i]!, biases[i]!, n, shape[0], shape[1], shape[2], layers[i].OutputShape[0], window.Kernel, window.Stride, window.Padding),
                LayerKind.MaxPool2d => Reference.MaxPool(x, n, shape[0], shape[1], shape[2], window.Kernel, window.Stride, window.Padding).Output,
                LayerKind.AvgPool2d => Reference.AvgPool(x, n, shape[0], shape[1], shape[2], window.Kernel, window.Stride, window.Padding),
                _ => x, // Flatten
            };
        }

        return Reference.SoftmaxCrossEntropy(x, labels, classes).Losses.Average();
    }
}
