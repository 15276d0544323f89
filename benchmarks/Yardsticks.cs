using System.Numerics;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Benchmarks;

/// <summary>
/// cuBLAS SGEMM, the CUDA yardstick of the GEMM and convolution rows, in the row's precision: fp32 rows against cuBLAS
/// in CUBLAS_DEFAULT_MATH (fp32 FMAs), tf32 rows against cuBLAS in CUBLAS_TF32_TENSOR_OP_MATH (operands rounded to TF32,
/// tensor cores, fp32 accumulation). Two handles, one per math mode, set once when they are made: no timed call
/// depends on a mode some other call left behind. The mode is set by cublasSetMathMode through ILGPU.Algorithms'
/// P/Invoke binding (<see cref="CuBlas{T}.MathMode"/>), so it reaches the very library the handle came from; its
/// <see cref="CuBlasMathMode"/> enum has no member for the TF32 mode, so the C enum's values are cast.
/// </summary>
public sealed class CuBlasYardstick : IDisposable
{
    /// <summary>CUBLAS_DEFAULT_MATH: fp32 arithmetic (unless NVIDIA_TF32_OVERRIDE=1 is set in the environment).</summary>
    private const CuBlasMathMode DefaultMath = 0;

    /// <summary>CUBLAS_TF32_TENSOR_OP_MATH (cublas_api.h, CUDA 11 and later).</summary>
    private const CuBlasMathMode Tf32TensorOpMath = (CuBlasMathMode)3;

    private readonly CuBlas fp32;
    private readonly CuBlas? tf32;

    private CuBlasYardstick(CuBlas fp32, CuBlas? tf32)
    {
        this.fp32 = fp32;
        this.tf32 = tf32;
    }

    /// <summary>
    /// Both handles on <paramref name="accelerator"/>, or null when cuBLAS cannot be loaded; without the TF32 mode (a
    /// cuBLAS before CUDA 11) only the fp32 handle. Says on the console what is missing.
    /// </summary>
    public static CuBlasYardstick? TryCreate(CudaAccelerator accelerator)
    {
        CuBlas fp32;
        try
        {
            fp32 = new CuBlas(accelerator) { PointerMode = CuBlasPointerMode.Host, MathMode = DefaultMath };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.WriteLine($"cuBLAS unavailable ({e.GetType().Name}: {e.Message}); GEMM rows have no yardstick");
            return null;
        }

        CuBlas? tf32 = null;
        try
        {
            tf32 = new CuBlas(accelerator) { PointerMode = CuBlasPointerMode.Host };
            tf32.MathMode = Tf32TensorOpMath;
            Console.WriteLine($"cuBLAS yardsticks: fp32 rows in math mode {(int)fp32.MathMode} (CUBLAS_DEFAULT_MATH), tf32 rows in math mode {(int)tf32.MathMode} (CUBLAS_TF32_TENSOR_OP_MATH)");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            tf32?.Dispose();
            tf32 = null;
            Console.WriteLine($"cuBLAS TF32 math mode unavailable ({e.GetType().Name}: {e.Message}); tf32 rows have no yardstick");
        }

        return new CuBlasYardstick(fp32, tf32);
    }

    /// <summary>Whether rows of <paramref name="precision"/> have a yardstick.</summary>
    public bool Has(GemmPrecision precision) => precision == GemmPrecision.Fp32 || tf32 is not null;

    /// <summary>
    /// Row-major c (m, n) = a (m, k) b (k, n) in <paramref name="precision"/>, as column-major c^T = b^T a^T (one
    /// cublasSgemm; the caller synchronizes).
    /// </summary>
    public void Gemm(GemmPrecision precision, ArrayView<float> c, ArrayView<float> a, ArrayView<float> b, int m, int n, int k)
    {
        var blas = precision == GemmPrecision.Tf32 ? tf32 ?? throw new InvalidOperationException("cuBLAS has no TF32 math mode here.") : fp32;
        blas.Gemm(CuBlasOperation.NonTranspose, CuBlasOperation.NonTranspose, n, m, k, 1f, b, n, a, k, 0f, c, n);
    }

    public void Dispose()
    {
        fp32.Dispose();
        tf32?.Dispose();
    }
}

/// <summary>
/// Managed CPU implementations of the same ops (Parallel.For + Vector&lt;float&gt;): the CPU accelerator's yardstick. There
/// is no TF32 managed GEMM: tf32 rows on the CPU accelerator are timed against the same fp32 GEMM, so the cost of
/// rounding every operand to TF32 is part of what their ratio measures.
/// </summary>
public static class Managed
{
    /// <summary>C (m, n) = A (m, k) B (k, n), rows in parallel, Vector&lt;float&gt; over columns.</summary>
    public static void Gemm(float[] a, float[] b, float[] c, int m, int n, int k)
    {
        Parallel.For(0, m, i =>
        {
            var row = c.AsSpan(i * n, n);
            row.Clear();
            for (int p = 0; p < k; p++)
            {
                var scale = new Vector<float>(a[(i * k) + p]);
                var bRow = b.AsSpan(p * n, n);
                int j = 0;
                for (; j <= n - Vector<float>.Count; j += Vector<float>.Count)
                {
                    (new Vector<float>(row[j..]) + (scale * new Vector<float>(bRow[j..]))).CopyTo(row[j..]);
                }

                for (; j < n; j++)
                {
                    row[j] += a[(i * k) + p] * bRow[j];
                }
            }
        });
    }

    public static void Relu(float[] input, float[] output) =>
        Chunks(input.Length, (start, end) =>
        {
            int i = start;
            for (; i <= end - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector.Max(new Vector<float>(input, i), Vector<float>.Zero).CopyTo(output, i);
            }

            for (; i < end; i++)
            {
                output[i] = Math.Max(input[i], 0f);
            }
        });

    /// <summary>Training batch norm forward over (n, c, plane): two passes for the statistics, one to normalize.</summary>
    public static void BatchNorm(float[] x, float[] y, int n, int c, int plane) =>
        Parallel.For(0, c, channel =>
        {
            double sum = 0, squares = 0;
            for (int b = 0; b < n; b++)
            {
                var s = x.AsSpan(((b * c) + channel) * plane, plane);
                foreach (float v in s)
                {
                    sum += v;
                }
            }

            double mean = sum / (n * plane);
            for (int b = 0; b < n; b++)
            {
                foreach (float v in x.AsSpan(((b * c) + channel) * plane, plane))
                {
                    squares += (v - mean) * (v - mean);
                }
            }

            float invStd = (float)(1 / Math.Sqrt((squares / (n * plane)) + 1e-5));
            for (int b = 0; b < n; b++)
            {
                int offset = ((b * c) + channel) * plane;
                for (int p = 0; p < plane; p++)
                {
                    y[offset + p] = (x[offset + p] - (float)mean) * invStd;
                }
            }
        });

    /// <summary>Max pooling with square windows over (planes, h, w).</summary>
    public static void MaxPool(float[] x, float[] y, int planes, int h, int w, int k, int s, int p)
    {
        int oh = ((h + (2 * p) - k) / s) + 1, ow = ((w + (2 * p) - k) / s) + 1;
        Parallel.For(0, planes, plane =>
        {
            for (int i = 0; i < oh; i++)
            {
                for (int j = 0; j < ow; j++)
                {
                    float best = float.NegativeInfinity;
                    for (int hi = Math.Max(0, (i * s) - p); hi < Math.Min(h, (i * s) - p + k); hi++)
                    {
                        for (int wi = Math.Max(0, (j * s) - p); wi < Math.Min(w, (j * s) - p + k); wi++)
                        {
                            best = Math.Max(best, x[(plane * h * w) + (hi * w) + wi]);
                        }
                    }

                    y[(((plane * oh) + i) * ow) + j] = best;
                }
            }
        });
    }

    /// <summary>Softmax cross-entropy loss and gradient over (rows, classes).</summary>
    public static double SoftmaxCrossEntropy(float[] logits, int[] labels, float[] gradient, int rows, int classes)
    {
        var losses = new double[rows];
        Parallel.For(0, rows, r =>
        {
            var z = logits.AsSpan(r * classes, classes);
            float max = float.NegativeInfinity;
            foreach (float v in z)
            {
                max = Math.Max(max, v);
            }

            float sum = 0;
            foreach (float v in z)
            {
                sum += MathF.Exp(v - max);
            }

            for (int j = 0; j < classes; j++)
            {
                gradient[(r * classes) + j] = ((MathF.Exp(z[j] - max) / sum) - (j == labels[r] ? 1 : 0)) / rows;
            }

            losses[r] = Math.Log(sum) - (z[labels[r]] - max);
        });
        return losses.Sum();
    }

    /// <summary>Convolution forward by managed im2col and managed GEMM.</summary>
    public static void Conv(float[] x, float[] weight, float[] columns, float[] product, int n, int c, int h, int w, int cout, int k, int s, int p)
    {
        int oh = ((h + (2 * p) - k) / s) + 1, ow = ((w + (2 * p) - k) / s) + 1, np = n * oh * ow, ckk = c * k * k;
        Parallel.For(0, ckk, row =>
        {
            int ci = row / (k * k), kh = (row / k) % k, kw = row % k;
            for (int q = 0; q < np; q++)
            {
                int b = q / (oh * ow), o = q % (oh * ow);
                int hi = ((o / ow) * s) - p + kh, wi = ((o % ow) * s) - p + kw;
                columns[(row * np) + q] = hi >= 0 && hi < h && wi >= 0 && wi < w ? x[(((((b * c) + ci) * h) + hi) * w) + wi] : 0;
            }
        });
        Gemm(weight, columns, product, cout, np, ckk);
    }

    private static void Chunks(int length, Action<int, int> body)
    {
        int chunks = Environment.ProcessorCount * 4, size = (length + chunks - 1) / chunks;
        Parallel.For(0, chunks, i => body(Math.Min(length, i * size), Math.Min(length, (i + 1) * size)));
    }
}
