using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class GemmTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    /// <summary>Reference: C = alpha op(A) op(B) + beta C in double.</summary>
    private static double[] Reference(
        float[] a, bool ta, float[] b, bool tb, float[] c, int m, int n, int k, float alpha, float beta)
    {
        var result = new double[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = ta ? a[(p * m) + i] : a[(i * k) + p];
                    double y = tb ? b[(j * k) + p] : b[(p * n) + j];
                    sum += x * y;
                }

                result[(i * n) + j] = (alpha * sum) + (beta == 0 ? 0 : beta * (double)c[(i * n) + j]);
            }
        }

        return result;
    }

    // (M, N, K): ones, primes, K > M, sizes that are not multiples of the 64 x 64 x 16 GPU tile, the 8 x 64 CPU item or its 8 x 16 blocks.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 7, 3), (5, 1, 9), (3, 5, 130), (13, 17, 19), (64, 64, 16), (65, 67, 33), (70, 3, 200), (2, 129, 5),
    ];

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void MatchesReferenceForEveryTransposeAndShape(string accelerator)
    {
        var library = Support.Accelerators.Get(accelerator);
        lock (Support.Accelerators.GateFor(library))
        {
            using var buffers = new Buffers(library);
            var random = new Random(1234);
            foreach (var (m, n, k) in Shapes)
            {
                foreach (bool ta in new[] { false, true })
                {
                    foreach (bool tb in new[] { false, true })
                    {
                        foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 1.5f) })
                        {
                            float[] a = Numerics.Normal(random, m * k), b = Numerics.Normal(random, k * n), c = Numerics.Normal(random, m * n);
                            var aView = ta ? buffers.Upload(a, k, m) : buffers.Upload(a, m, k);
                            var bView = tb ? buffers.Upload(b, n, k) : buffers.Upload(b, k, n);
                            var cView = beta == 0 ? buffers.Garbage(m, n) : buffers.Upload(c, m, n);
                            library.Gemm.Multiply(cView, aView, ta ? Transpose.Yes : Transpose.None, bView, tb ? Transpose.Yes : Transpose.None, alpha, beta);
                            Numerics.AssertClose(
                                Reference(a, ta, b, tb, c, m, n, k, alpha, beta),
                                buffers.Read(cView),
                                1e-4 * Math.Sqrt(k),
                                1e-4,
                                $"GEMM {m}x{n}x{k} ta={ta} tb={tb} alpha={alpha} beta={beta} on {accelerator}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void MismatchedInnerDimensionsNameBothShapes()
    {
        var library = Support.Accelerators.Get("cpu");
        using var buffers = new Buffers(library);
        var a = buffers.Upload(new float[6], 2, 3);
        var b = buffers.Upload(new float[8], 4, 2);
        var c = buffers.Upload(new float[4], 2, 2);
        var error = Assert.Throws<ArgumentException>(() => library.Gemm.Multiply(c, a, Transpose.None, b, Transpose.None));
        Assert.Contains("(2, 3)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(4, 2)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void EmptyOutputLaunchesNothingAndZeroKScalesC(string accelerator)
    {
        var library = Support.Accelerators.Get(accelerator);
        lock (Support.Accelerators.GateFor(library))
        {
            using var buffers = new Buffers(library);
            var a = buffers.Upload(Array.Empty<float>(), 0, 3);
            var b = buffers.Upload(new float[6], 3, 2);
            var c = buffers.Upload(Array.Empty<float>(), 0, 2);
            library.Gemm.Multiply(c, a, Transpose.None, b, Transpose.None);
            library.Synchronize();

            var a0 = buffers.Upload(Array.Empty<float>(), 2, 0);
            var b0 = buffers.Upload(Array.Empty<float>(), 0, 3);
            var c0 = buffers.Upload([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
            library.Gemm.Multiply(c0, a0, Transpose.None, b0, Transpose.None, 1f, 2f);
            Numerics.AssertClose(new double[] { 2, 4, 6, 8, 10, 12 }, buffers.Read(c0), "K = 0 leaves beta * C");
        }
    }
}
