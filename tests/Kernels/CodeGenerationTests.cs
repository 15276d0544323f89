using GpuNet.Kernels;
using ILGPU;
using ILGPU.Backends;
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
        var names = KernelCatalog.All().Select(m => m.IsGenericMethod ? m.GetGenericArguments().Length == 3 ? m.Name : m.GetGenericArguments()[0].Name : m.Name).ToHashSet();
        foreach (string expected in new[]
        {
            "SmallKernel", "LargeKernel", "CoarseKernel", "BiasGradientKernel", "TrainingForwardKernel", "BackwardKernel", "Kernel",
            "ReluForwardOp", "ReluBackwardOp", "BiasAddOp", "FillOp", "Im2ColPlaneOp", "Col2ImPlaneOp", "ToBatchMajorPlaneOp", "ToChannelMajorPlaneOp",
            "MaxForwardOp", "MaxBackwardOp", "AverageForwardOp", "AverageBackwardOp", "InferenceOp", "SgdOp", "AdamOp",
            "CheckFiniteOp", "DropoutOp", "GatherOp", "SplitReduceOp`1",
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
        foreach (var method in KernelCatalog.All())
        {
            string name = method.IsGenericMethod ? $"{method.Name}<{string.Join(", ", method.GetGenericArguments().Select(t => t.Name))}>" : $"{method.DeclaringType!.Name}.{method.Name}";
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

    [Fact]
    public void TiledGemmUsesSharedMemoryAndBarriers()
    {
        using var context = Context.Create(builder => KernelContext.Configure(builder));
        using var backend = new PTXBackend(
            context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var method = KernelCatalog.All().First(m => m.Name == "SmallKernel");
        var ptx = ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty)).PTXAssembly;
        Assert.Contains(".shared", ptx, StringComparison.Ordinal);
        Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);
        Assert.Contains("ld.shared", ptx, StringComparison.Ordinal);
    }

    /// <summary>
    /// The 128 x 128 GEMM's promises, read from its sm_90 PTX: fragments read from shared memory 128 bits at a time, the
    /// inner loop's products fused multiply-adds, every accumulator in a register (no local memory).
    /// </summary>
    [Fact]
    public void LargeGemmReadsSharedMemoryIn128BitsWithFusedMultiplyAddsAndNoLocalMemory()
    {
        using var context = Context.Create(builder => KernelContext.Configure(builder));
        using var backend = new PTXBackend(
            context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
        foreach (var method in KernelCatalog.All().Where(m => m.Name == "LargeKernel"))
        {
            var ptx = ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty)).PTXAssembly;
            string form = string.Join(", ", method.GetGenericArguments().Select(t => t.Name));
            int vectorLoads = System.Text.RegularExpressions.Regex.Count(ptx, @"ld\.shared\.v4\.f32");
            int scalarLoads = System.Text.RegularExpressions.Regex.Count(ptx, @"ld\.shared\.f32");
            int fmas = System.Text.RegularExpressions.Regex.Count(ptx, @"fma\.rn\.f32");
            Assert.True(vectorLoads >= 32, $"{form}: {vectorLoads} ld.shared.v4.f32 (8 steps x 4 fragments expected)");
            Assert.True(scalarLoads == 0, $"{form}: {scalarLoads} scalar shared loads");
            Assert.True(fmas >= 512, $"{form}: {fmas} fma.rn.f32 (8 steps x 64 expected)");
            Assert.DoesNotContain("ld.local", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain("st.local", ptx, StringComparison.Ordinal);
        }
    }
}
