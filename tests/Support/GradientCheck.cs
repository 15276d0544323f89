using GpuNet.Engine;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Kernels;

namespace GpuNet.Tests.Support;

/// <summary>One parameter element's gradient: from the device backward, and from central differences of the double-precision reference loss.</summary>
public sealed record GradientSample(string Name, int Index, double Backward, double Numeric)
{
    public bool Agrees(double atol, double rtol) => Math.Abs(Numeric - Backward) <= atol + (rtol * Math.Abs(Numeric));

    public override string ToString() => FormattableString.Invariant($"{Name}[{Index}]: backward {Backward:G9}, finite differences {Numeric:G9}");
}

/// <summary>Gradient checks through a whole model: the device's backward against central differences of a double-precision copy.</summary>
public static class GradientCheck
{
    /// <summary>The finite-difference step, relative to the element's magnitude (at least 1): in double, truncation and rounding errors stay near 1e-10.</summary>
    private const double Step = 1e-6;

    /// <summary>
    /// Runs the device model's training-mode forward, loss and backward once on (input, labels); then, in a
    /// <see cref="ReferenceModel"/> of the same parameters, perturbs every <paramref name="strideFor"/>(length)-th
    /// element of each parameter by +-<see cref="Step"/>. Returns the device's and the reference's mean loss and the
    /// sampled gradients.
    /// </summary>
    public static (double DeviceLoss, double ReferenceLoss, List<GradientSample> Samples) Run(
        KernelLibrary kernels, Buffers buffers, ModelSpec spec, Sequential model, float[] input, int[] labels, Func<int, int> strideFor)
    {
        using var loss = new SoftmaxCrossEntropyLoss(kernels, model.BatchCapacity, spec.Classes);
        using var totals = new LossTotals(kernels);
        var inputView = buffers.Upload(input, [labels.Length, .. spec.InputShape]);
        model.Backward(loss.Compute(model.Forward(inputView, training: true), buffers.Upload(labels, labels.Length), totals));
        double deviceLoss = totals.Read().MeanLoss;

        var reference = new ReferenceModel(spec, model);
        var x = Array.ConvertAll(input, v => (double)v);
        double referenceLoss = reference.Loss(x, labels);
        var samples = new List<GradientSample>();
        foreach (var ((name, parameter), (_, values)) in model.NamedParameters.Zip(reference.Parameters))
        {
            var gradient = parameter.Gradient.Download();
            for (int i = 0; i < values.Length; i += Math.Max(1, strideFor(values.Length)))
            {
                double original = values[i], h = Step * Math.Max(1, Math.Abs(original));
                values[i] = original + h;
                double plus = reference.Loss(x, labels);
                values[i] = original - h;
                double minus = reference.Loss(x, labels);
                values[i] = original;
                samples.Add(new GradientSample(name, i, gradient[i], (plus - minus) / (2 * h)));
            }
        }

        return (deviceLoss, referenceLoss, samples);
    }

    /// <summary>
    /// Asserts the device loss within <paramref name="tolerance"/> (relative) of the reference loss, and every sampled
    /// gradient within <paramref name="tolerance"/> times the largest sampled gradient plus <paramref name="tolerance"/>
    /// of its own magnitude; reports the largest difference and the first gradient outside.
    /// </summary>
    public static void AssertAgree(double deviceLoss, double referenceLoss, IReadOnlyList<GradientSample> samples, double tolerance, string what)
    {
        Assert.True(
            Math.Abs(deviceLoss - referenceLoss) <= tolerance * Math.Abs(referenceLoss),
            FormattableString.Invariant($"{what}: device loss {deviceLoss:G9}, reference loss {referenceLoss:G9}"));
        double scale = samples.Max(s => Math.Abs(s.Numeric));
        var outside = samples.Where(s => !s.Agrees(tolerance * scale, tolerance)).ToList();
        var worst = samples.MaxBy(s => Math.Abs(s.Backward - s.Numeric))!;
        TestContext.Current.TestOutputHelper?.WriteLine(FormattableString.Invariant(
            $"{what}: loss {deviceLoss:G9} on the device, {referenceLoss:G9} in the reference; {samples.Count} gradients, largest {scale:G3}; largest difference {Math.Abs(worst.Backward - worst.Numeric):G3} ({Math.Abs(worst.Backward - worst.Numeric) / scale:G3} of the largest) at {worst}"));
        Assert.True(
            outside.Count == 0,
            FormattableString.Invariant($"{what}: {outside.Count} of {samples.Count} gradients outside {tolerance:G3} x (largest {scale:G3} + own); largest difference at {worst}; first outside: {outside.FirstOrDefault()}"));
    }
}
