using GpuNet.Engine;
using GpuNet.Engine.Layers;
using GpuNet.Kernels;

namespace GpuNet.Tests.Support;

/// <summary>One parameter element's gradient: from the backward pass and from central differences of the device forward.</summary>
public sealed record GradientSample(string Name, int Index, double Backward, double Numeric)
{
    public bool Agrees(double atol, double rtol) => Math.Abs(Numeric - Backward) <= atol + (rtol * Math.Abs(Numeric));

    public override string ToString() => FormattableString.Invariant($"{Name}[{Index}]: backward {Backward:G5}, finite differences {Numeric:G5}");
}

/// <summary>Gradient checks through a whole model: backward once, then central differences of the mean loss per element.</summary>
public static class GradientCheck
{
    /// <summary>
    /// Runs backward on (input, labels), then perturbs every <paramref name="strideFor"/>(length)-th element of each
    /// parameter by +-<paramref name="step"/> and measures the training-mode mean loss on the device.
    /// </summary>
    public static List<GradientSample> Run(
        KernelLibrary kernels, Sequential model, TensorView<float> input, TensorView<int> labels, int classes, float step, Func<int, int> strideFor)
    {
        using var loss = new SoftmaxCrossEntropyLoss(kernels, model.BatchCapacity, classes);
        using var totals = new LossTotals(kernels);

        double Loss()
        {
            loss.Compute(model.Forward(input, training: true), labels, totals);
            return totals.Read().MeanLoss;
        }

        model.Backward(loss.Compute(model.Forward(input, training: true), labels, totals));
        totals.Read();
        var samples = new List<GradientSample>();
        foreach (var (name, parameter) in model.NamedParameters)
        {
            var values = parameter.Value.Download();
            var gradient = parameter.Gradient.Download();
            for (int i = 0; i < values.Length; i += Math.Max(1, strideFor(values.Length)))
            {
                float original = values[i];
                values[i] = original + step;
                parameter.Value.Upload(values);
                double plus = Loss();
                values[i] = original - step;
                parameter.Value.Upload(values);
                double minus = Loss();
                values[i] = original;
                parameter.Value.Upload(values);
                samples.Add(new GradientSample(name, i, gradient[i], (plus - minus) / (2 * step)));
            }
        }

        return samples;
    }
}
