// GPU GEMM kernels: C (M, N) = sum over k of A(m, k) B(k, n), tiled through shared memory, with the operands and the
// output as struct type parameters (IGemmA, IGemmB, IGemmOut), so one kernel serves plain strided matrices and
// implicit-GEMM convolution. The output's Store applies the epilogue.
// Split-K: group (x, y, z) computes tile (y, x) over k in [z * KPerSplit, min(K, (z + 1) * KPerSplit)) and hands z to
// Store; with more than one split the partial tiles go to a workspace (splits, M, N) through PartialOut and
// a second pass (SplitReduceOp) sums them in the order z = 0, 1, ... before storing through the real output: no atomics, the same bits
// on every run.
// The large kernel's 64 accumulators, its eight unrolled k steps and its stores were written out by a script (the
// prototype's tools/gen.py, from tools/GemmKernels.cs.template); they are plain code, regular enough to edit by hand.
using System.Reflection;
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.IR;
using ILGPU.IR.Intrinsics;
using ILGPU.IR.Values;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>
/// Four consecutive floats. A view of these on shared memory is 16-byte aligned (ILGPU aligns an allocation of a
/// power-of-two-sized struct to its size), so loading one element emits a single 128-bit load (ld.shared.v4.f32).
/// </summary>
internal struct GemmFloat4
{
    public float X;
    public float Y;
    public float Z;
    public float W;
}

/// <summary>
/// The fused multiply-add of the GEMM kernels. ILGPU 1.5.3 never fuses a multiply and an add (it emits mul.f32 and
/// add.f32), no .NET method lowers to its ternary MultiplyAdd, and inline PTX (CudaAsm.Emit with an out argument) goes
/// through local memory, so <see cref="Fma"/> is an intrinsic: a context built with <see cref="Register"/> emits it as
/// one <c>fma.rn.f32</c> on CUDA and <c>fma(a, b, c)</c> on OpenCL; the CPU accelerator runs its body. A GPU context
/// without the registration fails to compile the kernels that use it (its body is not compiled for GPUs).
/// </summary>
internal static class GemmFma
{
    /// <summary><c>a * b + c</c> rounded once.</summary>
    [IntrinsicImplementation]
    public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    /// <summary>Registers <see cref="Fma"/>'s PTX and OpenCL code generators on <paramref name="builder"/>.</summary>
    public static Context.Builder Register(Context.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var manager = builder.GetIntrinsicManager();
        var method = typeof(GemmFma).GetMethod(nameof(Fma), BindingFlags.Public | BindingFlags.Static)!;
        manager.RegisterMethod(method, new PTXIntrinsic(typeof(GemmFma), nameof(GeneratePtx), IntrinsicImplementationMode.GenerateCode));
        manager.RegisterMethod(method, new CLIntrinsic(typeof(GemmFma), nameof(GenerateOpenCL), IntrinsicImplementationMode.GenerateCode));
        return builder;
    }

    /// <summary>PTX: <c>fma.rn.f32 target, a, b, c;</c> on registers.</summary>
    private static void GeneratePtx(PTXBackend backend, PTXCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        var a = codeGenerator.LoadPrimitive(call[0]);
        var b = codeGenerator.LoadPrimitive(call[1]);
        var c = codeGenerator.LoadPrimitive(call[2]);
        var target = codeGenerator.AllocateHardware(value);
        using var command = codeGenerator.BeginCommand("fma.rn.f32");
        command.AppendArgument(target);
        command.AppendArgument(a);
        command.AppendArgument(b);
        command.AppendArgument(c);
    }

    /// <summary>OpenCL C: <c>target = fma(a, b, c);</c>.</summary>
    private static void GenerateOpenCL(CLBackend backend, CLCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        var a = codeGenerator.Load(call[0]);
        var b = codeGenerator.Load(call[1]);
        var c = codeGenerator.Load(call[2]);
        var target = codeGenerator.Allocate(value);
        using var statement = codeGenerator.BeginStatement(target);
        statement.AppendCommand("fma");
        statement.BeginArguments();
        statement.AppendArgument(a);
        statement.AppendArgument(b);
        statement.AppendArgument(c);
        statement.EndArguments();
    }
}

/// <summary>The tiled GPU GEMM kernels and their launch shapes.</summary>
internal static class GemmKernels
{
    /// <summary>Threads along each side of a group (16 x 16 = 256 threads), in both kernels.</summary>
    public const int Threads = 16;

    // Large tile: a group computes 128 x 128 of C, K in steps of 8, each thread an 8 x 8 block at rows
    // {4 ty .. 4 ty + 3, 64 + 4 ty .. 64 + 4 ty + 3} and the same columns with tx. Shared memory holds A as [k][row] and
    // B as [k][col], rows of 128 values padded to 132 (a multiple of 4 keeps every row 16-byte aligned): a loader
    // writing along k (8 consecutive k of 4 rows per 32 threads) then hits banks 4 k + row, all different, and one
    // writing along rows or columns writes consecutive addresses. Two buffers per operand: the next K-tile is read
    // from global memory into registers while the current one is multiplied, so one barrier per K-tile suffices.

    /// <summary>Rows and columns of C per group of the large kernel.</summary>
    public const int LargeTile = 128;

    /// <summary>K per step of the large kernel.</summary>
    public const int LargeTileK = 8;

    /// <summary>Floats per shared row of the large kernel (128 plus 4 of padding).</summary>
    public const int LargeStride = LargeTile + 4;

    /// <summary>Float4s per shared row of the large kernel.</summary>
    public const int LargeStride4 = LargeStride / 4;

    /// <summary>Floats per shared buffer (one operand's K-tile) of the large kernel.</summary>
    public const int LargeBuffer = LargeTileK * LargeStride;

    /// <summary>Float4s per shared buffer of the large kernel.</summary>
    public const int LargeBuffer4 = LargeBuffer / 4;

    /// <summary>Static shared memory of the large kernel, in bytes: two buffers per operand.</summary>
    public const int LargeSharedBytes = 2 * 2 * LargeBuffer * sizeof(float);

    // Small tile: a group computes 64 x 64 of C, each thread a 4 x 4 block at rows ty + 16 r and columns tx + 16 c, so
    // shared reads are broadcasts (A) or consecutive (B). Shared rows hold 64 values plus one of padding, so a loader
    // writing along k (consecutive threads, consecutive k) hits 16 different banks.

    /// <summary>Rows and columns of C per group of the small kernel.</summary>
    public const int SmallTile = 64;

    /// <summary>K per step of the small kernel.</summary>
    public const int SmallTileK = 16;

    /// <summary>Floats per shared row of the small kernel.</summary>
    public const int SmallStride = SmallTile + 1;

    /// <summary>Static shared memory of the small kernel, in bytes.</summary>
    public const int SmallSharedBytes = 2 * SmallTileK * SmallStride * sizeof(float);

    /// <summary>The launch of the large kernel for C (m, n) in <paramref name="splits"/> parts of K.</summary>
    public static KernelConfig LargeConfig(int m, int n, int splits) =>
        new(new Index3D((n + LargeTile - 1) / LargeTile, (m + LargeTile - 1) / LargeTile, splits), new Index3D(Threads, Threads, 1));

    /// <summary>The launch of the small kernel for C (m, n) in <paramref name="splits"/> parts of K.</summary>
    public static KernelConfig SmallConfig(int m, int n, int splits) =>
        new(new Index3D((n + SmallTile - 1) / SmallTile, (m + SmallTile - 1) / SmallTile, splits), new Index3D(Threads, Threads, 1));

    /// <summary>
    /// GPU kernel: one 128 x 128 tile of C (one split of K) per group of 16 x 16 threads, K in double-buffered steps of
    /// 8, each thread an 8 x 8 block of accumulators in registers fed by 128-bit shared loads.
    /// </summary>
    [GpuKernel]
    public static void LargeKernel<TA, TB, TOut>(TA a, TB b, TOut output, GemmGrid g)
        where TA : struct, IGemmA
        where TB : struct, IGemmB
        where TOut : struct, IGemmOut
    {
        var aShared4 = SharedMemory.Allocate<GemmFloat4>(2 * LargeBuffer4); // [buffer][k][row]
        var bShared4 = SharedMemory.Allocate<GemmFloat4>(2 * LargeBuffer4); // [buffer][k][col]
        var aShared = aShared4.Cast<float>();
        var bShared = bShared4.Cast<float>();
        int tx = Group.IdxX, ty = Group.IdxY;
        int linear = (ty * Threads) + tx;
        int rowBase = Grid.IdxY * LargeTile, colBase = Grid.IdxX * LargeTile, split = Grid.IdxZ;
        int kBegin = split * g.KPerSplit, kEnd = Math.Min(g.K, kBegin + g.KPerSplit);
        int tiles = kEnd > kBegin ? (kEnd - kBegin + LargeTileK - 1) / LargeTileK : 0;

        // Loaders: 128 x 8 elements of each operand per K-tile, 4 per thread, consecutive threads on consecutive
        // addresses. Along k: element (row = linear / 8 + 32 r, k = linear % 8); otherwise (row = linear % 128,
        // k = linear / 128 + 2 r). The same for B with columns.
        bool aAlongK = g.AAlongK != 0;
        int aRow = aAlongK ? linear >> 3 : linear & (LargeTile - 1);
        int aK = aAlongK ? linear & (LargeTileK - 1) : linear >> 7;
        int aRowStep = aAlongK ? 32 : 0, aKStep = aAlongK ? 0 : 2;
        int ar0 = rowBase + aRow, ar1 = ar0 + aRowStep, ar2 = ar1 + aRowStep, ar3 = ar2 + aRowStep;
        int ak0 = aK, ak1 = ak0 + aKStep, ak2 = ak1 + aKStep, ak3 = ak2 + aKStep;
        bool aIn0 = ar0 < g.M, aIn1 = ar1 < g.M, aIn2 = ar2 < g.M, aIn3 = ar3 < g.M;
        int aStep = (aKStep * LargeStride) + aRowStep;
        int as0 = (aK * LargeStride) + aRow, as1 = as0 + aStep, as2 = as1 + aStep, as3 = as2 + aStep;

        bool bAlongN = g.BAlongN != 0;
        int bCol = bAlongN ? linear & (LargeTile - 1) : linear >> 3;
        int bK = bAlongN ? linear >> 7 : linear & (LargeTileK - 1);
        int bColStep = bAlongN ? 0 : 32, bKStep = bAlongN ? 2 : 0;
        int bc0 = colBase + bCol, bc1 = bc0 + bColStep, bc2 = bc1 + bColStep, bc3 = bc2 + bColStep;
        int bk0 = bK, bk1 = bk0 + bKStep, bk2 = bk1 + bKStep, bk3 = bk2 + bKStep;
        bool bIn0 = bc0 < g.N, bIn1 = bc1 < g.N, bIn2 = bc2 < g.N, bIn3 = bc3 < g.N;
        int bStep = (bKStep * LargeStride) + bColStep;
        int bs0 = (bK * LargeStride) + bCol, bs1 = bs0 + bStep, bs2 = bs1 + bStep, bs3 = bs2 + bStep;

        float pa0 = 0f, pa1 = 0f, pa2 = 0f, pa3 = 0f, pb0 = 0f, pb1 = 0f, pb2 = 0f, pb3 = 0f;
        if (tiles > 0)
        {
            pa0 = aIn0 && kBegin + ak0 < kEnd ? a.Load(ar0, kBegin + ak0) : 0f;
            pa1 = aIn1 && kBegin + ak1 < kEnd ? a.Load(ar1, kBegin + ak1) : 0f;
            pa2 = aIn2 && kBegin + ak2 < kEnd ? a.Load(ar2, kBegin + ak2) : 0f;
            pa3 = aIn3 && kBegin + ak3 < kEnd ? a.Load(ar3, kBegin + ak3) : 0f;
            pb0 = bIn0 && kBegin + bk0 < kEnd ? b.Load(kBegin + bk0, bc0) : 0f;
            pb1 = bIn1 && kBegin + bk1 < kEnd ? b.Load(kBegin + bk1, bc1) : 0f;
            pb2 = bIn2 && kBegin + bk2 < kEnd ? b.Load(kBegin + bk2, bc2) : 0f;
            pb3 = bIn3 && kBegin + bk3 < kEnd ? b.Load(kBegin + bk3, bc3) : 0f;
            aShared[as0] = pa0; aShared[as1] = pa1; aShared[as2] = pa2; aShared[as3] = pa3;
            bShared[bs0] = pb0; bShared[bs1] = pb1; bShared[bs2] = pb2; bShared[bs3] = pb3;
        }

        Group.Barrier();

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c04 = 0f, c05 = 0f, c06 = 0f, c07 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f, c14 = 0f, c15 = 0f, c16 = 0f, c17 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c24 = 0f, c25 = 0f, c26 = 0f, c27 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f, c34 = 0f, c35 = 0f, c36 = 0f, c37 = 0f;
        float c40 = 0f, c41 = 0f, c42 = 0f, c43 = 0f, c44 = 0f, c45 = 0f, c46 = 0f, c47 = 0f;
        float c50 = 0f, c51 = 0f, c52 = 0f, c53 = 0f, c54 = 0f, c55 = 0f, c56 = 0f, c57 = 0f;
        float c60 = 0f, c61 = 0f, c62 = 0f, c63 = 0f, c64 = 0f, c65 = 0f, c66 = 0f, c67 = 0f;
        float c70 = 0f, c71 = 0f, c72 = 0f, c73 = 0f, c74 = 0f, c75 = 0f, c76 = 0f, c77 = 0f;

        for (int t = 0; t < tiles; t++)
        {
            // Read the next K-tile into registers; its latency hides behind the multiply of this one.
            bool more = t + 1 < tiles;
            int k0 = kBegin + ((t + 1) * LargeTileK);
            if (more)
            {
                pa0 = aIn0 && k0 + ak0 < kEnd ? a.Load(ar0, k0 + ak0) : 0f;
                pa1 = aIn1 && k0 + ak1 < kEnd ? a.Load(ar1, k0 + ak1) : 0f;
                pa2 = aIn2 && k0 + ak2 < kEnd ? a.Load(ar2, k0 + ak2) : 0f;
                pa3 = aIn3 && k0 + ak3 < kEnd ? a.Load(ar3, k0 + ak3) : 0f;
                pb0 = bIn0 && k0 + bk0 < kEnd ? b.Load(k0 + bk0, bc0) : 0f;
                pb1 = bIn1 && k0 + bk1 < kEnd ? b.Load(k0 + bk1, bc1) : 0f;
                pb2 = bIn2 && k0 + bk2 < kEnd ? b.Load(k0 + bk2, bc2) : 0f;
                pb3 = bIn3 && k0 + bk3 < kEnd ? b.Load(k0 + bk3, bc3) : 0f;
            }

            int aBase = (t & 1) * LargeBuffer4, bBase = aBase;
            GemmFloat4 a0, a1, b0, b1;
            // k = k0 + 0
            a0 = aShared4[aBase + ty]; a1 = aShared4[aBase + 16 + ty];
            b0 = bShared4[bBase + tx]; b1 = bShared4[bBase + 16 + tx];
            c00 = GemmFma.Fma(a0.X, b0.X, c00); c01 = GemmFma.Fma(a0.X, b0.Y, c01); c02 = GemmFma.Fma(a0.X, b0.Z, c02); c03 = GemmFma.Fma(a0.X, b0.W, c03);
            c04 = GemmFma.Fma(a0.X, b1.X, c04); c05 = GemmFma.Fma(a0.X, b1.Y, c05); c06 = GemmFma.Fma(a0.X, b1.Z, c06); c07 = GemmFma.Fma(a0.X, b1.W, c07);
            c10 = GemmFma.Fma(a0.Y, b0.X, c10); c11 = GemmFma.Fma(a0.Y, b0.Y, c11); c12 = GemmFma.Fma(a0.Y, b0.Z, c12); c13 = GemmFma.Fma(a0.Y, b0.W, c13);
            c14 = GemmFma.Fma(a0.Y, b1.X, c14); c15 = GemmFma.Fma(a0.Y, b1.Y, c15); c16 = GemmFma.Fma(a0.Y, b1.Z, c16); c17 = GemmFma.Fma(a0.Y, b1.W, c17);
            c20 = GemmFma.Fma(a0.Z, b0.X, c20); c21 = GemmFma.Fma(a0.Z, b0.Y, c21); c22 = GemmFma.Fma(a0.Z, b0.Z, c22); c23 = GemmFma.Fma(a0.Z, b0.W, c23);
            c24 = GemmFma.Fma(a0.Z, b1.X, c24); c25 = GemmFma.Fma(a0.Z, b1.Y, c25); c26 = GemmFma.Fma(a0.Z, b1.Z, c26); c27 = GemmFma.Fma(a0.Z, b1.W, c27);
            c30 = GemmFma.Fma(a0.W, b0.X, c30); c31 = GemmFma.Fma(a0.W, b0.Y, c31); c32 = GemmFma.Fma(a0.W, b0.Z, c32); c33 = GemmFma.Fma(a0.W, b0.W, c33);
            c34 = GemmFma.Fma(a0.W, b1.X, c34); c35 = GemmFma.Fma(a0.W, b1.Y, c35); c36 = GemmFma.Fma(a0.W, b1.Z, c36); c37 = GemmFma.Fma(a0.W, b1.W, c37);
            c40 = GemmFma.Fma(a1.X, b0.X, c40); c41 = GemmFma.Fma(a1.X, b0.Y, c41); c42 = GemmFma.Fma(a1.X, b0.Z, c42); c43 = GemmFma.Fma(a1.X, b0.W, c43);
            c44 = GemmFma.Fma(a1.X, b1.X, c44); c45 = GemmFma.Fma(a1.X, b1.Y, c45); c46 = GemmFma.Fma(a1.X, b1.Z, c46); c47 = GemmFma.Fma(a1.X, b1.W, c47);
            c50 = GemmFma.Fma(a1.Y, b0.X, c50); c51 = GemmFma.Fma(a1.Y, b0.Y, c51); c52 = GemmFma.Fma(a1.Y, b0.Z, c52); c53 = GemmFma.Fma(a1.Y, b0.W, c53);
            c54 = GemmFma.Fma(a1.Y, b1.X, c54); c55 = GemmFma.Fma(a1.Y, b1.Y, c55); c56 = GemmFma.Fma(a1.Y, b1.Z, c56); c57 = GemmFma.Fma(a1.Y, b1.W, c57);
            c60 = GemmFma.Fma(a1.Z, b0.X, c60); c61 = GemmFma.Fma(a1.Z, b0.Y, c61); c62 = GemmFma.Fma(a1.Z, b0.Z, c62); c63 = GemmFma.Fma(a1.Z, b0.W, c63);
            c64 = GemmFma.Fma(a1.Z, b1.X, c64); c65 = GemmFma.Fma(a1.Z, b1.Y, c65); c66 = GemmFma.Fma(a1.Z, b1.Z, c66); c67 = GemmFma.Fma(a1.Z, b1.W, c67);
            c70 = GemmFma.Fma(a1.W, b0.X, c70); c71 = GemmFma.Fma(a1.W, b0.Y, c71); c72 = GemmFma.Fma(a1.W, b0.Z, c72); c73 = GemmFma.Fma(a1.W, b0.W, c73);
            c74 = GemmFma.Fma(a1.W, b1.X, c74); c75 = GemmFma.Fma(a1.W, b1.Y, c75); c76 = GemmFma.Fma(a1.W, b1.Z, c76); c77 = GemmFma.Fma(a1.W, b1.W, c77);

            // k = k0 + 1
            a0 = aShared4[aBase + 33 + ty]; a1 = aShared4[aBase + 49 + ty];
            b0 = bShared4[bBase + 33 + tx]; b1 = bShared4[bBase + 49 + tx];
            c00 = GemmFma.Fma(a0.X, b0.X, c00); c01 = GemmFma.Fma(a0.X, b0.Y, c01); c02 = GemmFma.Fma(a0.X, b0.Z, c02); c03 = GemmFma.Fma(a0.X, b0.W, c03);
            c04 = GemmFma.Fma(a0.X, b1.X, c04); c05 = GemmFma.Fma(a0.X, b1.Y, c05); c06 = GemmFma.Fma(a0.X, b1.Z, c06); c07 = GemmFma.Fma(a0.X, b1.W, c07);
            c10 = GemmFma.Fma(a0.Y, b0.X, c10); c11 = GemmFma.Fma(a0.Y, b0.Y, c11); c12 = GemmFma.Fma(a0.Y, b0.Z, c12); c13 = GemmFma.Fma(a0.Y, b0.W, c13);
            c14 = GemmFma.Fma(a0.Y, b1.X, c14); c15 = GemmFma.Fma(a0.Y, b1.Y, c15); c16 = GemmFma.Fma(a0.Y, b1.Z, c16); c17 = GemmFma.Fma(a0.Y, b1.W, c17);
            c20 = GemmFma.Fma(a0.Z, b0.X, c20); c21 = GemmFma.Fma(a0.Z, b0.Y, c21); c22 = GemmFma.Fma(a0.Z, b0.Z, c22); c23 = GemmFma.Fma(a0.Z, b0.W, c23);
            c24 = GemmFma.Fma(a0.Z, b1.X, c24); c25 = GemmFma.Fma(a0.Z, b1.Y, c25); c26 = GemmFma.Fma(a0.Z, b1.Z, c26); c27 = GemmFma.Fma(a0.Z, b1.W, c27);
            c30 = GemmFma.Fma(a0.W, b0.X, c30); c31 = GemmFma.Fma(a0.W, b0.Y, c31); c32 = GemmFma.Fma(a0.W, b0.Z, c32); c33 = GemmFma.Fma(a0.W, b0.W, c33);
            c34 = GemmFma.Fma(a0.W, b1.X, c34); c35 = GemmFma.Fma(a0.W, b1.Y, c35); c36 = GemmFma.Fma(a0.W, b1.Z, c36); c37 = GemmFma.Fma(a0.W, b1.W, c37);
            c40 = GemmFma.Fma(a1.X, b0.X, c40); c41 = GemmFma.Fma(a1.X, b0.Y, c41); c42 = GemmFma.Fma(a1.X, b0.Z, c42); c43 = GemmFma.Fma(a1.X, b0.W, c43);
            c44 = GemmFma.Fma(a1.X, b1.X, c44); c45 = GemmFma.Fma(a1.X, b1.Y, c45); c46 = GemmFma.Fma(a1.X, b1.Z, c46); c47 = GemmFma.Fma(a1.X, b1.W, c47);
            c50 = GemmFma.Fma(a1.Y, b0.X, c50); c51 = GemmFma.Fma(a1.Y, b0.Y, c51); c52 = GemmFma.Fma(a1.Y, b0.Z, c52); c53 = GemmFma.Fma(a1.Y, b0.W, c53);
            c54 = GemmFma.Fma(a1.Y, b1.X, c54); c55 = GemmFma.Fma(a1.Y, b1.Y, c55); c56 = GemmFma.Fma(a1.Y, b1.Z, c56); c57 = GemmFma.Fma(a1.Y, b1.W, c57);
            c60 = GemmFma.Fma(a1.Z, b0.X, c60); c61 = GemmFma.Fma(a1.Z, b0.Y, c61); c62 = GemmFma.Fma(a1.Z, b0.Z, c62); c63 = GemmFma.Fma(a1.Z, b0.W, c63);
            c64 = GemmFma.Fma(a1.Z, b1.X, c64); c65 = GemmFma.Fma(a1.Z, b1.Y, c65); c66 = GemmFma.Fma(a1.Z, b1.Z, c66); c67 = GemmFma.Fma(a1.Z, b1.W, c67);
            c70 = GemmFma.Fma(a1.W, b0.X, c70); c71 = GemmFma.Fma(a1.W, b0.Y, c71); c72 = GemmFma.Fma(a1.W, b0.Z, c72); c73 = GemmFma.Fma(a1.W, b0.W, c73);
            c74 = GemmFma.Fma(a1.W, b1.X, c74); c75 = GemmFma.Fma(a1.W, b1.Y, c75); c76 = GemmFma.Fma(a1.W, b1.Z, c76); c77 = GemmFma.Fma(a1.W, b1.W, c77);

            // k = k0 + 2
            a0 = aShared4[aBase + 66 + ty]; a1 = aShared4[aBase + 82 + ty];
            b0 = bShared4[bBase + 66 + tx]; b1 = bShared4[bBase + 82 + tx];
            c00 = GemmFma.Fma(a0.X, b0.X, c00); c01 = GemmFma.Fma(a0.X, b0.Y, c01); c02 = GemmFma.Fma(a0.X, b0.Z, c02); c03 = GemmFma.Fma(a0.X, b0.W, c03);
            c04 = GemmFma.Fma(a0.X, b1.X, c04); c05 = GemmFma.Fma(a0.X, b1.Y, c05); c06 = GemmFma.Fma(a0.X, b1.Z, c06); c07 = GemmFma.Fma(a0.X, b1.W, c07);
            c10 = GemmFma.Fma(a0.Y, b0.X, c10); c11 = GemmFma.Fma(a0.Y, b0.Y, c11); c12 = GemmFma.Fma(a0.Y, b0.Z, c12); c13 = GemmFma.Fma(a0.Y, b0.W, c13);
            c14 = GemmFma.Fma(a0.Y, b1.X, c14); c15 = GemmFma.Fma(a0.Y, b1.Y, c15); c16 = GemmFma.Fma(a0.Y, b1.Z, c16); c17 = GemmFma.Fma(a0.Y, b1.W, c17);
            c20 = GemmFma.Fma(a0.Z, b0.X, c20); c21 = GemmFma.Fma(a0.Z, b0.Y, c21); c22 = GemmFma.Fma(a0.Z, b0.Z, c22); c23 = GemmFma.Fma(a0.Z, b0.W, c23);
            c24 = GemmFma.Fma(a0.Z, b1.X, c24); c25 = GemmFma.Fma(a0.Z, b1.Y, c25); c26 = GemmFma.Fma(a0.Z, b1.Z, c26); c27 = GemmFma.Fma(a0.Z, b1.W, c27);
            c30 = GemmFma.Fma(a0.W, b0.X, c30); c31 = GemmFma.Fma(a0.W, b0.Y, c31); c32 = GemmFma.Fma(a0.W, b0.Z, c32); c33 = GemmFma.Fma(a0.W, b0.W, c33);
            c34 = GemmFma.Fma(a0.W, b1.X, c34); c35 = GemmFma.Fma(a0.W, b1.Y, c35); c36 = GemmFma.Fma(a0.W, b1.Z, c36); c37 = GemmFma.Fma(a0.W, b1.W, c37);
            c40 = GemmFma.Fma(a1.X, b0.X, c40); c41 = GemmFma.Fma(a1.X, b0.Y, c41); c42 = GemmFma.Fma(a1.X, b0.Z, c42); c43 = GemmFma.Fma(a1.X, b0.W, c43);
            c44 = GemmFma.Fma(a1.X, b1.X, c44); c45 = GemmFma.Fma(a1.X, b1.Y, c45); c46 = GemmFma.Fma(a1.X, b1.Z, c46); c47 = GemmFma.Fma(a1.X, b1.W, c47);
            c50 = GemmFma.Fma(a1.Y, b0.X, c50); c51 = GemmFma.Fma(a1.Y, b0.Y, c51); c52 = GemmFma.Fma(a1.Y, b0.Z, c52); c53 = GemmFma.Fma(a1.Y, b0.W, c53);
            c54 = GemmFma.Fma(a1.Y, b1.X, c54); c55 = GemmFma.Fma(a1.Y, b1.Y, c55); c56 = GemmFma.Fma(a1.Y, b1.Z, c56); c57 = GemmFma.Fma(a1.Y, b1.W, c57);
            c60 = GemmFma.Fma(a1.Z, b0.X, c60); c61 = GemmFma.Fma(a1.Z, b0.Y, c61); c62 = GemmFma.Fma(a1.Z, b0.Z, c62); c63 = GemmFma.Fma(a1.Z, b0.W, c63);
            c64 = GemmFma.Fma(a1.Z, b1.X, c64); c65 = GemmFma.Fma(a1.Z, b1.Y, c65); c66 = GemmFma.Fma(a1.Z, b1.Z, c66); c67 = GemmFma.Fma(a1.Z, b1.W, c67);
            c70 = GemmFma.Fma(a1.W, b0.X, c70); c71 = GemmFma.Fma(a1.W, b0.Y, c71); c72 = GemmFma.Fma(a1.W, b0.Z, c72); c73 = GemmFma.Fma(a1.W, b0.W, c73);
            c74 = GemmFma.Fma(a1.W, b1.X, c74); c75 = GemmFma.Fma(a1.W, b1.Y, c75); c76 = GemmFma.Fma(a1.W, b1.Z, c76); c77 = GemmFma.Fma(a1.W, b1.W, c77);

            // k = k0 + 3
            a0 = aShared4[aBase + 99 + ty]; a1 = aShared4[aBase + 115 + ty];
            b0 = bShared4[bBase + 99 + tx]; b1 = bShared4[bBase + 115 + tx];
            c00 = GemmFma.Fma(a0.X, b0.X, c00); c01 = GemmFma.Fma(a0.X, b0.Y, c01); c02 = GemmFma.Fma(a0.X, b0.Z, c02); c03 = GemmFma.Fma(a0.X, b0.W, c03);
            c04 = GemmFma.Fma(a0.X, b1.X, c04); c05 = GemmFma.Fma(a0.X, b1.Y, c05); c06 = GemmFma.Fma(a0.X, b1.Z, c06); c07 = GemmFma.Fma(a0.X, b1.W, c07);
            c10 = GemmFma.Fma(a0.Y, b0.X, c10); c11 = GemmFma.Fma(a0.Y, b0.Y, c11); c12 = GemmFma.Fma(a0.Y, b0.Z, c12); c13 = GemmFma.Fma(a0.Y, b0.W, c13);
            c14 = GemmFma.Fma(a0.Y, b1.X, c14); c15 = GemmFma.Fma(a0.Y, b1.Y, c15); c16 = GemmFma.Fma(a0.Y, b1.Z, c16); c17 = GemmFma.Fma(a0.Y, b1.W, c17);
            c20 = GemmFma.Fma(a0.Z, b0.X, c20); c21 = GemmFma.Fma(a0.Z, b0.Y, c21); c22 = GemmFma.Fma(a0.Z, b0.Z, c22); c23 = GemmFma.Fma(a0.Z, b0.W, c23);
            c24 = GemmFma.Fma(a0.Z, b1.X, c24); c25 = GemmFma.Fma(a0.Z, b1.Y, c25); c26 = GemmFma.Fma(a0.Z, b1.Z, c26); c27 = GemmFma.Fma(a0.Z, b1.W, c27);
            c30 = GemmFma.Fma(a0.W, b0.X, c30); c31 = GemmFma.Fma(a0.W, b0.Y, c31); c32 = GemmFma.Fma(a0.W, b0.Z, c32); c33 = GemmFma.Fma(a0.W, b0.W, c33);
            c34 = GemmFma.Fma(a0.W, b1.X, c34); c35 = GemmFma.Fma(a0.W, b1.Y, c35); c36 = GemmFma.Fma(a0.W, b1.Z, c36); c37 = GemmFma.Fma(a0.W, b1.W, c37);
            c40 = GemmFma.Fma(a1.X, b0.X, c40); c41 = GemmFma.Fma(a1.X, b0.Y, c41); c42 = GemmFma.Fma(a1.X, b0.Z, c42); c43 = GemmFma.Fma(a1.X, b0.W, c43);
            c44 = GemmFma.Fma(a1.X, b1.X, c44); c45 = GemmFma.Fma(a1.X, b1.Y, c45); c46 = GemmFma.Fma(a1.X, b1.Z, c46); c47 = GemmFma.Fma(a1.X, b1.W, c47);
            c50 = GemmFma.Fma(a1.Y, b0.X, c50); c51 = GemmFma.Fma(a1.Y, b0.Y, c51); c52 = GemmFma.Fma(a1.Y, b0.Z, c52); c53 = GemmFma.Fma(a1.Y, b0.W, c53);
            c54 = GemmFma.Fma(a1.Y, b1.X, c54); c55 = GemmFma.Fma(a1.Y, b1.Y, c55); c56 = GemmFma.Fma(a1.Y, b1.Z, c56); c57 = GemmFma.Fma(a1.Y, b1.W, c57);
            c60 = GemmFma.Fma(a1.Z, b0.X, c60); c61 = GemmFma.Fma(a1.Z, b0.Y, c61); c62 = GemmFma.Fma(a1.Z, b0.Z, c62); c63 = GemmFma.Fma(a1.Z, b0.W, c63);
            c64 = GemmFma.Fma(a1.Z, b1.X, c64); c65 = GemmFma.Fma(a1.Z, b1.Y, c65); c66 = GemmFma.Fma(a1.Z, b1.Z, c66); c67 = GemmFma.Fma(a1.Z, b1.W, c67);
            c70 = GemmFma.Fma(a1.W, b0.X, c70); c71 = GemmFma.Fma(a1.W, b0.Y, c71); c72 = GemmFma.Fma(a1.W, b0.Z, c72); c73 = GemmFma.Fma(a1.W, b0.W, c73);
            c74 = GemmFma.Fma(a1.W, b1.X, c74); c75 = GemmFma.Fma(a1.W, b1.Y, c75); c76 = GemmFma.Fma(a1.W, b1.Z, c76); c77 = GemmFma.Fma(a1.W, b1.W, c77);

            // k = k0 + 4
            a0 = aShared4[aBase + 132 + ty]; a1 = aShared4[aBase + 148 + ty];
            b0 = bShared4[bBase + 132 + tx]; b1 = bShared4[bBase + 148 + tx];
            c00 = GemmFma.Fma(a0.X, b0.X, c00); c01 = GemmFma.Fma(a0.X, b0.Y, c01); c02 = GemmFma.Fma(a0.X, b0.Z, c02); c03 = GemmFma.Fma(a0.X, b0.W, c03);
            c04 = GemmFma.Fma(a0.X, b1.X, c04); c05 = GemmFma.Fma(a0.X, b1.Y, c05); c06 = GemmFma.Fma(a0.X, b1.Z, c06); c07 = GemmFma.Fma(a0.X, b1.W, c07);
            c10 = GemmFma.Fma(a0.Y, b0.X, c10); c11 = GemmFma.Fma(a0.Y, b0.Y, c11); c12 = GemmFma.Fma(a0.Y, b0.Z, c12); c13 = GemmFma.Fma(a0.Y, b0.W, c13);
            c14 = GemmFma.Fma(a0.Y, b1.X, c14); c15 = GemmFma.Fma(a0.Y, b1.Y, c15); c16 = GemmFma.Fma(a0.Y, b1.Z, c16); c17 = GemmFma.Fma(a0.Y, b1.W, c17);
            c20 = GemmFma.Fma(a0.Z, b0.X, c20); c21 = GemmFma.Fma(a0.Z, b0.Y, c21); c22 = GemmFma.Fma(a0.Z, b0.Z, c22); c23 = GemmFma.Fma(a0.Z, b0.W, c23);
            c24 = GemmFma.Fma(a0.Z, b1.X, c24); c25 = GemmFma.Fma(a0.Z, b1.Y, c25); c26 = GemmFma.Fma(a0.Z, b1.Z, c26); c27 = GemmFma.Fma(a0.Z, b1.W, c27);
            c30 = GemmFma.Fma(a0.W, b0.X, c30); c31 = GemmFma.Fma(a0.W, b0.Y, c31); c32 = GemmFma.Fma(a0.W, b0.Z, c32); c33 = GemmFma.Fma(a0.W, b0.W, c33);
            c34 = GemmFma.Fma(a0.W, b1.X, c34); c35 = GemmFma.Fma(a0.W, b1.Y, c35); c36 = GemmFma.Fma(a0.W, b1.Z, c36); c37 = GemmFma.Fma(a0.W, b1.W, c37);
            c40 = GemmFma.Fma(a1.X, b0.X, c40); c41 = GemmFma.Fma(a1.X, b0.Y, c41); c42 = GemmFma.Fma(a1.X, b0.Z, c42); c43 = GemmFma.Fma(a1.X, b0.W, c43);
            c44 = GemmFma.Fma(a1.X, b1.X, c44); c45 = GemmFma.Fma(a1.X, b1.Y, c45); c46 = GemmFma.Fma(a1.X, b1.Z, c46); c47 = GemmFma.Fma(a1.X, b1.W, c47);
            c50 = GemmFma.Fma(a1.Y, b0.X, c50); c51 = GemmFma.Fma(a1.Y, b0.Y, c51); c52 = GemmFma.Fma(a1.Y, b0.Z, c52); c53 = GemmFma.Fma(a1.Y, b0.W, c53);
            c54 = GemmFma.Fma(a1.Y, b1.X, c54); c55 = GemmFma.Fma(a1.Y, b1.Y, c55); c56 = GemmFma.Fma(a1.Y, b1.Z, c56); c57 = GemmFma.Fma(a1.Y, b1.W, c57);
            c60 = GemmFma.Fma(a1.Z, b0.X, c60); c61 = GemmFma.Fma(a1.Z, b0.Y, c61); c62 = GemmFma.Fma(a1.Z, b0.Z, c62); c63 = GemmFma.Fma(a1.Z, b0.W, c63);
            c64 = GemmFma.Fma(a1.Z, b1.X, c64); c65 = GemmFma.Fma(a1.Z, b1.Y, c65); c66 = GemmFma.Fma(a1.Z, b1.Z, c66); c67 = GemmFma.Fma(a1.Z, b1.W, c67);
            c70 = GemmFma.Fma(a1.W, b0.X, c70); c71 = GemmFma.Fma(a1.W, b0.Y, c71); c72 = GemmFma.Fma(a1.W, b0.Z, c72); c73 = GemmFma.Fma(a1.W, b0.W, c73);
            c74 = GemmFma.Fma(a1.W, b1.X, c74); c75 = GemmFma.Fma(a1.W, b1.Y, c75); c76 = GemmFma.Fma(a1.W, b1.Z, c76); c77 = GemmFma.Fma(a1.W, b1.W, c77);

            // k = k0 + 5
            a0 = aShared4[aBase + 165 + ty]; a1 = aShared4[aBase + 181 + ty];
            b0 = bShared4[bBase + 165 + tx]; b1 = bShared4[bBase + 181 + tx];
            c00 = GemmFma.Fma(a0.X, b0.X, c00); c01 = GemmFma.Fma(a0.X, b0.Y, c01); c02 = GemmFma.Fma(a0.X, b0.Z, c02); c03 = GemmFma.Fma(a0.X, b0.W, c03);
            c04 = GemmFma.Fma(a0.X, b1.X, c04); c05 = GemmFma.Fma(a0.X, b1.Y, c05); c06 = GemmFma.Fma(a0.X, b1.Z, c06); c07 = GemmFma.Fma(a0.X, b1.W, c07);
            c10 = GemmFma.Fma(a0.Y, b0.X, c10); c11 = GemmFma.Fma(a0.Y, b0.Y, c11); c12 = GemmFma.Fma(a0.Y, b0.Z, c12); c13 = GemmFma.Fma(a0.Y, b0.W, c13);
            c14 = GemmFma.Fma(a0.Y, b1.X, c14); c15 = GemmFma.Fma(a0.Y, b1.Y, c15); c16 = GemmFma.Fma(a0.Y, b1.Z, c16); c17 = GemmFma.Fma(a0.Y, b1.W, c17);
            c20 = GemmFma.Fma(a0.Z, b0.X, c20); c21 = GemmFma.Fma(a0.Z, b0.Y, c21); c22 = GemmFma.Fma(a0.Z, b0.Z, c22); c23 = GemmFma.Fma(a0.Z, b0.W, c23);
            c24 = GemmFma.Fma(a0.Z, b1.X, c24); c25 = GemmFma.Fma(a0.Z, b1.Y, c25); c26 = GemmFma.Fma(a0.Z, b1.Z, c26); c27 = GemmFma.Fma(a0.Z, b1.W, c27);
            c30 = GemmFma.Fma(a0.W, b0.X, c30); c31 = GemmFma.Fma(a0.W, b0.Y, c31); c32 = GemmFma.Fma(a0.W, b0.Z, c32); c33 = GemmFma.Fma(a0.W, b0.W, c33);
            c34 = GemmFma.Fma(a0.W, b1.X, c34); c35 = GemmFma.Fma(a0.W, b1.Y, c35); c36 = GemmFma.Fma(a0.W, b1.Z, c36); c37 = GemmFma.Fma(a0.W, b1.W, c37);
            c40 = GemmFma.Fma(a1.X, b0.X, c40); c41 = GemmFma.Fma(a1.X, b0.Y, c41); c42 = GemmFma.Fma(a1.X, b0.Z, c42); c43 = GemmFma.Fma(a1.X, b0.W, c43);
            c44 = GemmFma.Fma(a1.X, b1.X, c44); c45 = GemmFma.Fma(a1.X, b1.Y, c45); c46 = GemmFma.Fma(a1.X, b1.Z, c46); c47 = GemmFma.Fma(a1.X, b1.W, c47);
            c50 = GemmFma.Fma(a1.Y, b0.X, c50); c51 = GemmFma.Fma(a1.Y, b0.Y, c51); c52 = GemmFma.Fma(a1.Y, b0.Z, c52); c53 = GemmFma.Fma(a1.Y, b0.W, c53);
            c54 = GemmFma.Fma(a1.Y, b1.X, c54); c55 = GemmFma.Fma(a1.Y, b1.Y, c55); c56 = GemmFma.Fma(a1.Y, b1.Z, c56); c57 = GemmFma.Fma(a1.Y, b1.W, c57);
            c60 = GemmFma.Fma(a1.Z, b0.X, c60); c61 = GemmFma.Fma(a1.Z, b0.Y, c61); c62 = GemmFma.Fma(a1.Z, b0.Z, c62); c63 = GemmFma.Fma(a1.Z, b0.W, c63);
            c64 = GemmFma.Fma(a1.Z, b1.X, c64); c65 = GemmFma.Fma(a1.Z, b1.Y, c65); c66 = GemmFma.Fma(a1.Z, b1.Z, c66); c67 = GemmFma.Fma(a1.Z, b1.W, c67);
            c70 = GemmFma.Fma(a1.W, b0.X, c70); c71 = GemmFma.Fma(a1.W, b0.Y, c71); c72 = GemmFma.Fma(a1.W, b0.Z, c72); c73 = GemmFma.Fma(a1.W, b0.W, c73);
            c74 = GemmFma.Fma(a1.W, b1.X, c74); c75 = GemmFma.Fma(a1.W, b1.Y, c75); c76 = GemmFma.Fma(a1.W, b1.Z, c76); c77 = GemmFma.Fma(a1.W, b1.W, c77);

            // k = k0 + 6
            a0 = aShared4[aBase + 198 + ty]; a1 = aShared4[aBase + 214 + ty];
            b0 = bShared4[bBase + 198 + tx]; b1 = bShared4[bBase + 214 + tx];
            c00 = GemmFma.Fma(a0.X, b0.X, c00); c01 = GemmFma.Fma(a0.X, b0.Y, c01); c02 = GemmFma.Fma(a0.X, b0.Z, c02); c03 = GemmFma.Fma(a0.X, b0.W, c03);
            c04 = GemmFma.Fma(a0.X, b1.X, c04); c05 = GemmFma.Fma(a0.X, b1.Y, c05); c06 = GemmFma.Fma(a0.X, b1.Z, c06); c07 = GemmFma.Fma(a0.X, b1.W, c07);
            c10 = GemmFma.Fma(a0.Y, b0.X, c10); c11 = GemmFma.Fma(a0.Y, b0.Y, c11); c12 = GemmFma.Fma(a0.Y, b0.Z, c12); c13 = GemmFma.Fma(a0.Y, b0.W, c13);
            c14 = GemmFma.Fma(a0.Y, b1.X, c14); c15 = GemmFma.Fma(a0.Y, b1.Y, c15); c16 = GemmFma.Fma(a0.Y, b1.Z, c16); c17 = GemmFma.Fma(a0.Y, b1.W, c17);
            c20 = GemmFma.Fma(a0.Z, b0.X, c20); c21 = GemmFma.Fma(a0.Z, b0.Y, c21); c22 = GemmFma.Fma(a0.Z, b0.Z, c22); c23 = GemmFma.Fma(a0.Z, b0.W, c23);
            c24 = GemmFma.Fma(a0.Z, b1.X, c24); c25 = GemmFma.Fma(a0.Z, b1.Y, c25); c26 = GemmFma.Fma(a0.Z, b1.Z, c26); c27 = GemmFma.Fma(a0.Z, b1.W, c27);
            c30 = GemmFma.Fma(a0.W, b0.X, c30); c31 = GemmFma.Fma(a0.W, b0.Y, c31); c32 = GemmFma.Fma(a0.W, b0.Z, c32); c33 = GemmFma.Fma(a0.W, b0.W, c33);
            c34 = GemmFma.Fma(a0.W, b1.X, c34); c35 = GemmFma.Fma(a0.W, b1.Y, c35); c36 = GemmFma.Fma(a0.W, b1.Z, c36); c37 = GemmFma.Fma(a0.W, b1.W, c37);
            c40 = GemmFma.Fma(a1.X, b0.X, c40); c41 = GemmFma.Fma(a1.X, b0.Y, c41); c42 = GemmFma.Fma(a1.X, b0.Z, c42); c43 = GemmFma.Fma(a1.X, b0.W, c43);
            c44 = GemmFma.Fma(a1.X, b1.X, c44); c45 = GemmFma.Fma(a1.X, b1.Y, c45); c46 = GemmFma.Fma(a1.X, b1.Z, c46); c47 = GemmFma.Fma(a1.X, b1.W, c47);
            c50 = GemmFma.Fma(a1.Y, b0.X, c50); c51 = GemmFma.Fma(a1.Y, b0.Y, c51); c52 = GemmFma.Fma(a1.Y, b0.Z, c52); c53 = GemmFma.Fma(a1.Y, b0.W, c53);
            c54 = GemmFma.Fma(a1.Y, b1.X, c54); c55 = GemmFma.Fma(a1.Y, b1.Y, c55); c56 = GemmFma.Fma(a1.Y, b1.Z, c56); c57 = GemmFma.Fma(a1.Y, b1.W, c57);
            c60 = GemmFma.Fma(a1.Z, b0.X, c60); c61 = GemmFma.Fma(a1.Z, b0.Y, c61); c62 = GemmFma.Fma(a1.Z, b0.Z, c62); c63 = GemmFma.Fma(a1.Z, b0.W, c63);
            c64 = GemmFma.Fma(a1.Z, b1.X, c64); c65 = GemmFma.Fma(a1.Z, b1.Y, c65); c66 = GemmFma.Fma(a1.Z, b1.Z, c66); c67 = GemmFma.Fma(a1.Z, b1.W, c67);
            c70 = GemmFma.Fma(a1.W, b0.X, c70); c71 = GemmFma.Fma(a1.W, b0.Y, c71); c72 = GemmFma.Fma(a1.W, b0.Z, c72); c73 = GemmFma.Fma(a1.W, b0.W, c73);
            c74 = GemmFma.Fma(a1.W, b1.X, c74); c75 = GemmFma.Fma(a1.W, b1.Y, c75); c76 = GemmFma.Fma(a1.W, b1.Z, c76); c77 = GemmFma.Fma(a1.W, b1.W, c77);

            // k = k0 + 7
            a0 = aShared4[aBase + 231 + ty]; a1 = aShared4[aBase + 247 + ty];
            b0 = bShared4[bBase + 231 + tx]; b1 = bShared4[bBase + 247 + tx];
            c00 = GemmFma.Fma(a0.X, b0.X, c00); c01 = GemmFma.Fma(a0.X, b0.Y, c01); c02 = GemmFma.Fma(a0.X, b0.Z, c02); c03 = GemmFma.Fma(a0.X, b0.W, c03);
            c04 = GemmFma.Fma(a0.X, b1.X, c04); c05 = GemmFma.Fma(a0.X, b1.Y, c05); c06 = GemmFma.Fma(a0.X, b1.Z, c06); c07 = GemmFma.Fma(a0.X, b1.W, c07);
            c10 = GemmFma.Fma(a0.Y, b0.X, c10); c11 = GemmFma.Fma(a0.Y, b0.Y, c11); c12 = GemmFma.Fma(a0.Y, b0.Z, c12); c13 = GemmFma.Fma(a0.Y, b0.W, c13);
            c14 = GemmFma.Fma(a0.Y, b1.X, c14); c15 = GemmFma.Fma(a0.Y, b1.Y, c15); c16 = GemmFma.Fma(a0.Y, b1.Z, c16); c17 = GemmFma.Fma(a0.Y, b1.W, c17);
            c20 = GemmFma.Fma(a0.Z, b0.X, c20); c21 = GemmFma.Fma(a0.Z, b0.Y, c21); c22 = GemmFma.Fma(a0.Z, b0.Z, c22); c23 = GemmFma.Fma(a0.Z, b0.W, c23);
            c24 = GemmFma.Fma(a0.Z, b1.X, c24); c25 = GemmFma.Fma(a0.Z, b1.Y, c25); c26 = GemmFma.Fma(a0.Z, b1.Z, c26); c27 = GemmFma.Fma(a0.Z, b1.W, c27);
            c30 = GemmFma.Fma(a0.W, b0.X, c30); c31 = GemmFma.Fma(a0.W, b0.Y, c31); c32 = GemmFma.Fma(a0.W, b0.Z, c32); c33 = GemmFma.Fma(a0.W, b0.W, c33);
            c34 = GemmFma.Fma(a0.W, b1.X, c34); c35 = GemmFma.Fma(a0.W, b1.Y, c35); c36 = GemmFma.Fma(a0.W, b1.Z, c36); c37 = GemmFma.Fma(a0.W, b1.W, c37);
            c40 = GemmFma.Fma(a1.X, b0.X, c40); c41 = GemmFma.Fma(a1.X, b0.Y, c41); c42 = GemmFma.Fma(a1.X, b0.Z, c42); c43 = GemmFma.Fma(a1.X, b0.W, c43);
            c44 = GemmFma.Fma(a1.X, b1.X, c44); c45 = GemmFma.Fma(a1.X, b1.Y, c45); c46 = GemmFma.Fma(a1.X, b1.Z, c46); c47 = GemmFma.Fma(a1.X, b1.W, c47);
            c50 = GemmFma.Fma(a1.Y, b0.X, c50); c51 = GemmFma.Fma(a1.Y, b0.Y, c51); c52 = GemmFma.Fma(a1.Y, b0.Z, c52); c53 = GemmFma.Fma(a1.Y, b0.W, c53);
            c54 = GemmFma.Fma(a1.Y, b1.X, c54); c55 = GemmFma.Fma(a1.Y, b1.Y, c55); c56 = GemmFma.Fma(a1.Y, b1.Z, c56); c57 = GemmFma.Fma(a1.Y, b1.W, c57);
            c60 = GemmFma.Fma(a1.Z, b0.X, c60); c61 = GemmFma.Fma(a1.Z, b0.Y, c61); c62 = GemmFma.Fma(a1.Z, b0.Z, c62); c63 = GemmFma.Fma(a1.Z, b0.W, c63);
            c64 = GemmFma.Fma(a1.Z, b1.X, c64); c65 = GemmFma.Fma(a1.Z, b1.Y, c65); c66 = GemmFma.Fma(a1.Z, b1.Z, c66); c67 = GemmFma.Fma(a1.Z, b1.W, c67);
            c70 = GemmFma.Fma(a1.W, b0.X, c70); c71 = GemmFma.Fma(a1.W, b0.Y, c71); c72 = GemmFma.Fma(a1.W, b0.Z, c72); c73 = GemmFma.Fma(a1.W, b0.W, c73);
            c74 = GemmFma.Fma(a1.W, b1.X, c74); c75 = GemmFma.Fma(a1.W, b1.Y, c75); c76 = GemmFma.Fma(a1.W, b1.Z, c76); c77 = GemmFma.Fma(a1.W, b1.W, c77);

            // The other buffer was last read before the previous barrier, so it can be overwritten now.
            if (more)
            {
                int next = ((t + 1) & 1) * LargeBuffer;
                aShared[next + as0] = pa0; aShared[next + as1] = pa1; aShared[next + as2] = pa2; aShared[next + as3] = pa3;
                bShared[next + bs0] = pb0; bShared[next + bs1] = pb1; bShared[next + bs2] = pb2; bShared[next + bs3] = pb3;
            }

            Group.Barrier();
        }

        int rowA = rowBase + (4 * ty), rowB = rowA + 64, colA = colBase + (4 * tx), colB = colA + 64;
        StoreRow8(output, g, split, rowA + 0, colA, colB, c00, c01, c02, c03, c04, c05, c06, c07);
        StoreRow8(output, g, split, rowA + 1, colA, colB, c10, c11, c12, c13, c14, c15, c16, c17);
        StoreRow8(output, g, split, rowA + 2, colA, colB, c20, c21, c22, c23, c24, c25, c26, c27);
        StoreRow8(output, g, split, rowA + 3, colA, colB, c30, c31, c32, c33, c34, c35, c36, c37);
        StoreRow8(output, g, split, rowB + 0, colA, colB, c40, c41, c42, c43, c44, c45, c46, c47);
        StoreRow8(output, g, split, rowB + 1, colA, colB, c50, c51, c52, c53, c54, c55, c56, c57);
        StoreRow8(output, g, split, rowB + 2, colA, colB, c60, c61, c62, c63, c64, c65, c66, c67);
        StoreRow8(output, g, split, rowB + 3, colA, colB, c70, c71, c72, c73, c74, c75, c76, c77);
    }

    /// <summary>
    /// Stores one row of a thread's 8 x 8 block, where inside C: s0 .. s3 at columns colA .. colA + 3, s4 .. s7 at
    /// colB .. colB + 3.
    /// </summary>
    private static void StoreRow8<TOut>(
        TOut output, GemmGrid g, int split, int row, int colA, int colB,
        float s0, float s1, float s2, float s3, float s4, float s5, float s6, float s7)
        where TOut : struct, IGemmOut
    {
        if (row >= g.M)
        {
            return;
        }

        if (colA + 3 < g.N)
        {
            output.Store(row, colA, split, s0);
            output.Store(row, colA + 1, split, s1);
            output.Store(row, colA + 2, split, s2);
            output.Store(row, colA + 3, split, s3);
        }
        else
        {
            Store4Partial(output, g.N, split, row, colA, s0, s1, s2, s3);
        }

        if (colB + 3 < g.N)
        {
            output.Store(row, colB, split, s4);
            output.Store(row, colB + 1, split, s5);
            output.Store(row, colB + 2, split, s6);
            output.Store(row, colB + 3, split, s7);
        }
        else
        {
            Store4Partial(output, g.N, split, row, colB, s4, s5, s6, s7);
        }
    }

    /// <summary>Stores s0 .. s3 at columns col .. col + 3 of <paramref name="row"/>, those below <paramref name="n"/>.</summary>
    private static void Store4Partial<TOut>(TOut output, int n, int split, int row, int col, float s0, float s1, float s2, float s3)
        where TOut : struct, IGemmOut
    {
        if (col < n)
        {
            output.Store(row, col, split, s0);
        }

        if (col + 1 < n)
        {
            output.Store(row, col + 1, split, s1);
        }

        if (col + 2 < n)
        {
            output.Store(row, col + 2, split, s2);
        }

        if (col + 3 < n)
        {
            output.Store(row, col + 3, split, s3);
        }
    }

    /// <summary>GPU kernel: one 64 x 64 tile of C (one split of K) per group of 16 x 16 threads, K in steps of 16.</summary>
    [GpuKernel]
    public static void SmallKernel<TA, TB, TOut>(TA a, TB b, TOut output, GemmGrid g)
        where TA : struct, IGemmA
        where TB : struct, IGemmB
        where TOut : struct, IGemmOut
    {
        var aTile = SharedMemory.Allocate<float>(SmallTileK * SmallStride); // [k][row]
        var bTile = SharedMemory.Allocate<float>(SmallTileK * SmallStride); // [k][col]
        int tx = Group.IdxX, ty = Group.IdxY;
        int linear = (ty * Threads) + tx;
        int rowBase = Grid.IdxY * SmallTile, colBase = Grid.IdxX * SmallTile, split = Grid.IdxZ;
        int kBegin = split * g.KPerSplit, kEnd = Math.Min(g.K, kBegin + g.KPerSplit);

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        float c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        float c30 = 0, c31 = 0, c32 = 0, c33 = 0;

        for (int k0 = kBegin; k0 < kEnd; k0 += SmallTileK)
        {
            // 64 x 16 elements of each operand, 4 per thread.
            for (int r = 0; r < 4; r++)
            {
                int e = linear + (r * Threads * Threads);
                int ai = g.AAlongK != 0 ? e / SmallTileK : e % SmallTile;
                int ak = g.AAlongK != 0 ? e % SmallTileK : e / SmallTile;
                int gi = rowBase + ai, gk = k0 + ak;
                aTile[(ak * SmallStride) + ai] = gi < g.M && gk < kEnd ? a.Load(gi, gk) : 0f;

                int bj = g.BAlongN != 0 ? e % SmallTile : e / SmallTileK;
                int bk = g.BAlongN != 0 ? e / SmallTile : e % SmallTileK;
                int gj = colBase + bj, gkb = k0 + bk;
                bTile[(bk * SmallStride) + bj] = gkb < kEnd && gj < g.N ? b.Load(gkb, gj) : 0f;
            }

            Group.Barrier();
            for (int kk = 0; kk < SmallTileK; kk++)
            {
                int ao = (kk * SmallStride) + ty, bo = (kk * SmallStride) + tx;
                float a0 = aTile[ao], a1 = aTile[ao + 16], a2 = aTile[ao + 32], a3 = aTile[ao + 48];
                float b0 = bTile[bo], b1 = bTile[bo + 16], b2 = bTile[bo + 32], b3 = bTile[bo + 48];
                c00 = GemmFma.Fma(a0, b0, c00); c01 = GemmFma.Fma(a0, b1, c01); c02 = GemmFma.Fma(a0, b2, c02); c03 = GemmFma.Fma(a0, b3, c03);
                c10 = GemmFma.Fma(a1, b0, c10); c11 = GemmFma.Fma(a1, b1, c11); c12 = GemmFma.Fma(a1, b2, c12); c13 = GemmFma.Fma(a1, b3, c13);
                c20 = GemmFma.Fma(a2, b0, c20); c21 = GemmFma.Fma(a2, b1, c21); c22 = GemmFma.Fma(a2, b2, c22); c23 = GemmFma.Fma(a2, b3, c23);
                c30 = GemmFma.Fma(a3, b0, c30); c31 = GemmFma.Fma(a3, b1, c31); c32 = GemmFma.Fma(a3, b2, c32); c33 = GemmFma.Fma(a3, b3, c33);
            }

            Group.Barrier();
        }

        int row = rowBase + ty, col = colBase + tx;
        StoreRow4(output, g, split, row, col, c00, c01, c02, c03);
        StoreRow4(output, g, split, row + 16, col, c10, c11, c12, c13);
        StoreRow4(output, g, split, row + 32, col, c20, c21, c22, c23);
        StoreRow4(output, g, split, row + 48, col, c30, c31, c32, c33);
    }

    /// <summary>Stores one row of a small-kernel thread's 4 x 4 block: columns col, col + 16, col + 32, col + 48, where inside C.</summary>
    private static void StoreRow4<TOut>(TOut output, GemmGrid g, int split, int row, int col, float s0, float s1, float s2, float s3)
        where TOut : struct, IGemmOut
    {
        if (row >= g.M)
        {
            return;
        }

        if (col < g.N)
        {
            output.Store(row, col, split, s0);
        }

        if (col + 16 < g.N)
        {
            output.Store(row, col + 16, split, s1);
        }

        if (col + 32 < g.N)
        {
            output.Store(row, col + 32, split, s2);
        }

        if (col + 48 < g.N)
        {
            output.Store(row, col + 48, split, s3);
        }
    }
}
