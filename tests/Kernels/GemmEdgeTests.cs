using GpuNet.Kernels;
using GpuNet.Tests.Support;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// GEMM at the edges of its operands: each matrix sits inside a larger buffer between guards of NaN, so a read past
/// its last element (past the K edge, past the M or N edge) or before its first poisons the result, and a write
/// outside C changes C's guards.
/// </summary>
public sealed class GemmEdgeTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    /// <summary>Guard elements on each side: more than a whole 64-row tile of the widest operand here.</summary>
    private const int Guard = 64 * 128;

    /// <summary>A value no GEMM here produces, around C, to catch writes outside it.</summary>
    private const float CGuard = 12345f;

    // (M, N, K): K is a multiple of neither the GPU's 16-deep K step, nor the CPU's 8-row item or 16-column block, nor
    // the 64-wide tiles and panels; M and N leave partial GPU tiles and partial CPU items, panels and blocks. The last
    // shape fills a wave of 132 SMs with 128 x 128 tiles, so a GPU runs it on the large tile, whose K-tiles are 8 deep:
    // K = 39 ends inside a K-tile, where the loader that would read k = 39 finds the NaN guard past B.
    private static readonly (int M, int N, int K)[] Shapes = [(67, 70, 37), (5, 3, 83), (9, 130, 17), (1, 1, 1), (70, 9, 65), (1536, 1408, 39)];

    /// <summary><paramref name="data"/> on the device between <see cref="Guard"/> elements of <paramref name="fill"/> on each side.</summary>
    private sealed class Guarded(Accelerator accelerator, float[] data, float fill, params int[] dims) : IDisposable
    {
        private readonly MemoryBuffer1D<float, Stride1D.Dense> buffer = accelerator.Allocate1D(
            [.. Enumerable.Repeat(fill, Guard), .. data, .. Enumerable.Repeat(fill, Guard)]);

        public TensorView<float> View => new(buffer.View.SubView(Guard, data.Length), new Shape(dims));

        /// <summary>The guards as they are now, before then after the tensor.</summary>
        public float[] Guards()
        {
            var all = buffer.GetAsArray1D();
            return [.. all[..Guard], .. all[^Guard..]];
        }

        public void Dispose() => buffer.Dispose();
    }

    /// <summary>Reference: C = alpha op(A) op(B) + beta C in double.</summary>
    private static double[] Reference(float[] a, bool ta, float[] b, bool tb, float[] c, int m, int n, int k, float alpha, float beta)
    {
        var result = new double[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    sum += (ta ? a[(p * m) + i] : a[(i * k) + p]) * (double)(tb ? b[(j * k) + p] : b[(p * n) + j]);
                }

                result[(i * n) + j] = (alpha * sum) + (beta == 0 ? 0 : beta * (double)c[(i * n) + j]);
            }
        }

        return result;
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ReadsNothingOutsideItsOperandsForEveryTranspose(string accelerator) => ReadsNothingOutside(accelerator, GemmPrecision.Fp32);

    /// <summary>The same in TF32: on GPUs the tensor-core kernel, whose copies are cp.async of 16 bytes (zero-filled past an edge) or 4.</summary>
    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Tf32ReadsNothingOutsideItsOperandsForEveryTranspose(string accelerator) => ReadsNothingOutside(accelerator, GemmPrecision.Tf32);

    private static void ReadsNothingOutside(string accelerator, GemmPrecision precision) => Support.Accelerators.Run(accelerator, (library, _) =>
    {
        var random = new Random(4321);
        foreach (var (m, n, k) in Shapes)
        {
            library.Gemm.Reserve(m, n, k, precision);
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    // beta == 0 with C full of NaN (C must not be read), then beta != 0 (C read only inside).
                    foreach (var (alpha, beta) in new[] { (1f, 0f), (0.75f, -1.5f) })
                    {
                        string what = $"{precision} GEMM {m}x{n}x{k} ta={ta} tb={tb} alpha={alpha} beta={beta} on {accelerator}";
                        float[] a = Numerics.Normal(random, m * k), b = Numerics.Normal(random, k * n);
                        float[] c = beta == 0 ? Enumerable.Repeat(float.NaN, m * n).ToArray() : Numerics.Normal(random, m * n);
                        using var aGuarded = new Guarded(library.Accelerator, a, float.NaN, ta ? [k, m] : [m, k]);
                        using var bGuarded = new Guarded(library.Accelerator, b, float.NaN, tb ? [n, k] : [k, n]);
                        using var cGuarded = new Guarded(library.Accelerator, c, CGuard, m, n);
                        library.Gemm.Multiply(cGuarded.View, aGuarded.View, ta ? Transpose.Yes : Transpose.None, bGuarded.View, tb ? Transpose.Yes : Transpose.None, alpha, beta, precision: precision);
                        library.Synchronize();

                        var result = new float[m * n];
                        cGuarded.View.Data.CopyToCPU(result);
                        if (precision == GemmPrecision.Tf32)
                        {
                            var (expected, tolerance) = Tf32GemmTests.Reference(a, ta, b, tb, c, m, n, k, alpha, beta);
                            Tf32GemmTests.AssertWithin(expected, tolerance, result, what);
                        }
                        else
                        {
                            Numerics.AssertClose(Reference(a, ta, b, tb, c, m, n, k, alpha, beta), result, 1e-4 * Math.Sqrt(k), 1e-4, what);
                        }

                        var guards = cGuarded.Guards();
                        int written = Array.FindIndex(guards, g => g != CGuard);
                        Assert.True(written < 0, $"{what}: C's guard element {written} (of {Guard} before and {Guard} after) was written: {(written < 0 ? 0 : guards[written])}");
                    }
                }
            }
        }
    });
}
