// fp32 GPU GEMM kernels: C (M, N) = sum over k of A(m, k) B(k, n), tiled through shared memory, with the operands and
// the output as struct type parameters (IGemmOperand, IGemmOut), so one kernel serves plain strided matrices and
// implicit-GEMM convolution. The output's Store applies the epilogue. (The TF32 tensor-core kernel is in
// GemmTensorCoreKernel.cs.)
// Split-K: group (x, y, z) computes tile (y, x) over k in [z * KPerSplit, min(K, (z + 1) * KPerSplit)); with more than
// one split the partial tiles go to a workspace (splits, M, N), and the tile's last group to finish sums them in the
// order z = 0, 1, ... and stores through the real output (SplitKReduction): no floating-point atomics, the same bits
// on every run, no second launch.
// Both kernels give each thread an 8 x 8 block of C: rows {4 ty .. 4 ty + 3, Tile / 2 + 4 ty ..} and the same columns
// with tx. Shared memory holds A as [k][row] and B as [k][col], rows of Tile values padded by 4 (a multiple of 4 keeps
// every row 16-byte aligned): a loader writing along k (8 consecutive k of 4 lines per 32 threads) then hits banks
// 4 k + line, all different, and one writing along lines writes consecutive addresses. Two buffers per operand: the
// next K-tile is read from global memory into registers while the current one is multiplied, so one barrier per K-tile
// suffices. A warp of the 128 x 128 kernel covers 2 x 16 threads, of the 64 x 64 kernel 4 x 8: its A fragments are
// broadcasts and its B fragments consecutive 128-bit words, so the fragment reads have no bank conflicts.
// The accumulators, the unrolled k steps, the loads and the stores are written by tools/gen_gemm_kernels.py.
using System.Reflection;
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.IR;
using ILGPU.IR.Intrinsics;
using ILGPU.IR.Values;

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

/// <summary>The fp32 tiled GPU GEMM kernels.</summary>
internal static class GemmKernels
{
    // <generated: SIMT kernels>
    // Generated by tools/gen_gemm_kernels.py: edit the script, not this file.

    /// <summary>
    /// GPU kernel: one 128 x 128 tile of C (one split of K) per group of 16 x 16 threads, K in double-buffered
    /// steps of 8, each thread an 8 x 8 block of accumulators in registers fed by 128-bit shared loads (4 multiply-adds
    /// per float read from shared memory).
    /// </summary>
    [GpuKernel]
    public static void Simt128<TA, TB, TOut>(TA a, TB b, TOut output, GemmGrid g, GemmSplitK splitK)
        where TA : struct, IGemmOperand
        where TB : struct, IGemmOperand
        where TOut : struct, IGemmOut
    {
        const int Tile = 128, Threads = 256, Stride = 132, Buffer = 8 * Stride, Buffer4 = Buffer / 4;
        var aShared4 = SharedMemory.Allocate<GemmFloat4>(2 * Buffer4); // [buffer][k][row]
        var bShared4 = SharedMemory.Allocate<GemmFloat4>(2 * Buffer4); // [buffer][k][col]
        var aShared = aShared4.Cast<float>();
        var bShared = bShared4.Cast<float>();
        int tx = Group.IdxX, ty = Group.IdxY;
        int linear = (ty * 16) + tx;
        int rowBase = Grid.IdxY * Tile, colBase = Grid.IdxX * Tile, split = Grid.IdxZ;
        int kBegin = split * g.KPerSplit, kEnd = Math.Min(g.K, kBegin + g.KPerSplit);
        int tiles = kEnd > kBegin ? (kEnd - kBegin + 7) / 8 : 0;

        // Loaders: Tile x 8 elements of each operand per K-tile, 4 per thread, consecutive threads on consecutive
        // addresses. Along k: a fixed k (linear % 8) and lines linear / 8 + 32 j; along the lines: a fixed
        // line (linear % Tile) and k = linear / Tile + 2 j. The fixed coordinate is decomposed once; the
        // other steps by a constant.
        var aLoad = SimtLoader.Of(a, g.AAlongK != 0, rowBase, kBegin, linear, Tile, Threads);
        var bLoad = SimtLoader.Of(b, g.BAlongN == 0, colBase, kBegin, linear, Tile, Threads);
        float pa0 = 0f, pa1 = 0f, pa2 = 0f, pa3 = 0f;
        float pb0 = 0f, pb1 = 0f, pb2 = 0f, pb3 = 0f;
        if (tiles > 0)
        {
            {
                var line = aLoad.Line; var k = aLoad.K; int lineIndex = aLoad.LineIndex, kIndex = aLoad.KIndex;
                pa0 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa1 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa2 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa3 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                aLoad = aLoad.NextTile(a.Ks);
            }

            {
                var line = bLoad.Line; var k = bLoad.K; int lineIndex = bLoad.LineIndex, kIndex = bLoad.KIndex;
                pb0 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb1 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb2 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb3 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                bLoad = bLoad.NextTile(b.Ks);
            }

            { int at = 0 + aLoad.SharedFirst; aShared[at] = pa0; aShared[at + 1 * aLoad.SharedStep] = pa1; aShared[at + 2 * aLoad.SharedStep] = pa2; aShared[at + 3 * aLoad.SharedStep] = pa3; }
            { int at = 0 + bLoad.SharedFirst; bShared[at] = pb0; bShared[at + 1 * bLoad.SharedStep] = pb1; bShared[at + 2 * bLoad.SharedStep] = pb2; bShared[at + 3 * bLoad.SharedStep] = pb3; }
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
            if (more)
            {
                {
                    var line = aLoad.Line; var k = aLoad.K; int lineIndex = aLoad.LineIndex, kIndex = aLoad.KIndex;
                    pa0 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa1 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa2 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa3 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    aLoad = aLoad.NextTile(a.Ks);
                }

                {
                    var line = bLoad.Line; var k = bLoad.K; int lineIndex = bLoad.LineIndex, kIndex = bLoad.KIndex;
                    pb0 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb1 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb2 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb3 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    bLoad = bLoad.NextTile(b.Ks);
                }

            }

            int aBase = (t & 1) * Buffer4, bBase = aBase;
            GemmFloat4 a0, a1, b0, b1;

            // k = k0 + 0
            a0 = aShared4[aBase + 0 + ty]; a1 = aShared4[aBase + 16 + ty];
            b0 = bShared4[bBase + 0 + tx]; b1 = bShared4[bBase + 16 + tx];
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
                { int at = ((t + 1) & 1) * Buffer + aLoad.SharedFirst; aShared[at] = pa0; aShared[at + 1 * aLoad.SharedStep] = pa1; aShared[at + 2 * aLoad.SharedStep] = pa2; aShared[at + 3 * aLoad.SharedStep] = pa3; }
                { int at = ((t + 1) & 1) * Buffer + bLoad.SharedFirst; bShared[at] = pb0; bShared[at + 1 * bLoad.SharedStep] = pb1; bShared[at + 2 * bLoad.SharedStep] = pb2; bShared[at + 3 * bLoad.SharedStep] = pb3; }
            }

            Group.Barrier();
        }

        int rowA = rowBase + (4 * ty), rowB = rowA + 64, colA = colBase + (4 * tx), colB = colA + 64;
        var target = new SplitTarget<TOut>(output, splitK, g.M, g.N);
        StoreRow8(target, g, split, rowA + 0, colA, colB, c00, c01, c02, c03, c04, c05, c06, c07);
        StoreRow8(target, g, split, rowA + 1, colA, colB, c10, c11, c12, c13, c14, c15, c16, c17);
        StoreRow8(target, g, split, rowA + 2, colA, colB, c20, c21, c22, c23, c24, c25, c26, c27);
        StoreRow8(target, g, split, rowA + 3, colA, colB, c30, c31, c32, c33, c34, c35, c36, c37);
        StoreRow8(target, g, split, rowB + 0, colA, colB, c40, c41, c42, c43, c44, c45, c46, c47);
        StoreRow8(target, g, split, rowB + 1, colA, colB, c50, c51, c52, c53, c54, c55, c56, c57);
        StoreRow8(target, g, split, rowB + 2, colA, colB, c60, c61, c62, c63, c64, c65, c66, c67);
        StoreRow8(target, g, split, rowB + 3, colA, colB, c70, c71, c72, c73, c74, c75, c76, c77);
        if (splitK.Splits > 1)
        {
            SplitKReduction.Finish(output, splitK, g, rowBase, colBase, Tile, Tile, aShared.Cast<int>());
        }
    }

    /// <summary>
    /// GPU kernel: one 64 x 64 tile of C (one split of K) per group of 8 x 8 threads, K in double-buffered
    /// steps of 8, each thread an 8 x 8 block of accumulators in registers fed by 128-bit shared loads (4 multiply-adds
    /// per float read from shared memory).
    /// </summary>
    [GpuKernel]
    public static void Simt64<TA, TB, TOut>(TA a, TB b, TOut output, GemmGrid g, GemmSplitK splitK)
        where TA : struct, IGemmOperand
        where TB : struct, IGemmOperand
        where TOut : struct, IGemmOut
    {
        const int Tile = 64, Threads = 64, Stride = 68, Buffer = 8 * Stride, Buffer4 = Buffer / 4;
        var aShared4 = SharedMemory.Allocate<GemmFloat4>(2 * Buffer4); // [buffer][k][row]
        var bShared4 = SharedMemory.Allocate<GemmFloat4>(2 * Buffer4); // [buffer][k][col]
        var aShared = aShared4.Cast<float>();
        var bShared = bShared4.Cast<float>();
        int tx = Group.IdxX, ty = Group.IdxY;
        int linear = (ty * 8) + tx;
        int rowBase = Grid.IdxY * Tile, colBase = Grid.IdxX * Tile, split = Grid.IdxZ;
        int kBegin = split * g.KPerSplit, kEnd = Math.Min(g.K, kBegin + g.KPerSplit);
        int tiles = kEnd > kBegin ? (kEnd - kBegin + 7) / 8 : 0;

        // Loaders: Tile x 8 elements of each operand per K-tile, 8 per thread, consecutive threads on consecutive
        // addresses. Along k: a fixed k (linear % 8) and lines linear / 8 + 8 j; along the lines: a fixed
        // line (linear % Tile) and k = linear / Tile + 1 j. The fixed coordinate is decomposed once; the
        // other steps by a constant.
        var aLoad = SimtLoader.Of(a, g.AAlongK != 0, rowBase, kBegin, linear, Tile, Threads);
        var bLoad = SimtLoader.Of(b, g.BAlongN == 0, colBase, kBegin, linear, Tile, Threads);
        float pa0 = 0f, pa1 = 0f, pa2 = 0f, pa3 = 0f, pa4 = 0f, pa5 = 0f, pa6 = 0f, pa7 = 0f;
        float pb0 = 0f, pb1 = 0f, pb2 = 0f, pb3 = 0f, pb4 = 0f, pb5 = 0f, pb6 = 0f, pb7 = 0f;
        if (tiles > 0)
        {
            {
                var line = aLoad.Line; var k = aLoad.K; int lineIndex = aLoad.LineIndex, kIndex = aLoad.KIndex;
                pa0 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa1 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa2 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa3 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa4 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa5 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa6 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                pa7 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                aLoad = aLoad.NextTile(a.Ks);
            }

            {
                var line = bLoad.Line; var k = bLoad.K; int lineIndex = bLoad.LineIndex, kIndex = bLoad.KIndex;
                pb0 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb1 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb2 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb3 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb4 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb5 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb6 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                pb7 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                bLoad = bLoad.NextTile(b.Ks);
            }

            { int at = 0 + aLoad.SharedFirst; aShared[at] = pa0; aShared[at + 1 * aLoad.SharedStep] = pa1; aShared[at + 2 * aLoad.SharedStep] = pa2; aShared[at + 3 * aLoad.SharedStep] = pa3; aShared[at + 4 * aLoad.SharedStep] = pa4; aShared[at + 5 * aLoad.SharedStep] = pa5; aShared[at + 6 * aLoad.SharedStep] = pa6; aShared[at + 7 * aLoad.SharedStep] = pa7; }
            { int at = 0 + bLoad.SharedFirst; bShared[at] = pb0; bShared[at + 1 * bLoad.SharedStep] = pb1; bShared[at + 2 * bLoad.SharedStep] = pb2; bShared[at + 3 * bLoad.SharedStep] = pb3; bShared[at + 4 * bLoad.SharedStep] = pb4; bShared[at + 5 * bLoad.SharedStep] = pb5; bShared[at + 6 * bLoad.SharedStep] = pb6; bShared[at + 7 * bLoad.SharedStep] = pb7; }
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
            if (more)
            {
                {
                    var line = aLoad.Line; var k = aLoad.K; int lineIndex = aLoad.LineIndex, kIndex = aLoad.KIndex;
                    pa0 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa1 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa2 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa3 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa4 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa5 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa6 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    if (aLoad.AlongK) { line = a.Lines.Advance(line, aLoad.Inner); lineIndex += aLoad.InnerAmount; } else { k = a.Ks.Advance(k, aLoad.Inner); kIndex += aLoad.InnerAmount; }
                    pa7 = lineIndex < g.M && kIndex < kEnd && a.Inside(line, k) ? a.Data[a.Index(line, k)] : 0f;
                    aLoad = aLoad.NextTile(a.Ks);
                }

                {
                    var line = bLoad.Line; var k = bLoad.K; int lineIndex = bLoad.LineIndex, kIndex = bLoad.KIndex;
                    pb0 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb1 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb2 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb3 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb4 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb5 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb6 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    if (bLoad.AlongK) { line = b.Lines.Advance(line, bLoad.Inner); lineIndex += bLoad.InnerAmount; } else { k = b.Ks.Advance(k, bLoad.Inner); kIndex += bLoad.InnerAmount; }
                    pb7 = lineIndex < g.N && kIndex < kEnd && b.Inside(line, k) ? b.Data[b.Index(line, k)] : 0f;
                    bLoad = bLoad.NextTile(b.Ks);
                }

            }

            int aBase = (t & 1) * Buffer4, bBase = aBase;
            GemmFloat4 a0, a1, b0, b1;

            // k = k0 + 0
            a0 = aShared4[aBase + 0 + ty]; a1 = aShared4[aBase + 8 + ty];
            b0 = bShared4[bBase + 0 + tx]; b1 = bShared4[bBase + 8 + tx];
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
            a0 = aShared4[aBase + 17 + ty]; a1 = aShared4[aBase + 25 + ty];
            b0 = bShared4[bBase + 17 + tx]; b1 = bShared4[bBase + 25 + tx];
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
            a0 = aShared4[aBase + 34 + ty]; a1 = aShared4[aBase + 42 + ty];
            b0 = bShared4[bBase + 34 + tx]; b1 = bShared4[bBase + 42 + tx];
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
            a0 = aShared4[aBase + 51 + ty]; a1 = aShared4[aBase + 59 + ty];
            b0 = bShared4[bBase + 51 + tx]; b1 = bShared4[bBase + 59 + tx];
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
            a0 = aShared4[aBase + 68 + ty]; a1 = aShared4[aBase + 76 + ty];
            b0 = bShared4[bBase + 68 + tx]; b1 = bShared4[bBase + 76 + tx];
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
            a0 = aShared4[aBase + 85 + ty]; a1 = aShared4[aBase + 93 + ty];
            b0 = bShared4[bBase + 85 + tx]; b1 = bShared4[bBase + 93 + tx];
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
            a0 = aShared4[aBase + 102 + ty]; a1 = aShared4[aBase + 110 + ty];
            b0 = bShared4[bBase + 102 + tx]; b1 = bShared4[bBase + 110 + tx];
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
            a0 = aShared4[aBase + 119 + ty]; a1 = aShared4[aBase + 127 + ty];
            b0 = bShared4[bBase + 119 + tx]; b1 = bShared4[bBase + 127 + tx];
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
                { int at = ((t + 1) & 1) * Buffer + aLoad.SharedFirst; aShared[at] = pa0; aShared[at + 1 * aLoad.SharedStep] = pa1; aShared[at + 2 * aLoad.SharedStep] = pa2; aShared[at + 3 * aLoad.SharedStep] = pa3; aShared[at + 4 * aLoad.SharedStep] = pa4; aShared[at + 5 * aLoad.SharedStep] = pa5; aShared[at + 6 * aLoad.SharedStep] = pa6; aShared[at + 7 * aLoad.SharedStep] = pa7; }
                { int at = ((t + 1) & 1) * Buffer + bLoad.SharedFirst; bShared[at] = pb0; bShared[at + 1 * bLoad.SharedStep] = pb1; bShared[at + 2 * bLoad.SharedStep] = pb2; bShared[at + 3 * bLoad.SharedStep] = pb3; bShared[at + 4 * bLoad.SharedStep] = pb4; bShared[at + 5 * bLoad.SharedStep] = pb5; bShared[at + 6 * bLoad.SharedStep] = pb6; bShared[at + 7 * bLoad.SharedStep] = pb7; }
            }

            Group.Barrier();
        }

        int rowA = rowBase + (4 * ty), rowB = rowA + 32, colA = colBase + (4 * tx), colB = colA + 32;
        var target = new SplitTarget<TOut>(output, splitK, g.M, g.N);
        StoreRow8(target, g, split, rowA + 0, colA, colB, c00, c01, c02, c03, c04, c05, c06, c07);
        StoreRow8(target, g, split, rowA + 1, colA, colB, c10, c11, c12, c13, c14, c15, c16, c17);
        StoreRow8(target, g, split, rowA + 2, colA, colB, c20, c21, c22, c23, c24, c25, c26, c27);
        StoreRow8(target, g, split, rowA + 3, colA, colB, c30, c31, c32, c33, c34, c35, c36, c37);
        StoreRow8(target, g, split, rowB + 0, colA, colB, c40, c41, c42, c43, c44, c45, c46, c47);
        StoreRow8(target, g, split, rowB + 1, colA, colB, c50, c51, c52, c53, c54, c55, c56, c57);
        StoreRow8(target, g, split, rowB + 2, colA, colB, c60, c61, c62, c63, c64, c65, c66, c67);
        StoreRow8(target, g, split, rowB + 3, colA, colB, c70, c71, c72, c73, c74, c75, c76, c77);
        if (splitK.Splits > 1)
        {
            SplitKReduction.Finish(output, splitK, g, rowBase, colBase, Tile, Tile, aShared.Cast<int>());
        }
    }
    // </generated: SIMT kernels>

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
}

/// <summary>
/// Where one thread of an fp32 kernel loads an operand's K-tiles from (Tile lines by 8 k): along k, a fixed k
/// (linear % 8) and lines linear / 8 + j Threads / 8; along the lines, a fixed line (linear % Tile) and k = linear / Tile +
/// j Threads / Tile. Both positions are decomposed once; the inner one steps by a constant, and K by 8 a tile.
/// </summary>
internal struct SimtLoader
{
    /// <summary>The first line's position.</summary>
    public GatherPos Line;

    /// <summary>The first k's position in the next K-tile.</summary>
    public GatherPos K;

    /// <summary>The first line.</summary>
    public int LineIndex;

    /// <summary>The first k of the next K-tile.</summary>
    public int KIndex;

    /// <summary>True when consecutive threads load consecutive k (the lines step), false when they load consecutive lines (k steps).</summary>
    public bool AlongK;

    /// <summary>The step between a thread's elements (of lines when AlongK, else of k).</summary>
    public GatherStep Inner;

    /// <summary>Lines or k between a thread's elements.</summary>
    public int InnerAmount;

    /// <summary>8 along k: one K-tile.</summary>
    public GatherStep Tile;

    /// <summary>Where the first element goes in a shared buffer ([k][line], rows of Tile + 4).</summary>
    public int SharedFirst;

    /// <summary>Shared elements between a thread's elements.</summary>
    public int SharedStep;

    public static SimtLoader Of<TOp>(TOp op, bool alongK, int lineBase, int kBegin, int linear, int tile, int threads)
        where TOp : struct, IGemmOperand
    {
        int line = alongK ? linear >> 3 : linear & (tile - 1);
        int k = alongK ? linear & 7 : linear / tile;
        int amount = alongK ? threads / 8 : threads / tile;
        return new SimtLoader
        {
            Line = op.Lines.At(lineBase + line),
            K = op.Ks.At(kBegin + k),
            LineIndex = lineBase + line,
            KIndex = kBegin + k,
            AlongK = alongK,
            Inner = alongK ? op.Lines.Step(amount) : op.Ks.Step(amount),
            InnerAmount = amount,
            Tile = op.Ks.Step(8),
            SharedFirst = (k * (tile + 4)) + line,
            SharedStep = alongK ? amount : amount * (tile + 4),
        };
    }

    /// <summary>The loader for the next K-tile.</summary>
    public readonly SimtLoader NextTile(GatherAxis ks)
    {
        var next = this;
        next.K = ks.Advance(K, Tile);
        next.KIndex += 8;
        return next;
    }
}
