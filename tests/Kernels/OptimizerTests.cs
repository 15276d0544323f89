using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class OptimizerTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    private const int Steps = 3;

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void SgdMatchesReferenceAndZeroesGradients(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(50);
        foreach (var settings in new[] { new SgdSettings(0.1f), new SgdSettings(0.05f, 0.9f), new SgdSettings(0.2f, 0.5f, 0.01f) })
        {
            foreach (int length in new[] { 1, 5, 1000 })
            {
                var w = Numerics.Normal(random, length);
                var grads = Enumerable.Range(0, Steps).Select(_ => Numerics.Normal(random, length)).ToArray();
                var parameter = buffers.Upload(w, length);
                var velocity = buffers.Upload(new float[length], length);
                var expectedW = Numerics.ToDouble(w);
                var expectedV = new double[length];
                foreach (var g in grads)
                {
                    var gradient = buffers.Upload(g, length);
                    library.Optimizers.SgdStep(parameter, gradient, velocity, settings);
                    Assert.All(buffers.Read(gradient), v => Assert.Equal(0f, v));
                    for (int i = 0; i < length; i++)
                    {
                        double step = g[i] + (settings.WeightDecay * expectedW[i]);
                        if (settings.Momentum != 0)
                        {
                            expectedV[i] = (settings.Momentum * expectedV[i]) + step;
                            step = expectedV[i];
                        }

                        expectedW[i] -= settings.LearningRate * step;
                    }
                }

                Numerics.AssertClose(expectedW, buffers.Read(parameter), 1e-5, 1e-5, $"SGD {settings} length {length}");
                if (settings.Momentum != 0)
                {
                    Numerics.AssertClose(expectedV, buffers.Read(velocity), 1e-5, 1e-5, $"SGD velocity {settings}");
                }
            }
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AdamMatchesReferenceWithBiasCorrection(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(51);
        foreach (var settings in new[] { new AdamSettings(1e-3f), new AdamSettings(0.01f, 0.8f, 0.99f, 1e-6f, 0.1f) })
        {
            foreach (int length in new[] { 1, 7, 1000 })
            {
                var w = Numerics.Normal(random, length);
                var parameter = buffers.Upload(w, length);
                var m = buffers.Upload(new float[length], length);
                var v = buffers.Upload(new float[length], length);
                var expectedW = Numerics.ToDouble(w);
                var expectedM = new double[length];
                var expectedV = new double[length];
                for (int t = 1; t <= Steps; t++)
                {
                    var g = Numerics.Normal(random, length);
                    var gradient = buffers.Upload(g, length);
                    library.Optimizers.AdamStep(parameter, gradient, m, v, settings, t);
                    Assert.All(buffers.Read(gradient), e => Assert.Equal(0f, e));
                    for (int i = 0; i < length; i++)
                    {
                        double gi = g[i] + (settings.WeightDecay * expectedW[i]);
                        expectedM[i] = (settings.Beta1 * expectedM[i]) + ((1 - settings.Beta1) * gi);
                        expectedV[i] = (settings.Beta2 * expectedV[i]) + ((1 - settings.Beta2) * gi * gi);
                        double mHat = expectedM[i] / (1 - Math.Pow(settings.Beta1, t));
                        double vHat = expectedV[i] / (1 - Math.Pow(settings.Beta2, t));
                        expectedW[i] -= settings.LearningRate * mHat / (Math.Sqrt(vHat) + settings.Epsilon);
                    }
                }

                Numerics.AssertClose(expectedW, buffers.Read(parameter), 1e-5, 1e-4, $"Adam {settings} length {length}");
                Numerics.AssertClose(expectedM, buffers.Read(m), 1e-6, 1e-4, $"Adam first moment {settings}");
                Numerics.AssertClose(expectedV, buffers.Read(v), 1e-6, 1e-4, $"Adam second moment {settings}");
            }
        }
    });

    [Fact]
    public void MismatchedStateNamesBothShapes() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var p = buffers.Garbage(4, 3);
        var error = Assert.Throws<ArgumentException>(() => library.Optimizers.SgdStep(p, p, buffers.Garbage(3, 4), new SgdSettings(0.1f)));
        Assert.Contains("(3, 4)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(4, 3)", error.Message, StringComparison.Ordinal);
    });
}
