using GpuNet.Kernels;
using GpuNet.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// What OpenCL and the CPU accelerator run in place of the tensor cores: TF32 rounding as cvt.rna.tf32.f32 does it, and
/// mma.sync.m16n8k8 TF32 with the PTX ISA's fragment layout, each against a plain reference written from the ISA's
/// definitions.
/// </summary>
public sealed class TensorCoreEmulationTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    /// <summary>
    /// cvt.rna's rule from its definition: the nearest multiple of the TF32 spacing 2^(e - 10) of x's binade (2^-136 for
    /// subnormals), ties away from zero, overflowing to infinity; infinities stay, NaN is the canonical NaN.
    /// </summary>
    private static uint RoundReference(float x)
    {
        if (float.IsNaN(x))
        {
            return 0x7FFFFFFFu;
        }

        if (float.IsInfinity(x) || x == 0)
        {
            return BitConverter.SingleToUInt32Bits(x);
        }

        double magnitude = Math.Abs((double)x);
        int exponent = Math.Max(Math.ILogB(magnitude), -126);
        double spacing = Math.ScaleB(1.0, exponent - 10);
        double rounded = Math.Round(magnitude / spacing, MidpointRounding.AwayFromZero) * spacing;
        float result = rounded >= Math.ScaleB(1.0, 128) ? float.PositiveInfinity : (float)rounded;
        return BitConverter.SingleToUInt32Bits(x < 0 ? -result : result);
    }

    /// <summary>Special values, ties in both directions, the largest finite values, subnormals, and random bit patterns.</summary>
    private static float[] RoundingCases()
    {
        var cases = new List<float>
        {
            0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue, float.MinValue,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001u),
            BitConverter.UInt32BitsToSingle(0x7F7FF000u), BitConverter.UInt32BitsToSingle(0x7F7FEFFFu), 1f + (1f / 2048f), 1f + (3f / 2048f),
            1f + (1f / 4096f), 1f + (3f / 4096f), -1f - (1f / 4096f), -1f - (3f / 4096f), 1f + (1f / 4096f) + (1f / (1 << 23)), 1f + (1f / 4096f) - (1f / (1 << 23)),
            BitConverter.UInt32BitsToSingle(0x00001000u), BitConverter.UInt32BitsToSingle(0x00003000u), BitConverter.UInt32BitsToSingle(0x807FF000u),
        };
        var random = new Random(31);
        for (int i = 0; i < 20000; i++)
        {
            cases.Add(BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)));
        }

        return [.. cases];
    }

    [Fact]
    public void Tf32RoundingFollowsCvtRnasRule()
    {
        foreach (float x in RoundingCases())
        {
            uint expected = RoundReference(x), actual = Tf32.RoundBits(x);
            Assert.True(expected == actual, $"tf32({x:R}, bits 0x{BitConverter.SingleToUInt32Bits(x):X8}) = 0x{actual:X8}, cvt.rna gives 0x{expected:X8}");
            Assert.True((actual & 0x1FFFu) == 0 || actual == 0x7FFFFFFFu, $"tf32(0x{BitConverter.SingleToUInt32Bits(x):X8}) = 0x{actual:X8} keeps low mantissa bits");
        }
    }

    internal static void RoundKernel(Index1D i, ArrayView<float> input, ArrayView<uint> output) => output[i] = TensorCoreOps.RoundToTf32(input[i]);

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void KernelRoundingMatchesTheRuleOnEveryAccelerator(string accelerator) => Support.Accelerators.Run(accelerator, (library, _) =>
    {
        float[] cases = RoundingCases();
        var kernel = library.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<uint>>(RoundKernel);
        using var input = library.Accelerator.Allocate1D(cases);
        using var output = library.Accelerator.Allocate1D<uint>(cases.Length);
        kernel(cases.Length, input.View, output.View);
        var actual = output.GetAsArray1D();
        for (int i = 0; i < cases.Length; i++)
        {
            Assert.True(actual[i] == RoundReference(cases[i]), $"{accelerator}: tf32(0x{BitConverter.SingleToUInt32Bits(cases[i]):X8}) = 0x{actual[i]:X8}, cvt.rna gives 0x{RoundReference(cases[i]):X8}");
        }
    });

    /// <summary>
    /// Each 32-thread warp w of the group computes D_w (16 x 8) = A_w (16 x 8) B_w (8 x 8) + C_w with one emulated mma,
    /// every lane loading and storing exactly the elements the PTX ISA's m16n8k8 TF32 tables give it (lane = 4 g + t):
    /// A (g, t), (g + 8, t), (g, t + 4), (g + 8, t + 4); B (t, g), (t + 4, g); C and D (g, 2t), (g, 2t + 1), (g + 8, 2t),
    /// (g + 8, 2t + 1). Matrices row-major, warp w's at w * 128 (A, C, D) and w * 64 (B).
    /// </summary>
    internal static void MmaKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        var exchange = SharedMemory.Allocate<uint>(6 * EmulatedMma.MaxThreads);
        int thread = Group.IdxX, warp = thread >> 5, lane = thread & 31, g = lane >> 2, t = lane & 3;
        int ab = warp * 128, bb = warp * 64;
        uint a0 = TensorCoreOps.RoundToTf32(a[ab + (g * 8) + t]), a1 = TensorCoreOps.RoundToTf32(a[ab + ((g + 8) * 8) + t]);
        uint a2 = TensorCoreOps.RoundToTf32(a[ab + (g * 8) + t + 4]), a3 = TensorCoreOps.RoundToTf32(a[ab + ((g + 8) * 8) + t + 4]);
        uint b0 = TensorCoreOps.RoundToTf32(b[bb + (t * 8) + g]), b1 = TensorCoreOps.RoundToTf32(b[bb + ((t + 4) * 8) + g]);
        int top = ab + (g * 8) + (2 * t), bottom = ab + ((g + 8) * 8) + (2 * t);
        var result = default(EmulatedMma).Mma(exchange, a0, a1, a2, a3, b0, b1, c[top], c[top + 1], c[bottom], c[bottom + 1]);
        d[top] = result.D0;
        d[top + 1] = result.D1;
        d[bottom] = result.D2;
        d[bottom + 1] = result.D3;
    }

    private static void CheckMma(Accelerator accelerator, string what)
    {
        const int Warps = 4;
        var random = new Random(77);
        float[] a = Numerics.Normal(random, Warps * 128), b = Numerics.Normal(random, Warps * 64), c = Numerics.Normal(random, Warps * 128);
        var kernel = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MmaKernel);
        using var aBuffer = accelerator.Allocate1D(a);
        using var bBuffer = accelerator.Allocate1D(b);
        using var cBuffer = accelerator.Allocate1D(c);
        using var dBuffer = accelerator.Allocate1D<float>(Warps * 128);
        kernel(new KernelConfig(1, Warps * 32), aBuffer.View, bBuffer.View, cBuffer.View, dBuffer.View);
        accelerator.Synchronize();
        var d = dBuffer.GetAsArray1D();
        for (int w = 0; w < Warps; w++)
        {
            for (int row = 0; row < 16; row++)
            {
                for (int col = 0; col < 8; col++)
                {
                    double sum = c[(w * 128) + (row * 8) + col], partialSquares = 0;
                    for (int k = 0; k < 8; k++)
                    {
                        sum += (double)Tf32.Round(a[(w * 128) + (row * 8) + k]) * Tf32.Round(b[(w * 64) + (k * 8) + col]);
                        partialSquares += sum * sum;
                    }

                    double tolerance = 4.0 / (1 << 24) * Math.Sqrt(partialSquares);
                    float actual = d[(w * 128) + (row * 8) + col];
                    Assert.True(Math.Abs(actual - sum) <= tolerance, $"{what}: warp {w} D({row}, {col}) = {actual}, expected {sum} within {tolerance:G3}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void EmulatedMmaFollowsThePtxFragmentLayout(string accelerator)
    {
        if (accelerator == "cpu")
        {
            // The engine's CPU device runs groups of at most 2 threads; a device of 32-thread warps runs 4 warps a group.
            using var context = Context.Create(builder => KernelContext.Configure(builder.CPU(new CPUDevice(32, 4, 1))));
            using var cpu = context.CreateCPUAccelerator(0);
            CheckMma(cpu, "cpu");
            return;
        }

        Support.Accelerators.Run(accelerator, (library, _) =>
        {
            if (library.Accelerator.AcceleratorType == AcceleratorType.Cuda)
            {
                Assert.Skip("CUDA runs mma.sync itself; the emulation is for the other accelerators");
            }

            CheckMma(library.Accelerator, accelerator);
        });
    }
}
