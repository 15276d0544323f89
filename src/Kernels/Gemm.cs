// GEMM, row-major: C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C, op in {none, transpose}.
// A(i, k) is read at a[i * aRowStride + k * aColStride] and B(k, j) at b[k * bRowStride + j * bColStride], so one
// kernel serves every transpose combination. beta == 0 never reads C (it may hold garbage or NaN).
// The epilogue fuses what follows on the same data: + bias[j], then + addend[i, j] (a residual block's sum), then
// max(., 0), then 0 where mask[i, j] <= 0 (a ReLU's backward from its saved output).
// Precision: fp32, or TF32 (each operand rounded as tensor cores round it, fp32 accumulation): the tensor-core kernel on
// GPUs (mma.sync on CUDA, its emulation on OpenCL), the coarse kernel with its loads rounded on the CPU accelerator.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>Whether a GEMM operand is used as stored or transposed.</summary>
public enum Transpose
{
    /// <summary>op(X) = X.</summary>
    None,

    /// <summary>op(X) = X^T.</summary>
    Yes,
}

/// <summary>Sizes, strides and scalars of one GEMM.</summary>
internal readonly record struct GemmArgs(
    int M, int N, int K, int ARowStride, int AColStride, int BRowStride, int BColStride, float Alpha, float Beta, int Relu);

/// <summary>The GEMM's output and what its epilogue reads: bias (N), mask and addend (M, N) are empty when not used.</summary>
internal readonly record struct GemmOutput(ArrayView<float> C, ArrayView<float> Bias, ArrayView<float> Mask, ArrayView<float> Addend);

/// <summary>
/// What a GEMM's output pass adds after <c>alpha * op(A) op(B) + beta * C</c>: a bias per column, an addend of C's
/// shape, a ReLU, and a mask (the output is zero where the mask, of C's shape, is not positive), in that order.
/// </summary>
/// <param name="Bias">Added to every row: (N).</param>
/// <param name="Relu">Whether max(., 0) follows.</param>
/// <param name="Mask">Zero the output where this (M, N) tensor is not positive.</param>
/// <param name="Addend">Added element by element after the bias: (M, N), e.g. a residual block's shortcut.</param>
public readonly record struct GemmEpilogue(TensorView<float>? Bias = null, bool Relu = false, TensorView<float>? Mask = null, TensorView<float>? Addend = null);

/// <summary>The GEMM kernels and their launcher.</summary>
public sealed class Gemm
{
    // CPU accelerator: one item is 8 rows by up to 64 columns of C, computed in 8 x 16 register blocks.
    internal const int CpuRows = 8;
    internal const int CpuColumns = 16;
    internal const int CpuPanel = 64;

    private readonly LaunchPolicy policy;
    private readonly GemmWorkspace workspace;
    private readonly GemmForm<StridedOperand, StridedOperand, MatrixOut>? tiled;
    private readonly Action<KernelConfig, GemmOutput, ArrayView<float>, ArrayView<float>, GemmArgs, int>? coarse, coarseTf32;

    internal Gemm(Accelerator accelerator, LaunchPolicy policy, GemmWorkspace workspace)
    {
        this.policy = policy;
        this.workspace = workspace;
        if (policy.IsCpu)
        {
            coarse = accelerator.LoadStreamKernel<GemmOutput, ArrayView<float>, ArrayView<float>, GemmArgs, int>(CoarseKernel<Fp32Operands>);
            coarseTf32 = accelerator.LoadStreamKernel<GemmOutput, ArrayView<float>, ArrayView<float>, GemmArgs, int>(CoarseKernel<Tf32Operands>);
        }
        else
        {
            tiled = new GemmForm<StridedOperand, StridedOperand, MatrixOut>(accelerator, policy, workspace, "Gemm");
        }
    }

    /// <summary>
    /// Makes room for the split-K partials of a GEMM with op(a) (M, K) and op(b) (K, N) in <paramref name="precision"/>
    /// and compiles its kernel, so that launching it later allocates and compiles nothing. Layers call this when they are
    /// built.
    /// </summary>
    public void Reserve(int m, int n, int k, GemmPrecision precision = GemmPrecision.Fp32) => tiled?.Reserve(m, n, k, precision);

    /// <summary>
    /// Computes <c>c = alpha * op(a) * op(b) + beta * c</c>, then the <paramref name="epilogue"/>. With op(a) of shape
    /// (M, K) and op(b) of shape (K, N), <paramref name="c"/> must be (M, N). When <paramref name="beta"/> is 0,
    /// <paramref name="c"/> is not read. In <see cref="GemmPrecision.Tf32"/> every element of op(a) and op(b) is rounded
    /// to TF32 before it is multiplied; sums are fp32 either way.
    /// </summary>
    public void Multiply(
        TensorView<float> c,
        TensorView<float> a,
        Transpose transposeA,
        TensorView<float> b,
        Transpose transposeB,
        float alpha = 1f,
        float beta = 0f,
        GemmEpilogue epilogue = default,
        GemmPrecision precision = GemmPrecision.Fp32)
    {
        Check.Rank(a, 2, nameof(a));
        Check.Rank(b, 2, nameof(b));
        Check.Rank(c, 2, nameof(c));
        bool ta = transposeA == Transpose.Yes, tb = transposeB == Transpose.Yes;
        int m = ta ? a.Shape[1] : a.Shape[0];
        int k = ta ? a.Shape[0] : a.Shape[1];
        int kb = tb ? b.Shape[1] : b.Shape[0];
        int n = tb ? b.Shape[0] : b.Shape[1];
        if (k != kb)
        {
            throw new ArgumentException(
                $"GEMM inner dimensions differ: op(a) from shape {a.Shape}{(ta ? "^T" : "")} has K = {k}, " +
                $"op(b) from shape {b.Shape}{(tb ? "^T" : "")} has K = {kb}.", nameof(b));
        }

        if (c.Shape[0] != m || c.Shape[1] != n)
        {
            throw new ArgumentException(
                $"GEMM output c has shape {c.Shape} but op(a) {(ta ? "^T of " : "of ")}{a.Shape} times op(b) " +
                $"{(tb ? "^T of " : "of ")}{b.Shape} is ({m}, {n}).", nameof(c));
        }

        if (epilogue.Bias is { } bias)
        {
            Check.Shape(bias, new Shape(n), "bias");
        }

        if (epilogue.Mask is { } mask)
        {
            Check.SameShape(mask, "mask", c, nameof(c));
        }

        if (epilogue.Addend is { } addend)
        {
            Check.SameShape(addend, "addend", c, nameof(c));
        }

        if (m == 0 || n == 0)
        {
            return;
        }

        int aRowStride = ta ? 1 : a.Shape[1], aColStride = ta ? a.Shape[1] : 1;
        int bRowStride = tb ? 1 : b.Shape[1], bColStride = tb ? b.Shape[1] : 1;
        var biasData = epilogue.Bias is { } bv ? bv.Data : default;
        var maskData = epilogue.Mask is { } mv ? mv.Data : default;
        var addendData = epilogue.Addend is { } av ? av.Data : default;
        if (tiled is not null)
        {
            // A's lines are its rows, B's its columns. A plain matrix copies 16 bytes at a time along its contiguous axis
            // when the other stride keeps every row 16-byte aligned.
            bool aAlongK = aColStride == 1, bAlongN = bColStride == 1;
            bool aVector = ViewAlignment.Is16ByteAligned(a.Data) && (aAlongK ? aRowStride : aColStride) % 4 == 0;
            bool bVector = ViewAlignment.Is16ByteAligned(b.Data) && (bAlongN ? bRowStride : bColStride) % 4 == 0;
            tiled.Run(
                new StridedOperand(a.Data, aRowStride, aColStride),
                new StridedOperand(b.Data, bColStride, bRowStride),
                new MatrixOut(c.Data, biasData, maskData, addendData, n, alpha, beta, epilogue.Relu ? 1 : 0),
                m, n, k, precision, aAlongK, bAlongN, aVector, bVector);
            return;
        }

        var args = new GemmArgs(m, n, k, aRowStride, aColStride, bRowStride, bColStride, alpha, beta, epilogue.Relu ? 1 : 0);
        var output = new GemmOutput(c.Data, biasData, maskData, addendData);
        int panels = (n + CpuPanel - 1) / CpuPanel;
        long items = (long)((m + CpuRows - 1) / CpuRows) * panels;
        var config = policy.Items(items, out int blockSize, workPerItem: (long)CpuRows * CpuPanel * Math.Max(1, k));
        bool tf32 = precision == GemmPrecision.Tf32;
        if (policy.Launch(tf32 ? "GemmCoarseTf32" : "GemmCoarse", config, 0, new GemmShape(m, n, k, CpuRows, CpuPanel, 1)))
        {
            (tf32 ? coarseTf32 : coarse)!(config, output, a.Data, b.Data, args, blockSize);
        }
    }

    /// <summary>
    /// CPU-accelerator kernel: each thread takes blocks of consecutive items, an item being 8 rows by a 64-column
    /// panel of C, computed in 8 x 16 register blocks with no barriers. The CPU accelerator runs this method as .NET
    /// code in which every view access checks its index and its buffer, so the block is large: 24 loads feed 128
    /// multiply-adds (a 4 x 4 block needs 8 for 16 and ran at half the speed). Out-of-range rows and columns are
    /// loaded from a clamped index and never stored, which keeps the inner loop free of branches. Every load passes
    /// through <typeparamref name="TOperands"/> (TF32 rounding or nothing).
    /// </summary>
    [GpuKernel]
    internal static void CoarseKernel<TOperands>(GemmOutput c, ArrayView<float> a, ArrayView<float> b, GemmArgs p, int blockSize)
        where TOperands : struct, IOperandRounding
    {
        var r = default(TOperands);
        int panels = (p.N + CpuPanel - 1) / CpuPanel;
        int items = ((p.M + CpuRows - 1) / CpuRows) * panels;
        int lastRow = p.M - 1, lastCol = p.N - 1, ars = p.ARowStride, bcs = p.BColStride;
        for (int start = KernelSupport.ThreadIndex * blockSize; start < items; start += KernelSupport.ThreadCount * blockSize)
        {
            int end = Math.Min(start + blockSize, items);
            for (int item = start; item < end; item++)
            {
                int row = (item / panels) * CpuRows;
                int panelEnd = Math.Min(((item % panels) + 1) * CpuPanel, p.N);
                int a0 = Math.Min(row, lastRow) * ars, a1 = Math.Min(row + 1, lastRow) * ars, a2 = Math.Min(row + 2, lastRow) * ars, a3 = Math.Min(row + 3, lastRow) * ars;
                int a4 = Math.Min(row + 4, lastRow) * ars, a5 = Math.Min(row + 5, lastRow) * ars, a6 = Math.Min(row + 6, lastRow) * ars, a7 = Math.Min(row + 7, lastRow) * ars;
                for (int col = (item % panels) * CpuPanel; col < panelEnd; col += CpuColumns)
                {
                    int b0 = Math.Min(col, lastCol) * bcs, b1 = Math.Min(col + 1, lastCol) * bcs, b2 = Math.Min(col + 2, lastCol) * bcs, b3 = Math.Min(col + 3, lastCol) * bcs;
                    int b4 = Math.Min(col + 4, lastCol) * bcs, b5 = Math.Min(col + 5, lastCol) * bcs, b6 = Math.Min(col + 6, lastCol) * bcs, b7 = Math.Min(col + 7, lastCol) * bcs;
                    int b8 = Math.Min(col + 8, lastCol) * bcs, b9 = Math.Min(col + 9, lastCol) * bcs, b10 = Math.Min(col + 10, lastCol) * bcs, b11 = Math.Min(col + 11, lastCol) * bcs;
                    int b12 = Math.Min(col + 12, lastCol) * bcs, b13 = Math.Min(col + 13, lastCol) * bcs, b14 = Math.Min(col + 14, lastCol) * bcs, b15 = Math.Min(col + 15, lastCol) * bcs;
                    float c0x0 = 0, c0x1 = 0, c0x2 = 0, c0x3 = 0, c0x4 = 0, c0x5 = 0, c0x6 = 0, c0x7 = 0, c0x8 = 0, c0x9 = 0, c0x10 = 0, c0x11 = 0, c0x12 = 0, c0x13 = 0, c0x14 = 0, c0x15 = 0;
                    float c1x0 = 0, c1x1 = 0, c1x2 = 0, c1x3 = 0, c1x4 = 0, c1x5 = 0, c1x6 = 0, c1x7 = 0, c1x8 = 0, c1x9 = 0, c1x10 = 0, c1x11 = 0, c1x12 = 0, c1x13 = 0, c1x14 = 0, c1x15 = 0;
                    float c2x0 = 0, c2x1 = 0, c2x2 = 0, c2x3 = 0, c2x4 = 0, c2x5 = 0, c2x6 = 0, c2x7 = 0, c2x8 = 0, c2x9 = 0, c2x10 = 0, c2x11 = 0, c2x12 = 0, c2x13 = 0, c2x14 = 0, c2x15 = 0;
                    float c3x0 = 0, c3x1 = 0, c3x2 = 0, c3x3 = 0, c3x4 = 0, c3x5 = 0, c3x6 = 0, c3x7 = 0, c3x8 = 0, c3x9 = 0, c3x10 = 0, c3x11 = 0, c3x12 = 0, c3x13 = 0, c3x14 = 0, c3x15 = 0;
                    float c4x0 = 0, c4x1 = 0, c4x2 = 0, c4x3 = 0, c4x4 = 0, c4x5 = 0, c4x6 = 0, c4x7 = 0, c4x8 = 0, c4x9 = 0, c4x10 = 0, c4x11 = 0, c4x12 = 0, c4x13 = 0, c4x14 = 0, c4x15 = 0;
                    float c5x0 = 0, c5x1 = 0, c5x2 = 0, c5x3 = 0, c5x4 = 0, c5x5 = 0, c5x6 = 0, c5x7 = 0, c5x8 = 0, c5x9 = 0, c5x10 = 0, c5x11 = 0, c5x12 = 0, c5x13 = 0, c5x14 = 0, c5x15 = 0;
                    float c6x0 = 0, c6x1 = 0, c6x2 = 0, c6x3 = 0, c6x4 = 0, c6x5 = 0, c6x6 = 0, c6x7 = 0, c6x8 = 0, c6x9 = 0, c6x10 = 0, c6x11 = 0, c6x12 = 0, c6x13 = 0, c6x14 = 0, c6x15 = 0;
                    float c7x0 = 0, c7x1 = 0, c7x2 = 0, c7x3 = 0, c7x4 = 0, c7x5 = 0, c7x6 = 0, c7x7 = 0, c7x8 = 0, c7x9 = 0, c7x10 = 0, c7x11 = 0, c7x12 = 0, c7x13 = 0, c7x14 = 0, c7x15 = 0;
                    for (int k = 0; k < p.K; k++)
                    {
                        int ak = k * p.AColStride, bk = k * p.BRowStride;
                        float x0 = r.Round(a[a0 + ak]), x1 = r.Round(a[a1 + ak]), x2 = r.Round(a[a2 + ak]), x3 = r.Round(a[a3 + ak]);
                        float x4 = r.Round(a[a4 + ak]), x5 = r.Round(a[a5 + ak]), x6 = r.Round(a[a6 + ak]), x7 = r.Round(a[a7 + ak]);
                        float y0 = r.Round(b[bk + b0]), y1 = r.Round(b[bk + b1]), y2 = r.Round(b[bk + b2]), y3 = r.Round(b[bk + b3]);
                        float y4 = r.Round(b[bk + b4]), y5 = r.Round(b[bk + b5]), y6 = r.Round(b[bk + b6]), y7 = r.Round(b[bk + b7]);
                        float y8 = r.Round(b[bk + b8]), y9 = r.Round(b[bk + b9]), y10 = r.Round(b[bk + b10]), y11 = r.Round(b[bk + b11]);
                        float y12 = r.Round(b[bk + b12]), y13 = r.Round(b[bk + b13]), y14 = r.Round(b[bk + b14]), y15 = r.Round(b[bk + b15]);
                        c0x0 += x0 * y0; c0x1 += x0 * y1; c0x2 += x0 * y2; c0x3 += x0 * y3; c0x4 += x0 * y4; c0x5 += x0 * y5; c0x6 += x0 * y6; c0x7 += x0 * y7;
                        c0x8 += x0 * y8; c0x9 += x0 * y9; c0x10 += x0 * y10; c0x11 += x0 * y11; c0x12 += x0 * y12; c0x13 += x0 * y13; c0x14 += x0 * y14; c0x15 += x0 * y15;
                        c1x0 += x1 * y0; c1x1 += x1 * y1; c1x2 += x1 * y2; c1x3 += x1 * y3; c1x4 += x1 * y4; c1x5 += x1 * y5; c1x6 += x1 * y6; c1x7 += x1 * y7;
                        c1x8 += x1 * y8; c1x9 += x1 * y9; c1x10 += x1 * y10; c1x11 += x1 * y11; c1x12 += x1 * y12; c1x13 += x1 * y13; c1x14 += x1 * y14; c1x15 += x1 * y15;
                        c2x0 += x2 * y0; c2x1 += x2 * y1; c2x2 += x2 * y2; c2x3 += x2 * y3; c2x4 += x2 * y4; c2x5 += x2 * y5; c2x6 += x2 * y6; c2x7 += x2 * y7;
                        c2x8 += x2 * y8; c2x9 += x2 * y9; c2x10 += x2 * y10; c2x11 += x2 * y11; c2x12 += x2 * y12; c2x13 += x2 * y13; c2x14 += x2 * y14; c2x15 += x2 * y15;
                        c3x0 += x3 * y0; c3x1 += x3 * y1; c3x2 += x3 * y2; c3x3 += x3 * y3; c3x4 += x3 * y4; c3x5 += x3 * y5; c3x6 += x3 * y6; c3x7 += x3 * y7;
                        c3x8 += x3 * y8; c3x9 += x3 * y9; c3x10 += x3 * y10; c3x11 += x3 * y11; c3x12 += x3 * y12; c3x13 += x3 * y13; c3x14 += x3 * y14; c3x15 += x3 * y15;
                        c4x0 += x4 * y0; c4x1 += x4 * y1; c4x2 += x4 * y2; c4x3 += x4 * y3; c4x4 += x4 * y4; c4x5 += x4 * y5; c4x6 += x4 * y6; c4x7 += x4 * y7;
                        c4x8 += x4 * y8; c4x9 += x4 * y9; c4x10 += x4 * y10; c4x11 += x4 * y11; c4x12 += x4 * y12; c4x13 += x4 * y13; c4x14 += x4 * y14; c4x15 += x4 * y15;
                        c5x0 += x5 * y0; c5x1 += x5 * y1; c5x2 += x5 * y2; c5x3 += x5 * y3; c5x4 += x5 * y4; c5x5 += x5 * y5; c5x6 += x5 * y6; c5x7 += x5 * y7;
                        c5x8 += x5 * y8; c5x9 += x5 * y9; c5x10 += x5 * y10; c5x11 += x5 * y11; c5x12 += x5 * y12; c5x13 += x5 * y13; c5x14 += x5 * y14; c5x15 += x5 * y15;
                        c6x0 += x6 * y0; c6x1 += x6 * y1; c6x2 += x6 * y2; c6x3 += x6 * y3; c6x4 += x6 * y4; c6x5 += x6 * y5; c6x6 += x6 * y6; c6x7 += x6 * y7;
                        c6x8 += x6 * y8; c6x9 += x6 * y9; c6x10 += x6 * y10; c6x11 += x6 * y11; c6x12 += x6 * y12; c6x13 += x6 * y13; c6x14 += x6 * y14; c6x15 += x6 * y15;
                        c7x0 += x7 * y0; c7x1 += x7 * y1; c7x2 += x7 * y2; c7x3 += x7 * y3; c7x4 += x7 * y4; c7x5 += x7 * y5; c7x6 += x7 * y6; c7x7 += x7 * y7;
                        c7x8 += x7 * y8; c7x9 += x7 * y9; c7x10 += x7 * y10; c7x11 += x7 * y11; c7x12 += x7 * y12; c7x13 += x7 * y13; c7x14 += x7 * y14; c7x15 += x7 * y15;
                    }

                    StoreRow(c, p, row, col, c0x0, c0x1, c0x2, c0x3, c0x4, c0x5, c0x6, c0x7, c0x8, c0x9, c0x10, c0x11, c0x12, c0x13, c0x14, c0x15);
                    StoreRow(c, p, row + 1, col, c1x0, c1x1, c1x2, c1x3, c1x4, c1x5, c1x6, c1x7, c1x8, c1x9, c1x10, c1x11, c1x12, c1x13, c1x14, c1x15);
                    StoreRow(c, p, row + 2, col, c2x0, c2x1, c2x2, c2x3, c2x4, c2x5, c2x6, c2x7, c2x8, c2x9, c2x10, c2x11, c2x12, c2x13, c2x14, c2x15);
                    StoreRow(c, p, row + 3, col, c3x0, c3x1, c3x2, c3x3, c3x4, c3x5, c3x6, c3x7, c3x8, c3x9, c3x10, c3x11, c3x12, c3x13, c3x14, c3x15);
                    StoreRow(c, p, row + 4, col, c4x0, c4x1, c4x2, c4x3, c4x4, c4x5, c4x6, c4x7, c4x8, c4x9, c4x10, c4x11, c4x12, c4x13, c4x14, c4x15);
                    StoreRow(c, p, row + 5, col, c5x0, c5x1, c5x2, c5x3, c5x4, c5x5, c5x6, c5x7, c5x8, c5x9, c5x10, c5x11, c5x12, c5x13, c5x14, c5x15);
                    StoreRow(c, p, row + 6, col, c6x0, c6x1, c6x2, c6x3, c6x4, c6x5, c6x6, c6x7, c6x8, c6x9, c6x10, c6x11, c6x12, c6x13, c6x14, c6x15);
                    StoreRow(c, p, row + 7, col, c7x0, c7x1, c7x2, c7x3, c7x4, c7x5, c7x6, c7x7, c7x8, c7x9, c7x10, c7x11, c7x12, c7x13, c7x14, c7x15);
                }
            }
        }
    }

    /// <summary>Stores one row of a CPU register block: columns col .. col + 15 of C that lie inside it.</summary>
    private static void StoreRow(
        GemmOutput c, GemmArgs p, int row, int col,
        float s0, float s1, float s2, float s3, float s4, float s5, float s6, float s7,
        float s8, float s9, float s10, float s11, float s12, float s13, float s14, float s15)
    {
        Store(c, p, row, col, s0); Store(c, p, row, col + 1, s1); Store(c, p, row, col + 2, s2); Store(c, p, row, col + 3, s3);
        Store(c, p, row, col + 4, s4); Store(c, p, row, col + 5, s5); Store(c, p, row, col + 6, s6); Store(c, p, row, col + 7, s7);
        Store(c, p, row, col + 8, s8); Store(c, p, row, col + 9, s9); Store(c, p, row, col + 10, s10); Store(c, p, row, col + 11, s11);
        Store(c, p, row, col + 12, s12); Store(c, p, row, col + 13, s13); Store(c, p, row, col + 14, s14); Store(c, p, row, col + 15, s15);
    }

    /// <summary>
    /// c[row, col] = the epilogue of alpha * sum + beta * c[row, col] when (row, col) is inside C; beta == 0 skips the
    /// read.
    /// </summary>
    private static void Store(GemmOutput c, GemmArgs p, int row, int col, float sum)
    {
        if (row < p.M && col < p.N)
        {
            int index = (row * p.N) + col;
            float v = p.Beta == 0f ? p.Alpha * sum : (p.Alpha * sum) + (p.Beta * c.C[index]);
            if (c.Bias.Length > 0)
            {
                v += c.Bias[col];
            }

            if (c.Addend.Length > 0)
            {
                v += c.Addend[index];
            }

            if ((p.Relu != 0 && v <= 0f) || (c.Mask.Length > 0 && !(c.Mask[index] > 0f)))
            {
                v = 0f;
            }

            c.C[index] = v;
        }
    }
}

/// <summary>What the CPU accelerator's GEMM does to each operand element it loads.</summary>
internal interface IOperandRounding
{
    float Round(float value);
}

/// <summary>fp32: nothing.</summary>
internal readonly struct Fp32Operands : IOperandRounding
{
    public float Round(float value) => value;
}

/// <summary>TF32: rounded as cvt.rna.tf32.f32 rounds (see <see cref="Tf32"/>).</summary>
internal readonly struct Tf32Operands : IOperandRounding
{
    public float Round(float value) => Interop.IntAsFloat(TensorCoreOps.RoundToTf32(value));
}

/// <summary>
/// Whether a view's first element is 16-byte aligned (its buffer's start is: device allocations are aligned to at
/// least 256 bytes). ILGPU 1.5.3 keeps a view's element offset in an internal property, read here through a delegate
/// made once; where that cannot be done, no view counts as aligned and GEMMs copy 4 bytes at a time.
/// </summary>
internal static class ViewAlignment
{
    private delegate long IndexGetter(ref ArrayView<float> view);

    private static readonly IndexGetter? Index = Create();

    public static bool Is16ByteAligned(ArrayView<float> view) => Index is { } index && index(ref view) % 4 == 0;

    private static IndexGetter? Create()
    {
        var getter = typeof(ArrayView<float>).GetProperty("Index", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public)?.GetGetMethod(nonPublic: true);
        return getter is not null && getter.ReturnType == typeof(long) ? (IndexGetter)Delegate.CreateDelegate(typeof(IndexGetter), getter) : null;
    }
}
