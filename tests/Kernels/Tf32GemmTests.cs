using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// TF32 GEMMs against a double-precision reference of what tensor cores compute: every operand rounded to TF32
/// (<see cref="Tf32.Round"/>), products exact, sums in fp32. On the OpenCL device (launched as a 132-SM GPU) they run
/// the tensor-core kernel with its emulated mma, on the CPU accelerator the coarse kernel with rounded loads.
/// </summary>
public sealed class Tf32GemmTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    /// <summary>
    /// Reference C = alpha Σ_k tf32(op(A)) tf32(op(B)) + beta C in double, and the tolerance of each element. Products of
    /// TF32 values are exact in fp32, so what remains is fp32 accumulation: each addition rounds by at most u = 2^-24 of
    /// the partial sum S_k it makes, and those errors add like a random walk, about u √(Σ_k S_k²) in all (the device sums
    /// in another order, over partial sums of the same size); the tolerance is 4 u √(Σ_k S_k²) for the sums plus 2 u |C|
    /// for the epilogue. Rounding an operand to TF32 instead moves each product by about 2^-11.4 of itself, 2^-11.4 √(Σ p²)
    /// over the sum, which for random data is some 2^10 / √K times the tolerance: fp32 operands fail at every K tested
    /// here (<see cref="AssertWithin"/> checks that they would).
    /// </summary>
    internal static (double[] Expected, double[] Tolerance) Reference(
        float[] a, bool ta, float[] b, bool tb, float[] c, int m, int n, int k, float alpha, float beta, bool round = true)
    {
        const double U = 1.0 / (1 << 24);
        var expected = new double[m * n];
        var tolerance = new double[m * n];
        float[] ra = round ? Array.ConvertAll(a, Tf32.Round) : a, rb = round ? Array.ConvertAll(b, Tf32.Round) : b;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0, partialSquares = 0;
                for (int p = 0; p < k; p++)
                {
                    sum += (double)(ta ? ra[(p * m) + i] : ra[(i * k) + p]) * (tb ? rb[(j * k) + p] : rb[(p * n) + j]);
                    partialSquares += sum * sum;
                }

                double value = (alpha * sum) + (beta == 0 ? 0 : beta * (double)c[(i * n) + j]);
                expected[(i * n) + j] = value;
                tolerance[(i * n) + j] = (4 * U * Math.Abs(alpha) * Math.Sqrt(partialSquares)) + (2 * U * Math.Abs(value)) + 1e-30;
            }
        }

        return (expected, tolerance);
    }

    /// <summary>
    /// Asserts |actual - expected| &lt;= tolerance everywhere; reports the worst ratio and the first element past it.
    /// When <paramref name="fp32"/> is given (the same sums over unrounded operands), also asserts that most elements of
    /// it lie outside the tolerance: the check would catch operands left in fp32.
    /// </summary>
    internal static void AssertWithin(double[] expected, double[] tolerance, ReadOnlySpan<float> actual, string what, double[]? fp32 = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        int firstBad = -1;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double ratio = Math.Abs(actual[i] - expected[i]) / tolerance[i];
            if (!(ratio <= 1) && firstBad < 0)
            {
                firstBad = i;
            }

            worst = double.IsNaN(ratio) ? double.NaN : Math.Max(worst, ratio);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: worst |error| / tolerance {worst:G3}");
        Assert.True(
            firstBad < 0,
            $"{what}: element {firstBad} is {(firstBad < 0 ? 0 : actual[firstBad])}, expected {(firstBad < 0 ? 0 : expected[firstBad])} " +
            $"within {(firstBad < 0 ? 0 : tolerance[firstBad]):G3}; worst |error| / tolerance {worst:G3}");
        if (fp32 is not null)
        {
            int outside = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                outside += Math.Abs(fp32[i] - expected[i]) > tolerance[i] ? 1 : 0;
            }

            Assert.True(outside >= 0.5 * expected.Length, $"{what}: only {outside} of {expected.Length} fp32 sums fall outside the TF32 tolerance; the check cannot tell the precisions apart");
        }
    }

    /// <summary>The same sums over unrounded operands.</summary>
    internal static double[] Fp32Reference(float[] a, bool ta, float[] b, bool tb, float[] c, int m, int n, int k, float alpha, float beta) =>
        Reference(a, ta, b, tb, c, m, n, k, alpha, beta, round: false).Expected;

    // (M, N, K) for a 132-SM GPU's plans (the OpenCL device is launched as one): K below a stage, not a multiple of 16 or
    // 4 (4-byte copies) or a multiple of 4 (16-byte copies where the operand's rows allow), K > M; M and N leaving partial
    // tiles; and the smallest shapes the launch policy gives each tensor-core tile with split-K (8 x 1024 x 512: 128 x
    // 128, 8 x 512 x 1024: 128 x 64, 128 x 64 x 512: 64 x 128, 128 x 256 x 128: 64 x 64). The test asserts the plans
    // cover every tile, split and not.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (5, 3, 7), (13, 17, 40), (70, 67, 33), (64, 128, 64), (130, 70, 48), (129, 257, 20), (64, 9, 4100),
        (8, 1024, 512), (8, 512, 1024), (128, 64, 512), (128, 256, 128), (33, 130, 1024), (140, 200, 600),
    ];

    private static readonly GemmKernelKind[] TensorKinds = [GemmKernelKind.Tensor128x128, GemmKernelKind.Tensor128x64, GemmKernelKind.Tensor64x128, GemmKernelKind.Tensor64x64];

    /// <summary>
    /// Every shape on every tensor-core tile (pinned, whatever the cost model prefers; the CPU accelerator runs its
    /// coarse kernel once), each tile with and without split-K, the four transpose cases spread over the shapes.
    /// </summary>
    [Theory]
    [MemberData(nameof(Accelerators))]
    public void MatchesTheTf32ReferenceAtEveryTileAndSplit(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(2024);
        var transposes = new[] { (false, false), (true, true), (false, true), (true, false) };
        var kinds = library.Policy.IsCpu ? [GemmKernelKind.Simt64] : TensorKinds;
        for (int t = 0; t < kinds.Length; t++)
        {
            using var pinned = library.Policy.OnlyKernels(kinds[t]);
            var splits = new HashSet<bool>();
            for (int s = 0; s < Shapes.Length; s++)
            {
                var (m, n, k) = Shapes[s];
                library.Gemm.Reserve(m, n, k, GemmPrecision.Tf32);
                var plan = library.Policy.PlanGemm(m, n, k, GemmPrecision.Tf32, long.MaxValue);
                splits.Add(plan.Splits > 1);
                if (!library.Policy.IsCpu)
                {
                    Assert.Equal(kinds[t], plan.Kind);
                }

                var (ta, tb) = library.Policy.IsCpu ? transposes[s % 4] : transposes[(s + t) % 4];
                var (alpha, beta) = ta == tb ? (1f, 0f) : (-0.5f, 1.5f);
                string what = $"TF32 GEMM {m}x{n}x{k} ta={ta} tb={tb} on {accelerator} ({plan.Kind}, {plan.Splits} splits)";
                float[] a = Numerics.Normal(random, m * k), b = Numerics.Normal(random, k * n), c = Numerics.Normal(random, m * n);
                var aView = ta ? buffers.Upload(a, k, m) : buffers.Upload(a, m, k);
                var bView = tb ? buffers.Upload(b, n, k) : buffers.Upload(b, k, n);
                var cView = beta == 0 ? buffers.Garbage(m, n) : buffers.Upload(c, m, n);
                library.Gemm.Multiply(cView, aView, ta ? Transpose.Yes : Transpose.None, bView, tb ? Transpose.Yes : Transpose.None, alpha, beta, precision: GemmPrecision.Tf32);
                var (expected, tolerance) = Reference(a, ta, b, tb, c, m, n, k, alpha, beta);
                AssertWithin(expected, tolerance, buffers.Read(cView), what, k >= 8 ? Fp32Reference(a, ta, b, tb, c, m, n, k, alpha, beta) : null);
            }

            if (!library.Policy.IsCpu)
            {
                Assert.True(splits.SetEquals([false, true]), $"{kinds[t]} on {accelerator} did not run both split and unsplit shapes");
            }
        }
    });
}
