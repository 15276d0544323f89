using GpuNet.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Tests.Kernels;

/// <summary>CUDA code generation, checked with no GPU: ILGPU's PTX backend needs no device to compile.</summary>
public sealed class CodeGenerationTests
{
    [Fact]
    public void CatalogHoldsEveryKernelFamily()
    {
        var names = KernelCatalog.Named().Select(k => k.Name).ToHashSet();
        foreach (string expected in new[]
        {
            "Gemm128", "Gemm64", "GemmTf32_128x128", "GemmTf32_64x64", "ConvForwardTf32_128x64", "ConvWeightGradientTf32_64x128",
            "ConvInputGradient64", "Fp32Operands", "Tf32Operands", "Elementwise.BiasGradientKernel", "BatchNorm.TrainingForwardKernel", "BatchNorm.BackwardKernel",
            "ReluForwardOp", "ReluBackwardOp", "BiasAddOp", "FillOp", "Im2ColPlaneOp", "Col2ImPlaneOp", "ToBatchMajorPlaneOp", "ToChannelMajorPlaneOp",
            "MaxForwardOp", "MaxBackwardOp", "AverageForwardOp", "AverageBackwardOp", "InferenceOp", "SgdOp", "AdamOp",
            "CheckFiniteOp", "DropoutOp", "GatherOp",
        })
        {
            Assert.Contains(expected, names);
        }
    }

    [Fact]
    public void EveryKernelCompilesToPtxForSm90()
    {
        using var context = Context.Create(builder => KernelContext.Configure(builder));
        using var backend = new PTXBackend(
            context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var failures = new List<string>();
        int compiled = 0;
        foreach (var (name, method) in KernelCatalog.Named())
        {
            try
            {
                var kernel = backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty);
                var ptx = Assert.IsType<PTXCompiledKernel>(kernel).PTXAssembly;
                // ILGPU writes the lowest target the kernel needs (sm_80 or below), which an sm_90 driver JIT-compiles.
                Assert.True(ptx.Contains(".entry", StringComparison.Ordinal) && ptx.Contains(".target sm_", StringComparison.Ordinal), ptx[..Math.Min(ptx.Length, 300)]);
                compiled++;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"{name}: {e.GetType().Name}: {e.Message} {e.InnerException?.GetType().Name}: {e.InnerException?.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        Assert.True(compiled >= 20, $"only {compiled} kernels compiled");
    }

    private static string Ptx(PTXBackend backend, System.Reflection.MethodInfo method) =>
        ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty)).PTXAssembly;

    private static PTXBackend Sm90(Context context) =>
        new(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);

    /// <summary>
    /// The fp32 GEMMs' promises, read from their sm_90 PTX: fragments read from shared memory 128 bits at a time, the
    /// inner loop's products fused multiply-adds (8 k steps of 64), every accumulator in a register (no local memory),
    /// shared memory and barriers.
    /// </summary>
    [Fact]
    public void Fp32GemmsReadSharedMemoryIn128BitsWithFusedMultiplyAddsAndNoLocalMemory()
    {
        using var context = Context.Create(builder => KernelContext.Configure(builder));
        using var backend = Sm90(context);
        int checkedKernels = 0;
        foreach (var (name, method) in KernelCatalog.Named().Where(k => k.Method.Name.StartsWith("Simt", StringComparison.Ordinal)))
        {
            var ptx = Ptx(backend, method);
            int vectorLoads = System.Text.RegularExpressions.Regex.Count(ptx, @"ld\.shared\.v4\.f32");
            int scalarLoads = System.Text.RegularExpressions.Regex.Count(ptx, @"ld\.shared\.f32");
            int fmas = System.Text.RegularExpressions.Regex.Count(ptx, @"fma\.rn\.f32");
            Assert.True(vectorLoads >= 32, $"{name}: {vectorLoads} ld.shared.v4.f32 (8 steps x 4 fragments expected)");
            Assert.True(scalarLoads == 0, $"{name}: {scalarLoads} scalar shared loads");
            Assert.True(fmas >= 512, $"{name}: {fmas} fma.rn.f32 (8 steps x 64 expected)");
            Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
            checkedKernels++;
        }

        Assert.Equal(2 * 4, checkedKernels); // 2 tiles, 4 forms
    }

    /// <summary>
    /// The tensor-core GEMM's promises, read from its sm_90 PTX for every tile and form: 16 mma.sync m16n8k8 TF32 per k8
    /// step with their operands converted by cvt.rna, global-to-shared copies by cp.async (16 bytes where a plain matrix
    /// allows, 4 bytes otherwise) in committed groups with a wait, one barrier per stage, and no local memory.
    /// </summary>
    [Fact]
    public void TensorCoreGemmUsesMmaSyncCpAsyncAndNoLocalMemory()
    {
        using var context = Context.Create(builder => KernelContext.Configure(builder));
        using var backend = Sm90(context);
        int checkedKernels = 0;
        foreach (var (name, method) in KernelCatalog.Named().Where(k => k.Name.Contains("Tf32_", StringComparison.Ordinal)))
        {
            var ptx = Ptx(backend, method);
            int mmas = System.Text.RegularExpressions.Regex.Count(ptx, @"mma\.sync\.aligned\.m16n8k8\.row\.col\.f32\.tf32\.tf32\.f32");
            int conversions = System.Text.RegularExpressions.Regex.Count(ptx, @"cvt\.rna\.tf32\.f32");
            Assert.True(mmas >= 16, $"{name}: {mmas} mma.sync (16 a k8 step expected)");
            Assert.True(conversions >= 2 * 24, $"{name}: {conversions} cvt.rna.tf32.f32 (16 A and 8 B fragment registers, for each shared layout)");
            Assert.Contains("cp.async.ca.shared.global", ptx, StringComparison.Ordinal);
            Assert.Contains("cp.async.commit_group", ptx, StringComparison.Ordinal);
            Assert.Contains("cp.async.wait_group", ptx, StringComparison.Ordinal);
            Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);
            if (name.StartsWith("Gemm", StringComparison.Ordinal) || name.StartsWith("ConvForward", StringComparison.Ordinal))
            {
                Assert.Contains("cp.async.cg.shared.global", ptx, StringComparison.Ordinal);
            }

            Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
            checkedKernels++;
        }

        Assert.Equal(4 * 4, checkedKernels); // 4 tiles, 4 forms
    }
}
