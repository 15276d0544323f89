using System.Reflection;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuNet.Tests.Support;

/// <summary>
/// The accelerators a test body runs on: always ILGPU's CPU accelerator, an OpenCL device and a CUDA device when
/// present. Each is created once per test run and shared; tests on one that is absent are skipped with the reason.
/// </summary>
public static class Accelerators
{
    /// <summary>The accelerator names for <c>[MemberData]</c>: every kind, present or not, so absent ones show as skipped.</summary>
    public static TheoryData<string> All => new("cpu", "opencl", "cuda");

    private static readonly Lazy<Entry> Cpu = new(CreateCpu);
    private static readonly Lazy<Entry> OpenCl = new(CreateOpenCl);
    private static readonly Lazy<Entry> Cuda = new(CreateCuda);
    private static readonly Lock ReportLock = new();
    private static readonly SortedSet<string> Reported = [];

    /// <summary>
    /// Disposes every accelerator and context this run created, in order, so that native runtimes (PoCL, CUDA) are not
    /// torn down under live ILGPU threads at process exit.
    /// </summary>
    public static void DisposeAll()
    {
        foreach (var lazy in new[] { Cuda, OpenCl, Cpu })
        {
            if (lazy.IsValueCreated && lazy.Value.Library is { } library)
            {
                lock (GateFor(library))
                {
                    var context = library.Accelerator.Context;
                    library.Accelerator.Dispose();
                    context.Dispose();
                }
            }
        }
    }

    /// <summary>One line naming the accelerators this run used and those it skipped, with why.</summary>
    public static string CoverageLine()
    {
        var absent = new List<string>();
        foreach (var (name, lazy) in new[] { ("cpu", Cpu), ("opencl", OpenCl), ("cuda", Cuda) })
        {
            if (lazy.IsValueCreated && lazy.Value.Absent is { } why)
            {
                absent.Add($"{name} ({why})");
            }
        }

        lock (ReportLock)
        {
            return $"GpuNet accelerators covered: {(Reported.Count == 0 ? "none" : string.Join(", ", Reported))}; " +
                $"skipped: {(absent.Count == 0 ? "none" : string.Join(", ", absent))}";
        }
    }

    /// <summary>The kernel library on accelerator <paramref name="name"/>, or a skip with the reason it is absent.</summary>
    public static KernelLibrary Get(string name)
    {
        var entry = name switch
        {
            "cpu" => Cpu.Value,
            "opencl" => OpenCl.Value,
            "cuda" => Cuda.Value,
            _ => throw new ArgumentException($"Unknown accelerator '{name}'.", nameof(name)),
        };
        if (entry.Failure is not null)
        {
            throw new InvalidOperationException($"The {name} accelerator is present but failed to load the kernels.", entry.Failure);
        }

        if (entry.Library is null)
        {
            Assert.Skip(entry.Absent ?? $"no {name} accelerator");
        }

        lock (ReportLock)
        {
            Reported.Add($"{name} ({entry.Library.Accelerator.Name})");
        }

        return entry.Library;
    }

    /// <summary>Runs <paramref name="body"/> on accelerator <paramref name="name"/> (or skips), alone on it, with test buffers.</summary>
    public static void Run(string name, Action<KernelLibrary, Buffers> body)
    {
        var library = Get(name);
        lock (GateFor(library))
        {
            using var buffers = new Buffers(library);
            body(library, buffers);
        }
    }

    /// <summary>
    /// The one tensor-core tile TF32 convolution and training tests plan on OpenCL: PoCL takes about 20 s to compile each
    /// kernel, so those tests share one tile per GEMM form and the TF32 GEMM tests cover the other tiles. Elsewhere the
    /// plans are the cost model's. Hold the gate while pinned.
    /// </summary>
    public static IDisposable PinTensorTile(KernelLibrary library) =>
        library.Policy.OnlyKernels(library.Accelerator.AcceleratorType == AcceleratorType.OpenCL ? [GemmKernelKind.Tensor128x64] : []);

    /// <summary>Serializes use of one accelerator: kernels are launched on its default stream.</summary>
    public static Lock GateFor(KernelLibrary library) => library.Accelerator.AcceleratorType switch
    {
        AcceleratorType.CPU => CpuGate,
        AcceleratorType.OpenCL => OpenClGate,
        _ => CudaGate,
    };

    private static readonly Lock CpuGate = new(), OpenClGate = new(), CudaGate = new();

    /// <summary>A present accelerator (Library set), an absent one (Absent says why), or one that failed to load.</summary>
    private sealed record Entry(KernelLibrary? Library, string? Absent, Exception? Failure = null);

    private static Entry CreateCpu()
    {
        var context = Context.Create(builder => KernelContext.Configure(builder.CPU(GpuNet.Engine.DeviceSelector.CpuDevice)));
        return new Entry(new KernelLibrary(context.CreateCPUAccelerator(0)), null);
    }

    /// <summary>The accelerator's profile with an H200's multiprocessors: what the launch policy plans for.</summary>
    public static DeviceProfile GpuLike(Accelerator accelerator) =>
        DeviceProfile.Of(accelerator) with { Multiprocessors = 132, MaxThreadsPerMultiprocessor = 2048 };

    private static Entry Load(Func<Accelerator> create) => Load(() => new KernelLibrary(create()));

    private static Entry Load(Func<KernelLibrary> create)
    {
        try
        {
            return new Entry(create(), null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new Entry(null, null, e);
        }
    }

    private static Entry CreateCuda()
    {
        try
        {
            var context = Context.Create(builder => KernelContext.Configure(builder.Cuda()));
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
            {
                context.Dispose();
                return new Entry(null, "no CUDA device present");
            }

            var device = devices[0];
            return Load(() => device.CreateAccelerator(context));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new Entry(null, $"CUDA unavailable: {e.Message}");
        }
    }

    /// <summary>
    /// The first OpenCL device, PoCL on the CPU included. PoCL 3.1 does not report generic address space support, so
    /// ILGPU's default device filter drops it and its accelerator constructor refuses it. It runs ILGPU's kernels
    /// correctly once the device's GenericAddressSpace capability is set (its setter is internal, hence reflection)
    /// and the context compiles at O2. This workaround is test support only: the engine uses ILGPU's own filter.
    /// </summary>
    private static Entry CreateOpenCl()
    {
        if (Environment.GetEnvironmentVariable("GPUNET_TESTS_NO_OPENCL") == "1")
        {
            return new Entry(null, "OpenCL disabled by GPUNET_TESTS_NO_OPENCL=1");
        }

        try
        {
            var context = Context.Create(builder => KernelContext.Configure(builder.OpenCL(_ => true)));
            var devices = context.GetCLDevices();
            if (devices.Count == 0)
            {
                context.Dispose();
                return new Entry(null, "no OpenCL device present (install pocl-opencl-icd and ocl-icd-opencl-dev)");
            }

            var device = devices[0];
            if (!device.Capabilities.GenericAddressSpace)
            {
                var setter = typeof(CLCapabilityContext).GetProperty(
                    nameof(CLCapabilityContext.GenericAddressSpace),
                    BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)?.GetSetMethod(nonPublic: true);
                if (setter is null)
                {
                    return new Entry(null, "OpenCL device lacks generic address space and ILGPU's capability setter was not found");
                }

                setter.Invoke(device.Capabilities, [true]);
            }

            // Launched as an H200 would be (132 SMs): the tiles and split-K parts a GPU runs are what PoCL runs.
            return Load(() =>
            {
                var accelerator = device.CreateAccelerator(context);
                return new KernelLibrary(accelerator, GpuLike(accelerator));
            });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new Entry(null, $"OpenCL unavailable: {e.GetType().Name}: {e.Message}");
        }
    }
}
