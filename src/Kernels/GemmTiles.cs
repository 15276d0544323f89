// The GPU GEMM: C (M, N) = sum over k of A(m, k) B(k, n), tiled through shared memory, with the operands and the output
// as struct type parameters, so one kernel serves plain strided matrices (Linear) and implicit-GEMM convolution, whose
// operands are computed from the image by index arithmetic (see Convolution.cs). The output's Store applies the
// epilogue (alpha, beta, bias, ReLU, mask, NCHW layout).
// Split-K: group (x, y, z) computes tile (y, x) over k in [z * KPerSplit, min(K, (z + 1) * KPerSplit)); with more than
// one split, the partial tiles go to a workspace (splits, M, N) and a second pass sums them in the order z = 0, 1, ...
// and stores through the real output: no atomics, the same bits on every run.
// Shapes are chosen per GEMM by LaunchPolicy.GemmTiling.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>A GEMM's left operand: element (row, k), called only with row &lt; M and k &lt; K.</summary>
internal interface IGemmA
{
    float Load(int row, int k);
}

/// <summary>A GEMM's right operand: element (k, col), called only with k &lt; K and col &lt; N.</summary>
internal interface IGemmB
{
    float Load(int k, int col);
}

/// <summary>A GEMM's output: stores the sum of element (row, col) (of split <c>split</c>), called only inside C.</summary>
internal interface IGemmOut
{
    void Store(int row, int col, int split, float sum);
}

/// <summary>
/// Sizes of one tiled launch. AAlongK (BAlongN) is 1 when consecutive k (columns) of A (B) are consecutive in memory,
/// so the tile loader gives consecutive threads consecutive addresses.
/// </summary>
internal readonly record struct GemmGrid(int M, int N, int K, int KPerSplit, int AAlongK, int BAlongN);

/// <summary>A(row, k) = Data[row * RowStride + k * ColStride].</summary>
internal readonly record struct StridedA(ArrayView<float> Data, int RowStride, int ColStride) : IGemmA
{
    public float Load(int row, int k) => Data[(row * RowStride) + (k * ColStride)];
}

/// <summary>B(k, col) = Data[k * RowStride + col * ColStride].</summary>
internal readonly record struct StridedB(ArrayView<float> Data, int RowStride, int ColStride) : IGemmB
{
    public float Load(int k, int col) => Data[(k * RowStride) + (col * ColStride)];
}

/// <summary>
/// C[row, col] = epilogue(alpha * sum + beta * C[row, col]): + Bias[col], then max(., 0) with Relu, then 0 where
/// Mask[row, col] is not positive; beta == 0 never reads C; empty Bias and Mask are not applied.
/// </summary>
internal readonly record struct MatrixOut(ArrayView<float> C, ArrayView<float> Bias, ArrayView<float> Mask, int N, float Alpha, float Beta, int Relu) : IGemmOut
{
    public void Store(int row, int col, int split, float sum)
    {
        int index = (row * N) + col;
        float v = Beta == 0f ? Alpha * sum : (Alpha * sum) + (Beta * C[index]);
        if (Bias.Length > 0)
        {
            v += Bias[col];
        }

        if ((Relu != 0 && !(v > 0f)) || (Mask.Length > 0 && !(Mask[index] > 0f)))
        {
            v = 0f;
        }

        C[index] = v;
    }
}

/// <summary>Workspace[(split * M + row) * N + col] = sum: a split's partial tile.</summary>
internal readonly record struct PartialOut(ArrayView<float> Workspace, int M, int N) : IGemmOut
{
    public void Store(int row, int col, int split, float sum) => Workspace[(((split * M) + row) * N) + col] = sum;
}

/// <summary>Item (row, col) = row * N + col: the splits' partial sums added in split order, stored through Output.</summary>
internal readonly record struct SplitReduceOp<TOut>(ArrayView<float> Workspace, TOut Output, int M, int N, int Splits) : IItemOp
    where TOut : struct, IGemmOut
{
    public void Apply(int index)
    {
        int row = index / N, col = index - (row * N);
        float sum = 0f;
        for (int s = 0; s < Splits; s++)
        {
            sum += Workspace[(((s * M) + row) * N) + col];
        }

        Output.Store(row, col, 0, sum);
    }
}

/// <summary>The split-K partial sums' buffer, shared by every GEMM of one kernel library (launches run in order).</summary>
internal sealed class GemmWorkspace(Accelerator accelerator)
{
    private MemoryBuffer1D<float, Stride1D.Dense>? buffer;

    /// <summary>Elements held.</summary>
    public long Length => buffer?.Length ?? 0;

    /// <summary>
    /// At least <paramref name="length"/> elements. Growing waits for the device first (queued launches may still read
    /// the old buffer); models reserve what their GEMMs need when they are built, so a training step never grows it.
    /// </summary>
    public ArrayView<float> Get(long length)
    {
        if (Length < length)
        {
            accelerator.Synchronize();
            buffer?.Dispose();
            buffer = accelerator.Allocate1D<float>(length);
        }

        return buffer!.View.SubView(0, length);
    }
}

/// <summary>
/// One GEMM form (operand and output types) on one GPU: its large and small tiled kernels (GemmKernels.cs), the same
/// writing split-K partials, and the reduce pass. Launch shapes come from <see cref="LaunchPolicy.GemmTiling"/>.
/// </summary>
internal sealed class GemmForm<TA, TB, TOut>
    where TA : struct, IGemmA
    where TB : struct, IGemmB
    where TOut : struct, IGemmOut
{
    private readonly LaunchPolicy policy;
    private readonly GemmWorkspace workspace;
    private readonly string name;
    private readonly Action<KernelConfig, TA, TB, TOut, GemmGrid> small, large;
    private readonly Action<KernelConfig, TA, TB, PartialOut, GemmGrid> smallPartial, largePartial;
    private readonly ItemKernel<SplitReduceOp<TOut>> reduce;

    public GemmForm(Accelerator accelerator, LaunchPolicy policy, GemmWorkspace workspace, string name)
    {
        this.policy = policy;
        this.workspace = workspace;
        this.name = name;
        small = accelerator.LoadStreamKernel<TA, TB, TOut, GemmGrid>(GemmKernels.SmallKernel);
        smallPartial = accelerator.LoadStreamKernel<TA, TB, PartialOut, GemmGrid>(GemmKernels.SmallKernel);
        large = accelerator.LoadStreamKernel<TA, TB, TOut, GemmGrid>(GemmKernels.LargeKernel);
        largePartial = accelerator.LoadStreamKernel<TA, TB, PartialOut, GemmGrid>(GemmKernels.LargeKernel);
        reduce = new ItemKernel<SplitReduceOp<TOut>>(accelerator, policy, name + "SplitReduce");
    }

    /// <summary>Elements of workspace a GEMM of this shape needs (0 without split-K).</summary>
    public long WorkspaceLength(int m, int n, int k) => policy.GemmTiling(m, n, k) is { Splits: > 1 } t ? (long)t.Splits * m * n : 0;

    /// <summary>Launches C = A B through <paramref name="output"/>; the operands' contiguity picks the loaders' order.</summary>
    public void Run(TA a, TB b, TOut output, int m, int n, int k, bool aAlongK, bool bAlongN)
    {
        if (m == 0 || n == 0)
        {
            return;
        }

        var tiling = policy.GemmTiling(m, n, k);
        var grid = new GemmGrid(m, n, k, tiling.KPerSplit, aAlongK ? 1 : 0, bAlongN ? 1 : 0);
        var config = LaunchPolicy.GemmLaunch(tiling, m, n);
        var shape = new GemmShape(m, n, k, tiling.TileM, tiling.TileN, tiling.Splits);
        bool isLarge = tiling.TileM == GemmKernels.LargeTile;
        int shared = isLarge ? GemmKernels.LargeSharedBytes : GemmKernels.SmallSharedBytes;
        string kernel = name + (isLarge ? "128" : "64");
        if (tiling.Splits == 1)
        {
            if (policy.Launch(kernel, config, shared, shape))
            {
                (isLarge ? large : small)(config, a, b, output, grid);
            }

            return;
        }

        var partials = workspace.Get((long)tiling.Splits * m * n);
        if (policy.Launch(kernel + "SplitK", config, shared, shape))
        {
            (isLarge ? largePartial : smallPartial)(config, a, b, new PartialOut(partials, m, n), grid);
        }

        reduce.Launch(new SplitReduceOp<TOut>(partials, output, m, n, tiling.Splits), m * n, tiling.Splits);
    }
}

/// <summary>Every GEMM form GpuNet launches on a GPU (operand and output types), for code-generation checks.</summary>
internal static class GemmForms
{
    public static readonly (Type A, Type B, Type Out)[] All =
    [
        (typeof(StridedA), typeof(StridedB), typeof(MatrixOut)),
        (typeof(StridedA), typeof(Im2ColB), typeof(ConvOutput)),
        (typeof(ChannelRowsA), typeof(Im2ColTransposedB), typeof(MatrixOut)),
        (typeof(WeightTransposedA), typeof(Col2ImB), typeof(ConvInputGradient)),
    ];
}

/// <summary>How a GEMM is tiled on a GPU: the tile, the parts K is split into and the K of each part.</summary>
internal readonly record struct GemmTiling(int TileM, int TileN, int Splits, int KPerSplit);
