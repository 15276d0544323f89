// Tensor cores from ILGPU: the sm_80 PTX instructions the TF32 GEMM needs, as intrinsics (ILGPU 1.5.3 has no mma API),
// and what every other accelerator runs in their place, so the TF32 GEMM kernel itself runs (and is tested) on OpenCL
// and the CPU accelerator.
// - RoundToTf32: cvt.rna.tf32.f32, round to nearest with ties away from zero to 10 mantissa bits (TF32 keeps fp32's
//   sign and 8-bit exponent); the result is the fp32 bit pattern with its low 13 bits zero.
// - Mma: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, a warp-wide D (16 x 8) = A (16 x 8) B (8 x 8) + C. Lane
//   l = 4 g + t (g = l / 4, t = l % 4) holds, as the PTX ISA's fragment tables give them:
//     A: a0 = (g, t), a1 = (g + 8, t), a2 = (g, t + 4), a3 = (g + 8, t + 4)      (row, k)
//     B: b0 = (t, g), b1 = (t + 4, g)                                             (k, col)
//     C and D: c0 = (g, 2t), c1 = (g, 2t + 1), c2 = (g + 8, 2t), c3 = (g + 8, 2t + 1)   (row, col)
// - CopyAsync4 / CopyAsync16: cp.async of 4 or 16 bytes from global to shared memory, the bytes past `bytes` zero-filled
//   (a source size of 0 reads nothing); CommitGroup / WaitGroup(n): cp.async.commit_group / cp.async.wait_group n (every
//   group but the newest n complete). Elsewhere a copy completes at once, so commits and waits have nothing to do.
// The tensor-core GEMM takes its mma from an IMmaCore: TensorCoreMma (the instruction) on CUDA, EmulatedMma elsewhere,
// which exchanges the lanes' fragments through shared memory and computes each lane's D by the layout above.
using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.IR;
using ILGPU.IR.Intrinsics;
using ILGPU.IR.Values;
using PtxConstantRegister = ILGPU.Backends.RegisterAllocator<ILGPU.Backends.PTX.PTXRegisterKind>.ConstantRegister;
using PtxHardwareRegister = ILGPU.Backends.RegisterAllocator<ILGPU.Backends.PTX.PTXRegisterKind>.HardwareRegister;
using PtxPrimitiveRegister = ILGPU.Backends.RegisterAllocator<ILGPU.Backends.PTX.PTXRegisterKind>.PrimitiveRegister;

namespace GpuNet.Kernels;

/// <summary>One lane's four accumulators of an m16n8 tile: (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1).</summary>
internal struct MmaAccumulators
{
    public float D0;
    public float D1;
    public float D2;
    public float D3;
}

/// <summary>TF32 rounding as the tensor cores' operand conversion (cvt.rna.tf32.f32) does it, in plain C#.</summary>
public static class Tf32
{
    /// <summary>
    /// The bits of <paramref name="value"/> rounded to TF32: to nearest, ties away from zero, keeping 10 of fp32's 23
    /// mantissa bits (the low 13 bits become 0). Infinities stay; a NaN becomes the canonical NaN 0x7FFFFFFF; a finite
    /// value that rounds past the largest finite one becomes an infinity.
    /// </summary>
    public static uint RoundBits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7F800000u) == 0x7F800000u)
        {
            return (bits & 0x007FFFFFu) != 0 ? 0x7FFFFFFFu : bits;
        }

        // Adding half of the dropped part's unit to the magnitude rounds it half away from zero; a carry out of the
        // mantissa moves into the exponent, which is the right result.
        return (bits + 0x1000u) & 0xFFFFE000u;
    }

    /// <summary><paramref name="value"/> rounded to TF32, as a float.</summary>
    public static float Round(float value) => BitConverter.UInt32BitsToSingle(RoundBits(value));
}

/// <summary>
/// The PTX instructions of the tensor-core GEMM as ILGPU intrinsics (see the file's header for their semantics). A
/// context built with <see cref="Register"/> emits them on CUDA; OpenCL runs their emulations; the CPU accelerator runs
/// their bodies. <see cref="Mma"/> exists on CUDA only: elsewhere the GEMM uses <see cref="EmulatedMma"/>.
/// </summary>
internal static class TensorCoreOps
{
    /// <summary>The fp32 bits of <paramref name="value"/> rounded to TF32 (<c>cvt.rna.tf32.f32</c>).</summary>
    [IntrinsicImplementation]
    public static uint RoundToTf32(float value) => Emulation.RoundToTf32(value);

    /// <summary>
    /// One warp's <c>mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32</c>: this lane's D. CUDA only: the kernels are
    /// loaded with <see cref="TensorCoreMma"/> on CUDA and <see cref="EmulatedMma"/> elsewhere, so this body (ILGPU compiles
    /// it but nothing calls it; a kernel cannot throw) never runs.
    /// </summary>
    [IntrinsicImplementation]
    public static MmaAccumulators Mma(uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, float c0, float c1, float c2, float c3) =>
        new() { D0 = float.NaN, D1 = float.NaN, D2 = float.NaN, D3 = float.NaN };

    /// <summary>Copies 4 bytes from <paramref name="source"/> to <paramref name="target"/> (shared), or stores 0 when <paramref name="bytes"/> is 0.</summary>
    [IntrinsicImplementation]
    public static void CopyAsync4(ref float target, ref float source, int bytes) => Emulation.CopyAsync4(ref target, ref source, bytes);

    /// <summary>Copies the first <paramref name="bytes"/> (0 to 16) of <paramref name="source"/> to <paramref name="target"/> (shared) and zeroes the rest.</summary>
    [IntrinsicImplementation]
    public static void CopyAsync16(ref GemmFloat4 target, ref GemmFloat4 source, int bytes) => Emulation.CopyAsync16(ref target, ref source, bytes);

    /// <summary>Closes the group of copies issued since the last commit.</summary>
    [IntrinsicImplementation]
    public static void CommitGroup() => Emulation.CommitGroup();

    /// <summary>Waits until every committed group but the newest <paramref name="pending"/> has landed (a constant).</summary>
    [IntrinsicImplementation]
    public static void WaitGroup(int pending) => Emulation.WaitGroup(pending);

    /// <summary>Registers the PTX code generators and the OpenCL emulations on <paramref name="builder"/>.</summary>
    public static Context.Builder Register(Context.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var manager = builder.GetIntrinsicManager();
        void Add(string name, string ptxGenerator, string? emulation)
        {
            var method = typeof(TensorCoreOps).GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
            manager.RegisterMethod(method, new PTXIntrinsic(typeof(TensorCoreOps), ptxGenerator, IntrinsicImplementationMode.GenerateCode));
            if (emulation is not null)
            {
                manager.RegisterMethod(method, new CLIntrinsic(typeof(Emulation), emulation, IntrinsicImplementationMode.Redirect));
            }
        }

        Add(nameof(RoundToTf32), nameof(GenerateRoundToTf32), nameof(Emulation.RoundToTf32));
        Add(nameof(Mma), nameof(GenerateMma), null);
        Add(nameof(CopyAsync4), nameof(GenerateCopyAsync4), nameof(Emulation.CopyAsync4));
        Add(nameof(CopyAsync16), nameof(GenerateCopyAsync16), nameof(Emulation.CopyAsync16));
        Add(nameof(CommitGroup), nameof(GenerateCommitGroup), nameof(Emulation.CommitGroup));
        Add(nameof(WaitGroup), nameof(GenerateWaitGroup), nameof(Emulation.WaitGroup));
        return builder;
    }

    /// <summary>The value's register; a constant is moved into one first (mma takes registers only).</summary>
    private static PtxHardwareRegister InRegister(PTXCodeGenerator codeGenerator, Value value)
    {
        var register = codeGenerator.LoadPrimitive(value);
        if (register is PtxHardwareRegister hardware)
        {
            return hardware;
        }

        var constant = (PtxConstantRegister)register;
        var target = codeGenerator.AllocateRegister(constant.Description);
        using var command = codeGenerator.BeginCommand(constant.Kind == PTXRegisterKind.Float32 ? "mov.f32" : "mov.b32");
        command.AppendArgument(target);
        command.AppendArgument(constant);
        return target;
    }

    private static void GenerateRoundToTf32(PTXBackend backend, PTXCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        var source = codeGenerator.LoadPrimitive(call[0]);
        var target = codeGenerator.AllocateHardware(value);
        using var command = codeGenerator.BeginCommand("cvt.rna.tf32.f32");
        command.AppendArgument(target);
        command.AppendArgument(source);
    }

    private static void GenerateMma(PTXBackend backend, PTXCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        var operands = new PtxPrimitiveRegister[10];
        for (int i = 0; i < operands.Length; i++)
        {
            operands[i] = InRegister(codeGenerator, call[i]);
        }

        var d = (RegisterAllocator<PTXRegisterKind>.CompoundRegister)codeGenerator.Allocate(value);
        using var command = codeGenerator.BeginCommand("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32");
        command.AppendVectorArgument([.. d.Children.Cast<PtxPrimitiveRegister>()]);
        command.AppendVectorArgument(operands[0..4]);
        command.AppendVectorArgument(operands[4..6]);
        command.AppendVectorArgument(operands[6..10]);
    }

    private static void GenerateCopyAsync4(PTXBackend backend, PTXCodeGenerator codeGenerator, Value value) =>
        GenerateCopyAsync(codeGenerator, (MethodCall)value, "cp.async.ca.shared.global", 4);

    private static void GenerateCopyAsync16(PTXBackend backend, PTXCodeGenerator codeGenerator, Value value) =>
        GenerateCopyAsync(codeGenerator, (MethodCall)value, "cp.async.cg.shared.global", 16);

    /// <summary>
    /// <c>cp.async [target], [source], size, bytes;</c>. ILGPU passes the views' element addresses in their own address
    /// spaces (shared and global), which is what cp.async takes.
    /// </summary>
    private static void GenerateCopyAsync(PTXCodeGenerator codeGenerator, MethodCall call, string instruction, int size)
    {
        var target = codeGenerator.LoadHardware(call[0]);
        var source = codeGenerator.LoadHardware(call[1]);
        var bytes = codeGenerator.LoadPrimitive(call[2]);
        using var command = codeGenerator.BeginCommand(instruction);
        command.AppendArgumentValue(target);
        command.AppendArgumentValue(source);
        command.AppendConstant(size);
        command.AppendArgument(bytes);
    }

    private static void GenerateCommitGroup(PTXBackend backend, PTXCodeGenerator codeGenerator, Value value)
    {
        using var command = codeGenerator.BeginCommand("cp.async.commit_group");
    }

    private static void GenerateWaitGroup(PTXBackend backend, PTXCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        if (codeGenerator.LoadPrimitive(call[0]) is not PtxConstantRegister pending)
        {
            throw new NotSupportedException("cp.async.wait_group needs a constant count of pending groups.");
        }

        using var command = codeGenerator.BeginCommand("cp.async.wait_group");
        command.AppendArgument(pending);
    }

    /// <summary>What OpenCL and the CPU accelerator run for the copies and the rounding.</summary>
    internal static class Emulation
    {
        public static uint RoundToTf32(float value)
        {
            uint bits = Interop.FloatAsInt(value);
            if ((bits & 0x7F800000u) == 0x7F800000u)
            {
                return (bits & 0x007FFFFFu) != 0 ? 0x7FFFFFFFu : bits;
            }

            return (bits + 0x1000u) & 0xFFFFE000u;
        }

        public static void CopyAsync4(ref float target, ref float source, int bytes) => target = bytes > 0 ? source : 0f;

        public static void CopyAsync16(ref GemmFloat4 target, ref GemmFloat4 source, int bytes)
        {
            var v = default(GemmFloat4);
            if (bytes > 0)
            {
                v = source;
                if (bytes < 16)
                {
                    v.W = 0f;
                    v.Z = bytes < 12 ? 0f : v.Z;
                    v.Y = bytes < 8 ? 0f : v.Y;
                    v.X = bytes < 4 ? 0f : v.X;
                }
            }

            target = v;
        }

        public static void CommitGroup()
        {
        }

        public static void WaitGroup(int pending)
        {
        }
    }
}

/// <summary>
/// The mma of the tensor-core GEMM, a type parameter of its kernel: <see cref="TensorCoreMma"/> on CUDA,
/// <see cref="EmulatedMma"/> elsewhere. Every thread of the group calls it at the same points (it may hold barriers).
/// </summary>
internal interface IMmaCore
{
    /// <summary>Words of shared memory the kernel sets aside for <see cref="Mma"/>'s exchange (a constant).</summary>
    int ExchangeLength { get; }

    /// <summary>This lane's D of one m16n8k8 TF32 mma (fragments as in TensorCores.cs's header), A and B as TF32 bits.</summary>
    MmaAccumulators Mma(ArrayView<uint> exchange, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, float c0, float c1, float c2, float c3);
}

/// <summary>The tensor cores' mma.sync (CUDA).</summary>
internal readonly struct TensorCoreMma : IMmaCore
{
    public int ExchangeLength => 0;

    public MmaAccumulators Mma(ArrayView<uint> exchange, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, float c0, float c1, float c2, float c3) =>
        TensorCoreOps.Mma(a0, a1, a2, a3, b0, b1, c0, c1, c2, c3);
}

/// <summary>
/// mma.sync for accelerators without it: the group's threads in 32-lane warps (lane = linear index % 32, whatever the
/// device's own warp size), each lane's six fragment registers exchanged through shared memory, and each lane's four
/// D elements computed from the other lanes' registers by the PTX ISA's layout; products of TF32 values are exact in
/// fp32, summed in fp32 over k = 0 .. 7 onto C.
/// </summary>
internal readonly struct EmulatedMma : IMmaCore
{
    /// <summary>Threads per group at most (the largest GEMM group).</summary>
    public const int MaxThreads = 256;

    public int ExchangeLength => 6 * MaxThreads;

    public MmaAccumulators Mma(ArrayView<uint> exchange, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, float c0, float c1, float c2, float c3)
    {
        int thread = Group.IdxX, lane = thread & 31, warp = thread - lane;
        int own = thread * 6;
        exchange[own] = a0;
        exchange[own + 1] = a1;
        exchange[own + 2] = a2;
        exchange[own + 3] = a3;
        exchange[own + 4] = b0;
        exchange[own + 5] = b1;
        Group.Barrier();

        // A(row, k) sits in lane 4 (row % 8) + k % 4, register (k / 4) * 2 + row / 8; B(k, col) in lane 4 col + k % 4,
        // register 4 + k / 4.
        int g = lane >> 2, t = lane & 3;
        float d0 = c0, d1 = c1, d2 = c2, d3 = c3;
        for (int k = 0; k < 8; k++)
        {
            int half = k >> 2, quad = k & 3;
            int aLane = (warp + (4 * g) + quad) * 6;
            float top = Interop.IntAsFloat(exchange[aLane + (2 * half)]);
            float bottom = Interop.IntAsFloat(exchange[aLane + (2 * half) + 1]);
            float left = Interop.IntAsFloat(exchange[((warp + (8 * t) + quad) * 6) + 4 + half]);
            float right = Interop.IntAsFloat(exchange[((warp + (8 * t) + 4 + quad) * 6) + 4 + half]);
            d0 = GemmFma.Fma(top, left, d0);
            d1 = GemmFma.Fma(top, right, d1);
            d2 = GemmFma.Fma(bottom, left, d2);
            d3 = GemmFma.Fma(bottom, right, d3);
        }

        Group.Barrier();
        return new MmaAccumulators { D0 = d0, D1 = d1, D2 = d2, D3 = d3 };
    }
}
