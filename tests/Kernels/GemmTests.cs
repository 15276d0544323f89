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

    // Split-K shapes on a 132-SM GPU (the OpenCL device is launched as one): skinny with a long K, the VGG's conv1
    // weight gradient (K = 25,088 with M = 64, N = 9), and M and N above 1024 with a short K.
    private static readonly (int M, int N, int K)[] SplitShapes = [(64, 9, 25088), (70, 3, 20000), (130, 67, 600), (1031, 1029, 67), (7, 300, 2000), (1536, 1408, 37)];

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void SplitKAndLargeShapesMatchReference(string accelerator)
    {
        var library = Support.Accelerators.Get(accelerator);
        lock (Support.Accelerators.GateFor(library))
        {
            using var buffers = new Buffers(library);
            var random = new Random(99);
            foreach (var (m, n, k) in SplitShapes)
            {
                if (!library.Policy.IsCpu && m * n < 100_000)
                {
                    Assert.True(library.Policy.PlanGemm(m, n, k, GemmPrecision.Fp32, long.MaxValue).Splits > 1, $"{m}x{n}x{k} is not split on {accelerator}");
                }

                if (!library.Policy.IsCpu && m == 1536)
                {
                    Assert.True(library.Policy.PlanGemm(m, n, k, GemmPrecision.Fp32, long.MaxValue).TileM == 128, $"{m}x{n}x{k} does not take the 128 x 128 tile on {accelerator}");
                }

                // Reserved, so the launches get the plans asked about above whatever the shared library reserved before.
                library.Gemm.Reserve(m, n, k);

                foreach (var (ta, tb) in new[] { (false, false), (true, true), (false, true), (true, false) })
                {
                    float[] a = Numerics.Normal(random, m * k), b = Numerics.Normal(random, k * n), c = Numerics.Normal(random, m * n);
                    var aView = ta ? buffers.Upload(a, k, m) : buffers.Upload(a, m, k);
                    var bView = tb ? buffers.Upload(b, n, k) : buffers.Upload(b, k, n);
                    var cView = buffers.Upload(c, m, n);
                    library.Gemm.Multiply(cView, aView, ta ? Transpose.Yes : Transpose.None, bView, tb ? Transpose.Yes : Transpose.None, 0.5f, 1f);
                    Numerics.AssertClose(
                        Reference(a, ta, b, tb, c, m, n, k, 0.5f, 1f), buffers.Read(cView), 1e-4 * Math.Sqrt(k), 1e-4, $"GEMM {m}x{n}x{k} ta={ta} tb={tb} on {accelerator}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void EpilogueAddsBiasAndAddendAppliesReluAndMasks(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(7);
        foreach (var (m, n, k) in new[] { (5, 7, 3), (70, 130, 600) })
        {
            float[] a = Numerics.Normal(random, m * k), b = Numerics.Normal(random, k * n), bias = Numerics.Normal(random, n), mask = Numerics.Normal(random, m * n);
            var plain = Reference(a, false, b, false, new float[m * n], m, n, k, 1f, 0f);
            var c = buffers.Garbage(m, n);
            library.Gemm.Multiply(c, buffers.Upload(a, m, k), Transpose.None, buffers.Upload(b, k, n), Transpose.None, epilogue: new GemmEpilogue(buffers.Upload(bias, n), Relu: true));
            var expected = plain.Select((v, i) => Math.Max(0, v + bias[i % n])).ToArray();
            Numerics.AssertClose(expected, buffers.Read(c), 1e-4 * Math.Sqrt(k), 1e-4, $"bias + ReLU {m}x{n}x{k} on {accelerator}");
            library.Gemm.Multiply(c, buffers.Upload(a, m, k), Transpose.None, buffers.Upload(b, k, n), Transpose.None, epilogue: new GemmEpilogue(Mask: buffers.Upload(mask, m, n)));
            expected = plain.Select((v, i) => mask[i] > 0 ? v : 0).ToArray();
            Numerics.AssertClose(expected, buffers.Read(c), 1e-4 * Math.Sqrt(k), 1e-4, $"mask {m}x{n}x{k} on {accelerator}");

            // An addend of C's shape (a residual block's shortcut) is added after the bias and before the ReLU.
            float[] addend = Numerics.Normal(random, m * n);
            library.Gemm.Multiply(c, buffers.Upload(a, m, k), Transpose.None, buffers.Upload(b, k, n), Transpose.None, epilogue: new GemmEpilogue(buffers.Upload(bias, n), Relu: true, Addend: buffers.Upload(addend, m, n)));
            expected = plain.Select((v, i) => Math.Max(0, v + bias[i % n] + addend[i])).ToArray();
            Numerics.AssertClose(expected, buffers.Read(c), 1e-4 * Math.Sqrt(k), 1e-4, $"bias + addend + ReLU {m}x{n}x{k} on {accelerator}");

            // A NaN in row 1 of A makes row 1 of C NaN; the ReLU epilogue keeps it (PyTorch's ReLU of NaN is NaN).
            a[k + (k / 2)] = float.NaN;
            library.Gemm.Multiply(c, buffers.Upload(a, m, k), Transpose.None, buffers.Upload(b, k, n), Transpose.None, epilogue: new GemmEpilogue(buffers.Upload(bias, n), Relu: true));
            expected = plain.Select((v, i) => i / n == 1 ? double.NaN : Math.Max(0, v + bias[i % n])).ToArray();
            Numerics.AssertClose(expected, buffers.Read(c), 1e-4 * Math.Sqrt(k), 1e-4, $"bias + ReLU with a NaN row {m}x{n}x{k} on {accelerator}");
        }
    });

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
