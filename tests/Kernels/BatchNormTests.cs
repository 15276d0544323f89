using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class BatchNormTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    private const double Eps = 1e-5;

    // (N, C) and (N, C, H, W): two values per channel, primes, more values per channel than a GPU group has threads.
    private static readonly int[][] Shapes = [[2, 1], [5, 3], [300, 4], [2, 3, 2, 2], [3, 2, 5, 7], [1, 2, 1, 3]];

    private static (int Outer, int Channels, int Inner) Layout(int[] dims) =>
        dims.Length == 2 ? (dims[0], dims[1], 1) : (dims[0], dims[1], dims[2] * dims[3]);

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void TrainingForwardMatchesReferenceAndUpdatesRunningStatistics(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(30);
        foreach (var dims in Shapes)
        {
            var (outer, channels, inner) = Layout(dims);
            string what = $"batch norm {new Shape(dims)} on {accelerator}";
            int length = new Shape(dims).Length, m = outer * inner;
            float[] x = Numerics.Normal(random, length, 3.0, 2.0), gamma = Numerics.Normal(random, channels), beta = Numerics.Normal(random, channels);
            float[] runMean0 = Numerics.Normal(random, channels), runVar0 = Numerics.Normal(random, channels).Select(v => 1 + Math.Abs(v)).ToArray();
            var output = buffers.Garbage(dims);
            var mean = buffers.Garbage(channels);
            var invStd = buffers.Garbage(channels);
            var runMean = buffers.Upload(runMean0, channels);
            var runVar = buffers.Upload(runVar0, channels);
            library.BatchNorm.ForwardTraining(
                output, mean, invStd, runMean, runVar, buffers.Upload(x, dims), buffers.Upload(gamma, channels), buffers.Upload(beta, channels));

            var (y, mu, variance) = Reference.BatchNorm(Numerics.ToDouble(x), Numerics.ToDouble(gamma), Numerics.ToDouble(beta), outer, channels, inner, Eps);
            Numerics.AssertClose(y, buffers.Read(output), 1e-4, 1e-4, what + " output");
            Numerics.AssertClose(mu, buffers.Read(mean), 1e-5, 1e-5, what + " mean");
            Numerics.AssertClose(variance.Select(v => 1 / Math.Sqrt(v + Eps)).ToArray(), buffers.Read(invStd), 1e-5, 1e-4, what + " invStd");
            Numerics.AssertClose(mu.Select((v, c) => (0.9 * runMean0[c]) + (0.1 * v)).ToArray(), buffers.Read(runMean), 1e-5, 1e-5, what + " running mean");
            Numerics.AssertClose(
                variance.Select((v, c) => (0.9 * runVar0[c]) + (0.1 * v * m / (m - 1))).ToArray(), buffers.Read(runVar), 1e-5, 1e-5, what + " running variance (unbiased)");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void InferenceForwardUsesRunningStatistics(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(31);
        foreach (var dims in Shapes)
        {
            var (_, channels, inner) = Layout(dims);
            int length = new Shape(dims).Length;
            float[] x = Numerics.Normal(random, length), gamma = Numerics.Normal(random, channels), beta = Numerics.Normal(random, channels);
            float[] rm = Numerics.Normal(random, channels), rv = Numerics.Normal(random, channels).Select(v => 0.5f + Math.Abs(v)).ToArray();
            var output = buffers.Garbage(dims);
            library.BatchNorm.ForwardInference(
                output, buffers.Upload(x, dims), buffers.Upload(gamma, channels), buffers.Upload(beta, channels), buffers.Upload(rm, channels), buffers.Upload(rv, channels));
            var expected = x.Select((v, i) =>
            {
                int c = (i / inner) % channels;
                return (gamma[c] * (v - (double)rm[c]) / Math.Sqrt(rv[c] + Eps)) + beta[c];
            }).ToArray();
            Numerics.AssertClose(expected, buffers.Read(output), 1e-5, 1e-5, $"batch norm inference {new Shape(dims)}");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void BackwardMatchesFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(32);
        foreach (var dims in Shapes)
        {
            var (outer, channels, inner) = Layout(dims);
            string what = $"batch norm backward {new Shape(dims)} on {accelerator}";
            int length = new Shape(dims).Length;
            float[] x = Numerics.Normal(random, length, 2.0, 1.0), gamma = Numerics.Normal(random, channels), beta = Numerics.Normal(random, channels);
            float[] r = Numerics.Normal(random, length);
            var input = buffers.Upload(x, dims);
            var gammaView = buffers.Upload(gamma, channels);
            var mean = buffers.Garbage(channels);
            var invStd = buffers.Garbage(channels);
            library.BatchNorm.ForwardTraining(
                buffers.Garbage(dims), mean, invStd, buffers.Upload(new float[channels], channels), buffers.Upload(new float[channels], channels),
                input, gammaView, buffers.Upload(beta, channels));

            float[] dGamma0 = Numerics.Normal(random, channels), dBeta0 = Numerics.Normal(random, channels);
            var dInput = buffers.Garbage(dims);
            var dGamma = buffers.Upload(dGamma0, channels);
            var dBeta = buffers.Upload(dBeta0, channels);
            library.BatchNorm.Backward(dInput, dGamma, dBeta, buffers.Upload(r, dims), input, gammaView, mean, invStd);

            double[] xd = Numerics.ToDouble(x), gd = Numerics.ToDouble(gamma), bd = Numerics.ToDouble(beta);
            double Loss(double[] xs, double[] gs, double[] bs) => Reference.Dot(Reference.BatchNorm(xs, gs, bs, outer, channels, inner, Eps).Output, r);
            Numerics.AssertClose(Reference.Gradient(v => Loss(v, gd, bd), xd), buffers.Read(dInput), 1e-3, 1e-3, what + " dInput");
            Numerics.AssertClose(
                Reference.Gradient(v => Loss(xd, v, bd), gd).Select((g, c) => g + dGamma0[c]).ToArray(), buffers.Read(dGamma), 1e-3, 1e-3, what + " dGamma");
            Numerics.AssertClose(
                Reference.Gradient(v => Loss(xd, gd, v), bd).Select((g, c) => g + dBeta0[c]).ToArray(), buffers.Read(dBeta), 1e-3, 1e-3, what + " dBeta");
        }
    });

    [Fact]
    public void TrainingWithOneValuePerChannelIsRejected() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var one = buffers.Garbage(1, 3);
        var c = buffers.Garbage(3);
        var error = Assert.Throws<ArgumentException>(() => library.BatchNorm.ForwardTraining(one, c, c, c, c, one, c, c));
        Assert.Contains("(1, 3)", error.Message, StringComparison.Ordinal);
    });

    [Fact]
    public void MismatchedGammaNamesBothShapes() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var x = buffers.Garbage(4, 3);
        var c = buffers.Garbage(3);
        var gamma = buffers.Garbage(5);
        var error = Assert.Throws<ArgumentException>(() => library.BatchNorm.ForwardInference(x, x, gamma, c, c, c));
        Assert.Contains("(5)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(3)", error.Message, StringComparison.Ordinal);
    });
}
