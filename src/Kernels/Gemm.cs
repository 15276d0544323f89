// GEMM, row-major: C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C, op in {none, transpose}.
// A(i, k) is read at a[i * aRowStride + k * aColStride] and B(k, j) at b[k * bRowStride + j * bColStride], so one
// kernel serves every transpose combination. beta == 0 never reads C (it may hold garbage or NaN).
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
    int M, int N, int K, int ARowStride, int AColStride, int BRowStride, int BColStride, float Alpha, float Beta);

/// <summary>The GEMM kernels and their launcher.</summary>
public sealed class Gemm
{
    // GPU tiling: a group of 16 x 16 threads computes a 64 x 64 tile of C; each thread a 4 x 4 block of it, at rows
    // ty + 16 r and columns tx + 16 c so that shared-memory reads are broadcasts (A) or consecutive (B).
    internal const int Tile = 64;
    internal const int TileK = 16;
    internal const int Threads = 16;

    // CPU accelerator: one item is 4 rows by up to 64 columns of C, computed in 4 x 4 register blocks.
    internal const int CpuRows = 4;
    internal const int CpuPanel = 64;

    private readonly LaunchPolicy policy;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs> tiled;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs, int> coarse;

    internal Gemm(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        if (policy.IsCpu)
        {
            coarse = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs, int>(CoarseKernel);
            tiled = (_, _, _, _, _) => throw new InvalidOperationException("The tiled GEMM does not run on the CPU accelerator.");
        }
        else
        {
            tiled = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(TiledKernel);
            coarse = (_, _, _, _, _, _) => throw new InvalidOperationException("The coarse GEMM runs on the CPU accelerator only.");
        }
    }

    /// <summary>
    /// Computes <c>c = alpha * op(a) * op(b) + beta * c</c>. With op(a) of shape (M, K) and op(b) of shape (K, N),
    /// <paramref name="c"/> must be (M, N). When <paramref name="beta"/> is 0, <paramref name="c"/> is not read.
    /// </summary>
    public void Multiply(
        TensorView<float> c,
        TensorView<float> a,
        Transpose transposeA,
        TensorView<float> b,
        Transpose transposeB,
        float alpha = 1f,
        float beta = 0f)
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

        if (m == 0 || n == 0)
        {
            return;
        }

        var args = new GemmArgs(
            m, n, k,
            ta ? 1 : a.Shape[1], ta ? a.Shape[1] : 1,
            tb ? 1 : b.Shape[1], tb ? b.Shape[1] : 1,
            alpha, beta);
        if (policy.IsCpu)
        {
            int panels = (n + CpuPanel - 1) / CpuPanel;
            long items = (long)((m + CpuRows - 1) / CpuRows) * panels;
            var config = policy.Items(items, out int blockSize, workPerItem: (long)CpuRows * CpuPanel * Math.Max(1, k));
            coarse(config, c.Data, a.Data, b.Data, args, blockSize);
        }
        else
        {
            var config = new KernelConfig(
                new Index2D((n + Tile - 1) / Tile, (m + Tile - 1) / Tile), new Index2D(Threads, Threads));
            tiled(config, c.Data, a.Data, b.Data, args);
        }
    }

    /// <summary>GPU kernel: one 64 x 64 tile of C per group of 16 x 16 threads, K in steps of 16 through shared memory.</summary>
    [GpuKernel]
    internal static void TiledKernel(ArrayView<float> c, ArrayView<float> a, ArrayView<float> b, GemmArgs p)
    {
        var aTile = SharedMemory.Allocate<float>(TileK * Tile); // [k][i]
        var bTile = SharedMemory.Allocate<float>(TileK * Tile); // [k][j]
        int tx = Group.IdxX, ty = Group.IdxY;
        int linear = (ty * Threads) + tx;
        int rowBase = Grid.IdxY * Tile, colBase = Grid.IdxX * Tile;
        bool aAlongK = p.AColStride == 1; // consecutive threads read consecutive addresses
        bool bAlongN = p.BColStride == 1;

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        float c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        float c30 = 0, c31 = 0, c32 = 0, c33 = 0;

        for (int k0 = 0; k0 < p.K; k0 += TileK)
        {
            for (int r = 0; r < (TileK * Tile) / (Threads * Threads); r++)
            {
                int e = linear + (r * Threads * Threads);
                int ai = aAlongK ? e / TileK : e % Tile;
                int ak = aAlongK ? e % TileK : e / Tile;
                int gi = rowBase + ai, gk = k0 + ak;
                aTile[(ak * Tile) + ai] = gi < p.M && gk < p.K ? a[(gi * p.ARowStride) + (gk * p.AColStride)] : 0f;

                int bj = bAlongN ? e % Tile : e / TileK;
                int bk = bAlongN ? e / Tile : e % TileK;
                int gj = colBase + bj, gkb = k0 + bk;
                bTile[(bk * Tile) + bj] = gkb < p.K && gj < p.N ? b[(gkb * p.BRowStride) + (gj * p.BColStride)] : 0f;
            }

            Group.Barrier();
            for (int kk = 0; kk < TileK; kk++)
            {
                int ao = (kk * Tile) + ty, bo = (kk * Tile) + tx;
                float a0 = aTile[ao], a1 = aTile[ao + 16], a2 = aTile[ao + 32], a3 = aTile[ao + 48];
                float b0 = bTile[bo], b1 = bTile[bo + 16], b2 = bTile[bo + 32], b3 = bTile[bo + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }

            Group.Barrier();
        }

        int row = rowBase + ty, col = colBase + tx;
        Store(c, p, row, col, c00); Store(c, p, row, col + 16, c01); Store(c, p, row, col + 32, c02); Store(c, p, row, col + 48, c03);
        Store(c, p, row + 16, col, c10); Store(c, p, row + 16, col + 16, c11); Store(c, p, row + 16, col + 32, c12); Store(c, p, row + 16, col + 48, c13);
        Store(c, p, row + 32, col, c20); Store(c, p, row + 32, col + 16, c21); Store(c, p, row + 32, col + 32, c22); Store(c, p, row + 32, col + 48, c23);
        Store(c, p, row + 48, col, c30); Store(c, p, row + 48, col + 16, c31); Store(c, p, row + 48, col + 32, c32); Store(c, p, row + 48, col + 48, c33);
    }

    /// <summary>
    /// CPU-accelerator kernel: each thread takes blocks of consecutive items, an item being 4 rows by a 64-column
    /// panel of C, computed in 4 x 4 register blocks with no barriers. Out-of-range rows and columns are loaded from
    /// a clamped index and never stored, which keeps the inner loop free of branches.
    /// </summary>
    [GpuKernel]
    internal static void CoarseKernel(ArrayView<float> c, ArrayView<float> a, ArrayView<float> b, GemmArgs p, int blockSize)
    {
        int panels = (p.N + CpuPanel - 1) / CpuPanel;
        int items = ((p.M + CpuRows - 1) / CpuRows) * panels;
        for (int start = KernelSupport.ThreadIndex * blockSize; start < items; start += KernelSupport.ThreadCount * blockSize)
        {
            int end = Math.Min(start + blockSize, items);
            for (int item = start; item < end; item++)
            {
                int row = (item / panels) * CpuRows;
                int panelEnd = Math.Min(((item % panels) + 1) * CpuPanel, p.N);
                int a0 = Math.Min(row, p.M - 1) * p.ARowStride, a1 = Math.Min(row + 1, p.M - 1) * p.ARowStride;
                int a2 = Math.Min(row + 2, p.M - 1) * p.ARowStride, a3 = Math.Min(row + 3, p.M - 1) * p.ARowStride;
                for (int col = (item % panels) * CpuPanel; col < panelEnd; col += 4)
                {
                    int b0 = col * p.BColStride, b1 = Math.Min(col + 1, p.N - 1) * p.BColStride;
                    int b2 = Math.Min(col + 2, p.N - 1) * p.BColStride, b3 = Math.Min(col + 3, p.N - 1) * p.BColStride;
                    float c00 = 0, c01 = 0, c02 = 0, c03 = 0;
                    float c10 = 0, c11 = 0, c12 = 0, c13 = 0;
                    float c20 = 0, c21 = 0, c22 = 0, c23 = 0;
                    float c30 = 0, c31 = 0, c32 = 0, c33 = 0;
                    for (int k = 0; k < p.K; k++)
                    {
                        int ak = k * p.AColStride, bk = k * p.BRowStride;
                        float x0 = a[a0 + ak], x1 = a[a1 + ak], x2 = a[a2 + ak], x3 = a[a3 + ak];
                        float y0 = b[bk + b0], y1 = b[bk + b1], y2 = b[bk + b2], y3 = b[bk + b3];
                        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
                        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
                        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
                        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
                    }

                    Store(c, p, row, col, c00); Store(c, p, row, col + 1, c01); Store(c, p, row, col + 2, c02); Store(c, p, row, col + 3, c03);
                    Store(c, p, row + 1, col, c10); Store(c, p, row + 1, col + 1, c11); Store(c, p, row + 1, col + 2, c12); Store(c, p, row + 1, col + 3, c13);
                    Store(c, p, row + 2, col, c20); Store(c, p, row + 2, col + 1, c21); Store(c, p, row + 2, col + 2, c22); Store(c, p, row + 2, col + 3, c23);
                    Store(c, p, row + 3, col, c30); Store(c, p, row + 3, col + 1, c31); Store(c, p, row + 3, col + 2, c32); Store(c, p, row + 3, col + 3, c33);
                }
            }
        }
    }

    /// <summary>c[row, col] = alpha * sum + beta * c[row, col] when (row, col) is inside C; beta == 0 skips the read.</summary>
    private static void Store(ArrayView<float> c, GemmArgs p, int row, int col, float sum)
    {
        if (row < p.M && col < p.N)
        {
            int index = (row * p.N) + col;
            c[index] = p.Beta == 0f ? p.Alpha * sum : (p.Alpha * sum) + (p.Beta * c[index]);
        }
    }
}
