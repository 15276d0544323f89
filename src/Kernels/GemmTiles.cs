// The GPU GEMM's parts: operands as gathers, outputs with their epilogues, split-K's workspace and reduction, and one
// form (operand and output types) loaded on one GPU with all its tiled kernels.
// An operand is seen by the tile loaders as (line, k): line is A's row or B's column. Each axis is a number in mixed
// radix (d2, d1, d0) whose digits have strides into the data, so a loader decomposes its thread's fixed coordinate once
// per tile and steps the other by constants (a carry is a compare and a subtract): implicit-GEMM convolution reads
// (c, kh, kw) and (n, oh, ow) without a division per element. Inside says whether an element is real data (an
// implicit GEMM's padding reads as 0) and Index where it is.
using System.Reflection;
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.IR;
using ILGPU.IR.Intrinsics;
using ILGPU.IR.Values;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>A position along one axis of an operand: the flat index it contributes and its two lowest digits.</summary>
internal struct GatherPos
{
    /// <summary>This coordinate's part of the element's flat index.</summary>
    public int Offset;

    /// <summary>The lowest digit (kw, ow, w, ...).</summary>
    public int D0;

    /// <summary>The next digit (kh, oh, h, ...).</summary>
    public int D1;
}

/// <summary>A constant amount to move along an axis, decomposed into the axis's digits (made once per thread).</summary>
internal struct GatherStep
{
    /// <summary>What the amount adds to the offset before carries.</summary>
    public int Offset;

    /// <summary>The amount's lowest digit.</summary>
    public int D0;

    /// <summary>The amount's next digit.</summary>
    public int D1;
}

/// <summary>
/// One axis of an operand: value = (d2 R1 + d1) R0 + d0, contributing Base + d0 Stride0 + d1 Stride1 + d2 Stride2 to
/// the flat index. A plain matrix axis has one digit of unbounded radix.
/// </summary>
internal readonly struct GatherAxis
{
    /// <summary>A radix no coordinate reaches.</summary>
    public static readonly FastDivisor Unbounded = new(int.MaxValue);

    public GatherAxis(FastDivisor radix0, FastDivisor radix1, int stride0, int stride1, int stride2, int start)
    {
        Radix0 = radix0;
        Radix1 = radix1;
        Stride0 = stride0;
        Stride1 = stride1;
        Stride2 = stride2;
        Base = start;
        Carry0 = stride1 - (radix0.Divisor * stride0);
        Carry1 = stride2 - (radix1.Divisor * stride1);
    }

    /// <summary>The radix of d0.</summary>
    public FastDivisor Radix0 { get; }

    /// <summary>The radix of d1.</summary>
    public FastDivisor Radix1 { get; }

    /// <summary>The stride of d0.</summary>
    public int Stride0 { get; }

    /// <summary>The stride of d1.</summary>
    public int Stride1 { get; }

    /// <summary>The stride of d2.</summary>
    public int Stride2 { get; }

    /// <summary>What every position's offset starts from.</summary>
    public int Base { get; }

    /// <summary>What a carry out of d0 adds to the offset (d0 wraps by R0, d1 grows by one).</summary>
    public int Carry0 { get; }

    /// <summary>What a carry out of d1 adds to the offset (d1 wraps by R1, d2 grows by one).</summary>
    public int Carry1 { get; }

    /// <summary>An axis of one digit: value * <paramref name="stride"/>.</summary>
    public static GatherAxis Linear(int stride) => new(Unbounded, Unbounded, stride, 0, 0, 0);

    /// <summary>The position of <paramref name="value"/> (two multiply-shift divisions: once per tile, not per element).</summary>
    public GatherPos At(int value)
    {
        int rest = Radix0.Divide(value), high = Radix1.Divide(rest);
        int d0 = value - (rest * Radix0.Divisor), d1 = rest - (high * Radix1.Divisor);
        return new GatherPos { Offset = Base + (d0 * Stride0) + (d1 * Stride1) + (high * Stride2), D0 = d0, D1 = d1 };
    }

    /// <summary>The step that moves a position on by <paramref name="amount"/>.</summary>
    public GatherStep Step(int amount)
    {
        var p = At(amount);
        return new GatherStep { Offset = p.Offset - Base, D0 = p.D0, D1 = p.D1 };
    }

    /// <summary><paramref name="position"/> moved on by the amount <paramref name="step"/> was made for: digit sums with carries.</summary>
    public GatherPos Advance(GatherPos position, GatherStep step)
    {
        var p = position;
        p.Offset += step.Offset;
        p.D0 += step.D0;
        if (p.D0 >= Radix0.Divisor)
        {
            p.D0 -= Radix0.Divisor;
            p.D1++;
            p.Offset += Carry0;
        }

        p.D1 += step.D1;
        if (p.D1 >= Radix1.Divisor)
        {
            p.D1 -= Radix1.Divisor;
            p.Offset += Carry1;
        }

        return p;
    }
}

/// <summary>
/// A GEMM operand as its tile loaders see it: element (line, k), where line is A's row or B's column. Loaders ask only
/// for lines and k inside the GEMM; Inside is false where an implicit operand reads padding (the element is 0).
/// </summary>
internal interface IGemmOperand
{
    /// <summary>The data the elements are gathered from.</summary>
    ArrayView<float> Data { get; }

    /// <summary>The line axis (A's rows, B's columns).</summary>
    GatherAxis Lines { get; }

    /// <summary>The k axis.</summary>
    GatherAxis Ks { get; }

    /// <summary>Whether element (line, k) is data rather than padding.</summary>
    bool Inside(GatherPos line, GatherPos k);

    /// <summary>The element's index in <see cref="Data"/>, when it is <see cref="Inside"/>.</summary>
    int Index(GatherPos line, GatherPos k);
}

/// <summary>A plain matrix: element (line, k) at Data[line * LineStride + k * KStride].</summary>
internal readonly record struct StridedOperand(ArrayView<float> Data, int LineStride, int KStride) : IGemmOperand
{
    public GatherAxis Lines => GatherAxis.Linear(LineStride);

    public GatherAxis Ks => GatherAxis.Linear(KStride);

    public bool Inside(GatherPos line, GatherPos k) => true;

    public int Index(GatherPos line, GatherPos k) => line.Offset + k.Offset;
}

/// <summary>A GEMM's output: stores the sum of element (row, col) (of split <c>split</c>), called only inside C.</summary>
internal interface IGemmOut
{
    void Store(int row, int col, int split, float sum);
}

/// <summary>
/// Sizes of one tiled launch. AAlongK (BAlongN) is 1 when consecutive k (columns) of A (B) are consecutive in memory:
/// the loaders give consecutive threads consecutive addresses, and the tensor-core kernel keeps the operand in shared
/// memory along that axis. AVector (BVector) is 1 when the operand is a plain matrix whose rows along that axis start
/// 16-byte aligned, so it can be copied 16 bytes at a time.
/// </summary>
internal readonly record struct GemmGrid(int M, int N, int K, int KPerSplit, int AAlongK, int BAlongN, int AVector = 0, int BVector = 0);

/// <summary>
/// C[row, col] = epilogue(alpha * sum + beta * C[row, col]): + Bias[col], then + Addend[row, col], then max(., 0) with
/// Relu, then 0 where Mask[row, col] is not positive; beta == 0 never reads C; empty Bias, Addend and Mask are not applied.
/// </summary>
internal readonly record struct MatrixOut(
    ArrayView<float> C, ArrayView<float> Bias, ArrayView<float> Mask, ArrayView<float> Addend, int N, float Alpha, float Beta, int Relu) : IGemmOut
{
    public void Store(int row, int col, int split, float sum)
    {
        int index = (row * N) + col;
        float v = Beta == 0f ? Alpha * sum : (Alpha * sum) + (Beta * C[index]);
        if (Bias.Length > 0)
        {
            v += Bias[col];
        }

        if (Addend.Length > 0)
        {
            v += Addend[index];
        }

        if ((Relu != 0 && v <= 0f) || (Mask.Length > 0 && !(Mask[index] > 0f)))
        {
            v = 0f;
        }

        C[index] = v;
    }
}

/// <summary>
/// A split-K launch's state: the partials' workspace (splits, M, N), one arrival counter per output tile (0 between
/// launches), and the parts. Splits is 1 for a launch without split-K (then the views are empty).
/// </summary>
internal readonly record struct GemmSplitK(ArrayView<float> Workspace, ArrayView<int> Counters, int Splits);

/// <summary>
/// Where a tiled kernel's accumulators go: through the output (one split), or to the split's partial tile,
/// Workspace[(split * M + row) * N + col], which <see cref="SplitKReduction"/> sums.
/// </summary>
internal readonly record struct SplitTarget<TOut>(TOut Output, GemmSplitK SplitK, int M, int N) : IGemmOut
    where TOut : struct, IGemmOut
{
    public void Store(int row, int col, int split, float sum)
    {
        if (SplitK.Splits > 1)
        {
            SplitK.Workspace[(((split * M) + row) * N) + col] = sum;
        }
        else
        {
            Output.Store(row, col, split, sum);
        }
    }
}

/// <summary>
/// Split-K's reduction, inside the GEMM: after a group has stored its partial tile, it counts itself in at the tile's
/// counter; the group that arrives last sums the tile's partials in split order 0, 1, ... (so the bits do not depend on
/// which group that is) and stores the sums through the output, then sets the counter back to 0. No group waits for
/// another, and no second launch is needed.
/// </summary>
internal static class SplitKReduction
{
    /// <summary>
    /// Called by every thread of the group after its partial stores; <paramref name="ticket"/> is one word of shared
    /// memory the kernel no longer needs.
    /// </summary>
    public static void Finish<TOut>(TOut output, GemmSplitK splitK, GemmGrid g, int rowBase, int colBase, int tileM, int tileN, ArrayView<int> ticket)
        where TOut : struct, IGemmOut
    {
        int thread = Group.LinearIndex, threads = Group.DimX * Group.DimY, tile = (Grid.IdxY * Grid.DimX) + Grid.IdxX;

        // Each thread's partial stores are visible to the whole device before its group is counted in.
        MemoryFence.DeviceLevel();
        Group.Barrier();
        if (thread == 0)
        {
            ticket[0] = DeviceAtomics.FetchIncrement(ref splitK.Counters[tile]);
        }

        Group.Barrier();
        if (ticket[0] != splitK.Splits - 1)
        {
            return;
        }

        // The last group: every other group's partials were stored before its count, which this group has seen.
        MemoryFence.DeviceLevel();
        int rows = Math.Min(tileM, g.M - rowBase), cols = Math.Min(tileN, g.N - colBase);
        for (int e = thread; e < rows * cols; e += threads)
        {
            int r = e / cols, row = rowBase + r, col = colBase + e - (r * cols);
            float sum = 0f;
            for (int s = 0; s < splitK.Splits; s++)
            {
                sum += splitK.Workspace[(((s * g.M) + row) * g.N) + col];
            }

            output.Store(row, col, 0, sum);
        }

        if (thread == 0)
        {
            splitK.Counters[tile] = 0;
        }
    }
}

/// <summary>
/// An atomic increment of an int in global memory, returning the value before: <c>atom.global.add.u32</c> on CUDA,
/// <c>atomic_inc</c> on OpenCL (ILGPU's own atomics cast the pointer to a generic one, which OpenCL devices without
/// generic address space, PoCL among them, refuse), Interlocked on the CPU accelerator.
/// </summary>
internal static class DeviceAtomics
{
    [IntrinsicImplementation]
    public static int FetchIncrement(ref int target) => Interlocked.Increment(ref target) - 1;

    /// <summary>Registers the PTX and OpenCL code generators on <paramref name="builder"/>.</summary>
    public static Context.Builder Register(Context.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var manager = builder.GetIntrinsicManager();
        var method = typeof(DeviceAtomics).GetMethod(nameof(FetchIncrement), BindingFlags.Public | BindingFlags.Static)!;
        manager.RegisterMethod(method, new PTXIntrinsic(typeof(DeviceAtomics), nameof(GeneratePtx), IntrinsicImplementationMode.GenerateCode));
        manager.RegisterMethod(method, new CLIntrinsic(typeof(DeviceAtomics), nameof(GenerateOpenCL), IntrinsicImplementationMode.GenerateCode));
        return builder;
    }

    private static void GeneratePtx(PTXBackend backend, PTXCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        var address = codeGenerator.LoadHardware(call[0]);
        var target = codeGenerator.AllocateHardware(value);
        using var command = codeGenerator.BeginCommand("atom.global.add.u32");
        command.AppendArgument(target);
        command.AppendArgumentValue(address);
        command.AppendConstant(1);
    }

    private static void GenerateOpenCL(CLBackend backend, CLCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        var address = codeGenerator.Load(call[0]);
        var target = codeGenerator.Allocate(value);
        using var statement = codeGenerator.BeginStatement(target);
        statement.AppendCommand("atomic_inc");
        statement.BeginArguments();
        statement.AppendArgument(address);
        statement.EndArguments();
    }
}

/// <summary>
/// The split-K partial sums' buffer and the tiles' arrival counters, shared by every GEMM of one kernel library
/// (launches run in order; the counters are 0 between launches). Once anything reserved room (layers do when they are
/// built) it never grows again: a launch plans within what is there, so neither a training step nor an evaluation batch
/// of another size waits for it. Until then (GEMMs called directly) a launch that needs more grows it, which waits for
/// the device first, since queued launches may still use the old buffers.
/// </summary>
internal sealed class GemmWorkspace(Accelerator accelerator)
{
    private MemoryBuffer1D<float, Stride1D.Dense>? buffer;
    private MemoryBuffer1D<int, Stride1D.Dense>? counters;

    /// <summary>Elements held.</summary>
    public long Length => buffer?.Length ?? 0;

    /// <summary>Whether room was reserved: launches then plan within <see cref="Length"/>.</summary>
    public bool IsReserved { get; private set; }

    /// <summary>The most partial elements a launch may plan for now.</summary>
    public long Limit => IsReserved ? Length : long.MaxValue;

    /// <summary>Output tiles the counters cover.</summary>
    public long Tiles => counters?.Length ?? 0;

    /// <summary>Grows the buffers to at least <paramref name="length"/> partials and <paramref name="tiles"/> counters and fixes them there (model building).</summary>
    public void Reserve(long length, long tiles)
    {
        Grow(length, tiles);
        IsReserved = true;
    }

    /// <summary>
    /// The split-K state of a launch of <paramref name="splits"/> parts over <paramref name="length"/> partials and
    /// <paramref name="tiles"/> tiles, growing the buffers when nothing was reserved.
    /// </summary>
    public GemmSplitK Get(int splits, long length, long tiles)
    {
        if (length > Length || tiles > Tiles)
        {
            if (IsReserved)
            {
                throw new InvalidOperationException($"A GEMM asked for {length} partials and {tiles} tile counters of split-K workspace; {Length} and {Tiles} are reserved.");
            }

            Grow(length, tiles);
        }

        return new GemmSplitK(buffer!.View.SubView(0, length), counters!.View.SubView(0, tiles), splits);
    }

    private void Grow(long length, long tiles)
    {
        if (Length < length || Tiles < tiles)
        {
            HostWaits.Record(accelerator);
            accelerator.Synchronize();
            if (Length < length)
            {
                buffer?.Dispose();
                buffer = accelerator.Allocate1D<float>(length);
            }

            if (Tiles < tiles)
            {
                counters?.Dispose();
                counters = accelerator.Allocate1D<int>(tiles);
                counters.MemSetToZero();
            }
        }
    }
}

/// <summary>
/// One GEMM form (operand and output types) on one GPU: its fp32 kernels (GemmKernels.cs) and TF32 tensor-core kernels
/// (GemmTensorCoreKernel.cs), each reducing its own split-K partials. A kernel is compiled the first time a plan asks for
/// it (layers reserve their GEMMs when built, which is when that happens). Plans come from
/// <see cref="LaunchPolicy.PlanGemm"/>.
/// </summary>
internal sealed class GemmForm<TA, TB, TOut>
    where TA : struct, IGemmOperand
    where TB : struct, IGemmOperand
    where TOut : struct, IGemmOut
{
    private readonly Accelerator accelerator;
    private readonly LaunchPolicy policy;
    private readonly GemmWorkspace workspace;
    private readonly string name;
    private readonly bool emulatedTensorCores;
    private readonly Action<KernelConfig, TA, TB, TOut, GemmGrid, GemmSplitK>?[] kernels = new Action<KernelConfig, TA, TB, TOut, GemmGrid, GemmSplitK>?[GemmKernelKinds.Count];

    public GemmForm(Accelerator accelerator, LaunchPolicy policy, GemmWorkspace workspace, string name)
    {
        this.accelerator = accelerator;
        this.policy = policy;
        this.workspace = workspace;
        this.name = name;

        // A plan describes a CUDA GPU whatever accelerator holds its tensors.
        emulatedTensorCores = accelerator.AcceleratorType != AcceleratorType.Cuda && !policy.IsPlanning;

        // The fp32 kernels are compiled now, so a code-generation failure shows at start-up.
        if (!policy.IsPlanning)
        {
            Kernel(GemmKernelKind.Simt128);
            Kernel(GemmKernelKind.Simt64);
        }
    }

    /// <summary>Makes room for the plan of a GEMM of this shape and compiles its kernel (model building).</summary>
    public void Reserve(int m, int n, int k, GemmPrecision precision)
    {
        var plan = policy.PlanGemm(m, n, k, precision, long.MaxValue);
        workspace.Reserve(Math.Max(1, plan.WorkspaceLength(m, n)), Math.Max(1, plan.Tiles(m, n)));
        if (!policy.IsPlanning)
        {
            Kernel(plan.Kind);
        }
    }

    /// <summary>Launches C = A B through <paramref name="output"/>; the operands' contiguity picks the loaders' order.</summary>
    public void Run(TA a, TB b, TOut output, int m, int n, int k, GemmPrecision precision, bool aAlongK, bool bAlongN, bool aVector = false, bool bVector = false)
    {
        if (m == 0 || n == 0)
        {
            return;
        }

        var plan = policy.PlanGemm(m, n, k, precision, workspace.Limit);
        var grid = new GemmGrid(m, n, k, plan.KPerSplit, aAlongK ? 1 : 0, bAlongN ? 1 : 0, aVector ? 1 : 0, bVector ? 1 : 0);
        var config = LaunchPolicy.GemmLaunch(plan, m, n);
        var splitK = plan.Splits > 1 ? workspace.Get(plan.Splits, plan.WorkspaceLength(m, n), plan.Tiles(m, n)) : new GemmSplitK(default, default, 1);
        string kernel = name + GemmKernelKinds.Suffix(plan.Kind) + (plan.Splits > 1 ? "SplitK" : "");
        if (policy.Launch(kernel, config, GemmKernelKinds.SharedBytes(plan.Kind, emulatedTensorCores), plan.Shape(m, n, k)))
        {
            Kernel(plan.Kind)(config, a, b, output, grid, splitK);
        }
    }

    private Action<KernelConfig, TA, TB, TOut, GemmGrid, GemmSplitK> Kernel(GemmKernelKind kind) =>
        kernels[(int)kind] ??= accelerator.LoadStreamKernel<TA, TB, TOut, GemmGrid, GemmSplitK>(GemmKernelKinds.Method<TA, TB, TOut>(kind, emulatedTensorCores));
}

/// <summary>Every GEMM form GpuNet launches on a GPU (operand and output types), for code-generation checks.</summary>
internal static class GemmForms
{
    public static readonly (Type A, Type B, Type Out)[] All =
    [
        (typeof(StridedOperand), typeof(StridedOperand), typeof(MatrixOut)),
        (typeof(StridedOperand), typeof(Im2ColB), typeof(ConvOutput)),
        (typeof(ChannelRowsA), typeof(Im2ColTransposedB), typeof(MatrixOut)),
        (typeof(WeightTransposedA), typeof(Col2ImB), typeof(ConvInputGradient)),
    ];

    /// <summary>
    /// Every GEMM kernel the forms can launch on CUDA (tensor cores as mma.sync), closed over its types, with the name
    /// the launch plan gives it (form prefix + kernel suffix; a split-K launch adds "SplitK").
    /// </summary>
    public static IEnumerable<(string Name, MethodInfo Method)> CudaKernels()
    {
        string[] prefixes = ["Gemm", "ConvForward", "ConvWeightGradient", "ConvInputGradient"];
        for (int f = 0; f < All.Length; f++)
        {
            var (a, b, output) = All[f];
            foreach (var kind in Enum.GetValues<GemmKernelKind>())
            {
                yield return (prefixes[f] + GemmKernelKinds.Suffix(kind), GemmKernelKinds.MethodFor(kind, emulatedTensorCores: false, a, b, output));
            }
        }
    }
}

/// <summary>The arithmetic of a GEMM's multiply-adds.</summary>
public enum GemmPrecision
{
    /// <summary>fp32 operands and products, fp32 accumulation (the default).</summary>
    Fp32,

    /// <summary>
    /// Operands rounded to TF32 as tensor cores round them (cvt.rna: 10 mantissa bits, nearest, ties away from zero),
    /// products exact, fp32 accumulation: tensor cores on CUDA, the same numerics emulated on every other accelerator.
    /// </summary>
    Tf32,
}

/// <summary>The tiled GPU GEMM kernels a plan can pick.</summary>
internal enum GemmKernelKind
{
    /// <summary>fp32, 128 x 128 per group of 16 x 16 threads.</summary>
    Simt128,

    /// <summary>fp32, 64 x 64 per group of 8 x 8 threads.</summary>
    Simt64,

    /// <summary>TF32 tensor cores, 128 x 128 per group of 8 warps.</summary>
    Tensor128x128,

    /// <summary>TF32 tensor cores, 128 x 64 per group of 4 warps.</summary>
    Tensor128x64,

    /// <summary>TF32 tensor cores, 64 x 128 per group of 4 warps.</summary>
    Tensor64x128,

    /// <summary>TF32 tensor cores, 64 x 64 per group of 2 warps.</summary>
    Tensor64x64,
}

/// <summary>What the launch policy and the launchers know of each GEMM kernel.</summary>
internal static class GemmKernelKinds
{
    public const int Count = 6;

    public static bool IsTensorCore(GemmKernelKind kind) => kind >= GemmKernelKind.Tensor128x128;

    public static (int M, int N) Tile(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Simt128 or GemmKernelKind.Tensor128x128 => (128, 128),
        GemmKernelKind.Tensor128x64 => (128, 64),
        GemmKernelKind.Tensor64x128 => (64, 128),
        _ => (64, 64),
    };

    /// <summary>Threads per group.</summary>
    public static int Threads(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Simt128 or GemmKernelKind.Tensor128x128 => 256,
        GemmKernelKind.Tensor128x64 or GemmKernelKind.Tensor64x128 => 128,
        _ => 64,
    };

    /// <summary>K per pipeline step (split-K parts are multiples of it).</summary>
    public static int StepK(GemmKernelKind kind) => IsTensorCore(kind) ? GemmTensorCoreKernel.StageK : 8;

    /// <summary>
    /// Registers per thread, estimated (ptxas decides; these are what the code holds live): 64 accumulators, the
    /// fragments (16 fp32 or 24 TF32), the prefetch or copy state and addresses.
    /// </summary>
    public static int Registers(GemmKernelKind kind) => 128;

    /// <summary>Static shared memory per group, in bytes (an emulated mma adds its exchange).</summary>
    public static int SharedBytes(GemmKernelKind kind, bool emulatedTensorCores = false)
    {
        var (m, n) = Tile(kind);
        return kind switch
        {
            GemmKernelKind.Simt128 or GemmKernelKind.Simt64 => 2 * 2 * 8 * (m + 4) * sizeof(float),
            _ => GemmTensorCoreKernel.SharedBytes(m, n) + (emulatedTensorCores ? default(EmulatedMma).ExchangeLength * sizeof(uint) : 0),
        };
    }

    /// <summary>What the launch plan calls it, after the form's name.</summary>
    public static string Suffix(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Simt128 => "128",
        GemmKernelKind.Simt64 => "64",
        GemmKernelKind.Tensor128x128 => "Tf32_128x128",
        GemmKernelKind.Tensor128x64 => "Tf32_128x64",
        GemmKernelKind.Tensor64x128 => "Tf32_64x128",
        _ => "Tf32_64x64",
    };

    /// <summary>The kernel of <paramref name="kind"/> over (TA, TB, TOut); tensor cores emulated or not.</summary>
    public static Action<TA, TB, TOut, GemmGrid, GemmSplitK> Method<TA, TB, TOut>(GemmKernelKind kind, bool emulatedTensorCores)
        where TA : struct, IGemmOperand
        where TB : struct, IGemmOperand
        where TOut : struct, IGemmOut => (kind, emulatedTensorCores) switch
        {
            (GemmKernelKind.Simt128, _) => GemmKernels.Simt128,
            (GemmKernelKind.Simt64, _) => GemmKernels.Simt64,
            (GemmKernelKind.Tensor128x128, false) => GemmTensorCoreKernel.Kernel<TensorTile128x128, TensorCoreMma, TA, TB, TOut>,
            (GemmKernelKind.Tensor128x64, false) => GemmTensorCoreKernel.Kernel<TensorTile128x64, TensorCoreMma, TA, TB, TOut>,
            (GemmKernelKind.Tensor64x128, false) => GemmTensorCoreKernel.Kernel<TensorTile64x128, TensorCoreMma, TA, TB, TOut>,
            (GemmKernelKind.Tensor64x64, false) => GemmTensorCoreKernel.Kernel<TensorTile64x64, TensorCoreMma, TA, TB, TOut>,
            (GemmKernelKind.Tensor128x128, true) => GemmTensorCoreKernel.Kernel<TensorTile128x128, EmulatedMma, TA, TB, TOut>,
            (GemmKernelKind.Tensor128x64, true) => GemmTensorCoreKernel.Kernel<TensorTile128x64, EmulatedMma, TA, TB, TOut>,
            (GemmKernelKind.Tensor64x128, true) => GemmTensorCoreKernel.Kernel<TensorTile64x128, EmulatedMma, TA, TB, TOut>,
            _ => GemmTensorCoreKernel.Kernel<TensorTile64x64, EmulatedMma, TA, TB, TOut>,
        };

    /// <summary>The kernel method of <paramref name="kind"/> closed over the given operand and output types.</summary>
    public static MethodInfo MethodFor(GemmKernelKind kind, bool emulatedTensorCores, Type a, Type b, Type output)
    {
        var open = typeof(GemmKernelKinds).GetMethod(nameof(Method))!.MakeGenericMethod(a, b, output);
        return ((Delegate)open.Invoke(null, [kind, emulatedTensorCores])!).Method;
    }
}

/// <summary>How a GPU runs one GEMM: the kernel, the parts K is split into and the K of each part, and the groups an SM holds at once.</summary>
internal readonly record struct GemmPlan(GemmKernelKind Kind, int Splits, int KPerSplit, int BlocksPerSm)
{
    public int TileM => GemmKernelKinds.Tile(Kind).M;

    public int TileN => GemmKernelKinds.Tile(Kind).N;

    /// <summary>Elements of split-K workspace it needs (0 without split-K).</summary>
    public long WorkspaceLength(int m, int n) => Splits > 1 ? (long)Splits * m * n : 0;

    /// <summary>Output tiles of C (M, N): the split-K counters it needs.</summary>
    public long Tiles(int m, int n) => (long)((m + TileM - 1) / TileM) * ((n + TileN - 1) / TileN);

    /// <summary>The shape and tiling as a launch records it.</summary>
    public GemmShape Shape(int m, int n, int k) => new(m, n, k, TileM, TileN, Splits, GemmKernelKinds.IsTensorCore(Kind), BlocksPerSm);
}
