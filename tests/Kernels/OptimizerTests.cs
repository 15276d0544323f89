using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class OptimizerTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    private const int Steps = 3;

    private static TensorView<int> Status(Buffers buffers, int tensors = 1) => buffers.Upload(new int[StepStatus.Length(tensors)], StepStatus.Length(tensors));

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
                var status = Status(buffers);
                var expectedW = Numerics.ToDouble(w);
                var expectedV = new double[length];
                for (int s = 0; s < Steps; s++)
                {
                    var g = grads[s];
                    var gradient = buffers.Upload(g, length);
                    library.Optimizers.SgdStep(parameter, gradient, velocity, settings, status, s + 1, NonFiniteAction.Stop);
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

                Assert.Equal(Steps, buffers.Read(status)[StepStatus.AppliedBefore(Steps + 1)]);
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
            var table = Optimizers.AdamCorrections(settings, Steps);
            var corrections = buffers.Upload(table, table.Length);
            foreach (int length in new[] { 1, 7, 1000 })
            {
                var w = Numerics.Normal(random, length);
                var parameter = buffers.Upload(w, length);
                var m = buffers.Upload(new float[length], length);
                var v = buffers.Upload(new float[length], length);
                var status = Status(buffers);
                var expectedW = Numerics.ToDouble(w);
                var expectedM = new double[length];
                var expectedV = new double[length];
                for (int t = 1; t <= Steps; t++)
                {
                    var g = Numerics.Normal(random, length);
                    var gradient = buffers.Upload(g, length);
                    library.Optimizers.AdamStep(parameter, gradient, m, v, settings, corrections, status, t, NonFiniteAction.Stop);
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

    public static TheoryData<string, int> NonFiniteCases()
    {
        var data = new TheoryData<string, int>();
        foreach (string accelerator in new[] { "cpu", "opencl", "cuda" })
        {
            // The position of a NaN, +Inf or -Inf: first element, inside tensor 1, last element, the loss (-1), none (-2).
            foreach (int position in new[] { 0, 70, 199, -1, -2 })
            {
                data.Add(accelerator, position);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(NonFiniteCases))]
    public void CheckFiniteFlagsNaNAndInfinitiesWithTheirTensorAndTheStep(string accelerator, int position) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        // Three tensors in one arena: [0, 64), [64, 192), [192, 200).
        int[] offsets = [0, 64, 192, 200];
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var values = Numerics.Normal(new Random(7), 200, std: 1e30);
            var loss = new[] { 2.5f };
            if (position >= 0)
            {
                values[position] = bad;
            }
            else if (position == -1)
            {
                loss[0] = bad;
            }

            var status = Status(buffers, 3);
            var mark = buffers.Upload([0], 1);
            library.Optimizers.CheckFinite(status, buffers.Upload(values, 200), buffers.Upload(offsets, 4), buffers.Upload(loss, 1), mark, 5, NonFiniteAction.Stop);
            var s = buffers.Read(status);
            int expectedTensor = position switch { < 0 => -1, < 64 => 0, < 192 => 1, _ => 2 };
            string what = $"{bad} at {position} on {accelerator}";
            Assert.True(position == -2 ? s[StepStatus.FirstBadStep] == 0 : s[StepStatus.FirstBadStep] == 5, what);
            Assert.True(position == -2 ? s[StepStatus.LastBadStep] == 0 : s[StepStatus.LastBadStep] == 5, what);
            Assert.Equal(position == -2 ? 0 : 5, buffers.Read(mark)[0]);
            for (int t = 0; t < 3; t++)
            {
                Assert.True(s[StepStatus.TensorSteps + t] == (t == expectedTensor ? 5 : 0), $"tensor {t}: {what}");
            }
        }
    });

    /// <summary>
    /// The carried flags (what the ranks' sum brought, after the loss): the check records their sums in the status and
    /// leaves this rank's next flags in their place, whether the step is good or bad, and touches nothing else.
    /// </summary>
    [Theory]
    [MemberData(nameof(Accelerators))]
    public void CheckFiniteRecordsTheCarriedSumsAndLeavesTheNextFlags(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        int[] offsets = [0, 40, 100];
        foreach (var (summed, next, lossValue) in new[] { ((3f, 0f), 1, 1.5f), ((0f, 2f), 2, float.NaN), ((5f, 4f), 0, 0.25f), ((0f, 0f), 3, 2f) })
        {
            var values = Numerics.Normal(new Random(3), 100, std: 1.0);
            var status = Status(buffers, 2);
            var loss = buffers.Upload([lossValue], 1);
            var carried = buffers.Upload([summed.Item1, summed.Item2], 2);
            var gradients = buffers.Upload(values, 100);
            library.Optimizers.CheckFinite(status, gradients, buffers.Upload(offsets, 3), loss, default, 4, NonFiniteAction.Skip, carried: carried, nextFlags: next);
            var s = buffers.Read(status);
            string what = $"sums {summed}, next {next} on {accelerator}";
            Assert.True(s[StepStatus.Carried] == (int)summed.Item1 && s[StepStatus.Carried + 1] == (int)summed.Item2, what);
            Assert.Equal(new[] { (float)(next & 1), (float)((next >> 1) & 1) }, buffers.Read(carried));
            Assert.Equal(values, buffers.Read(gradients));
            Assert.Equal(float.IsNaN(lossValue) ? 4 : 0, s[StepStatus.LastBadStep]);
        }

        var arguments = Assert.Throws<ArgumentException>(() => library.Optimizers.CheckFinite(
            Status(buffers, 1), buffers.Upload(new float[4], 4), buffers.Upload([0, 4], 2), default, default, 1, NonFiniteAction.Stop, carried: buffers.Upload(new float[2], 2)));
        Assert.Contains("carried", arguments.Message, StringComparison.Ordinal);
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ABadStepIsWithheldOnTheDeviceSkippedOrFrozen(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        const int length = 130;
        int[] offsets = [0, 64, length];
        var settings = new AdamSettings(0.1f);
        var table = Optimizers.AdamCorrections(settings, 10);
        var corrections = buffers.Upload(table, table.Length);
        foreach (var action in new[] { NonFiniteAction.Skip, NonFiniteAction.Stop })
        {
            var w = Numerics.Normal(new Random(3), length);
            var parameter = buffers.Upload(w, length);
            var m = buffers.Upload(new float[length], length);
            var v = buffers.Upload(new float[length], length);
            var status = Status(buffers, 2);
            var loss = buffers.Upload([1f], 1);
            var noMark = buffers.Upload([0], 1);
            float[]? afterStep1 = null;
            for (int step = 1; step <= 4; step++)
            {
                var g = Numerics.Normal(new Random(10 + step), length);
                if (step == 2)
                {
                    g[100] = float.NaN; // step 2 is bad, in tensor 1
                }

                var gradient = buffers.Upload(g, length);
                library.Optimizers.CheckFinite(status, gradient, buffers.Upload(offsets, 3), loss, noMark, step, action);
                library.Optimizers.AdamStep(parameter, gradient, m, v, settings, corrections, status, step, action);
                Assert.All(buffers.Read(gradient), e => Assert.Equal(0f, e));
                if (step == 1)
                {
                    afterStep1 = buffers.Read(parameter);
                }

                if (step == 2)
                {
                    Assert.Equal(afterStep1, buffers.Read(parameter)); // withheld: no NaN reached the weights
                }
            }

            var s = buffers.Read(status);
            var final = buffers.Read(parameter);
            Assert.Equal(2, s[StepStatus.FirstBadStep]);
            Assert.Equal(2, s[StepStatus.TensorSteps + 1]);
            Assert.Equal(0, s[StepStatus.TensorSteps]);
            if (action == NonFiniteAction.Skip)
            {
                // Steps 1, 3 and 4 applied (t = 1, 2, 3), step 2 counted as skipped.
                Assert.Equal(1, s[StepStatus.SkippedSteps]);
                Assert.Equal(3, s[StepStatus.AppliedBefore(5)]);
                Assert.NotEqual(afterStep1, final);
                Assert.All(final, x => Assert.True(float.IsFinite(x)));
            }
            else
            {
                // Frozen at step 1 for good.
                Assert.Equal(1, s[StepStatus.AppliedBefore(5)]);
                Assert.Equal(afterStep1, final);
            }
        }
    });

    [Fact]
    public void SkippedStepsDoNotAdvanceAdamsBiasCorrection() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        // One run skips step 2; the other never sees it. Their weights must agree exactly after the same gradients.
        const int length = 8;
        var settings = new AdamSettings(0.05f);
        var table = Optimizers.AdamCorrections(settings, 10);
        var corrections = buffers.Upload(table, table.Length);
        var w0 = Numerics.Normal(new Random(4), length);
        var grads = Enumerable.Range(0, 3).Select(i => Numerics.Normal(new Random(20 + i), length)).ToArray();

        var skipping = buffers.Upload(w0, length);
        TensorView<float> m1 = buffers.Upload(new float[length], length), v1 = buffers.Upload(new float[length], length);
        var status1 = Status(buffers);
        var noMark = buffers.Upload([0], 1);
        var offsets = buffers.Upload([0, length], 2);
        var loss = buffers.Upload([1f], 1);
        var bad = (float[])grads[1].Clone();
        bad[0] = float.PositiveInfinity;
        var sequence = new[] { grads[0], bad, grads[1], grads[2] };
        for (int step = 1; step <= 4; step++)
        {
            var g = buffers.Upload(sequence[step - 1], length);
            library.Optimizers.CheckFinite(status1, g, offsets, loss, noMark, step, NonFiniteAction.Skip);
            library.Optimizers.AdamStep(skipping, g, m1, v1, settings, corrections, status1, step, NonFiniteAction.Skip);
        }

        var clean = buffers.Upload(w0, length);
        TensorView<float> m2 = buffers.Upload(new float[length], length), v2 = buffers.Upload(new float[length], length);
        var status2 = Status(buffers);
        for (int step = 1; step <= 3; step++)
        {
            library.Optimizers.AdamStep(clean, buffers.Upload(grads[step - 1], length), m2, v2, settings, corrections, status2, step, NonFiniteAction.Skip);
        }

        Assert.Equal(buffers.Read(clean), buffers.Read(skipping));
    });

    [Fact]
    public void MismatchedStateNamesBothShapes() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var p = buffers.Garbage(4, 3);
        var error = Assert.Throws<ArgumentException>(() => library.Optimizers.SgdStep(p, p, buffers.Garbage(3, 4), new SgdSettings(0.1f), Status(buffers), 1, NonFiniteAction.Stop));
        Assert.Contains("(3, 4)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(4, 3)", error.Message, StringComparison.Ordinal);
    });
}
