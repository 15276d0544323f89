using System.Globalization;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Benchmarks;

/// <summary>
/// Writes the sm_90 PTX of every kernel in <see cref="KernelCatalog"/> into a folder, one file per kernel named after
/// it (GEMM kernels by their launch-plan names), compiled by ILGPU's PTX backend as the PTX tests compile them: no GPU
/// is needed, and what a GPU would JIT-compile can be read, diffed and fed to ptxas.
/// </summary>
public static class PtxDump
{
    public static int Run(string directory, TextWriter output)
    {
        var kernels = KernelCatalog.Named();
        var files = kernels.Select(k => FileName(k.Name)).ToList();
        if (files.GroupBy(f => f, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } clash)
        {
            Console.Error.WriteLine($"benchmarks: --ptx: two kernels would both be written to {clash.Key}.");
            return 1;
        }

        string current = "";
        try
        {
            Directory.CreateDirectory(directory);
            using var context = Context.Create(builder => KernelContext.Configure(builder));
            using var backend = new PTXBackend(
                context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
            for (int i = 0; i < kernels.Count; i++)
            {
                var (name, method) = kernels[i];
                current = name;
                var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty);
                string path = Path.Combine(directory, files[i]);
                File.WriteAllText(path, compiled.PTXAssembly);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-40} {path} ({compiled.PTXAssembly.Length:N0} bytes)"));
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string what = e is IOException or UnauthorizedAccessException ? $"cannot write {directory}"
                : current.Length == 0 ? "the PTX backend did not start"
                : $"kernel {current} did not compile";
            Console.Error.WriteLine($"benchmarks: --ptx: {what}: {e.GetType().Name}: {OneLine(e.Message)}");
            return 1;
        }

        output.WriteLine($"wrote {kernels.Count} PTX files (sm_90) to {directory}");
        return 0;
    }

    /// <summary>The kernel's name as a file name: characters other than letters, digits, '.', '-' and '_' become '_' ("BiasAddOp&lt;MatrixOut&gt;" is BiasAddOp_MatrixOut.ptx).</summary>
    private static string FileName(string kernel) =>
        string.Concat(kernel.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_')).TrimEnd('_') + ".ptx";

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
