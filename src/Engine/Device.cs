using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuNet.Engine;

/// <summary>Which accelerator to run on.</summary>
public enum AcceleratorKind
{
    /// <summary>CUDA if present, else an OpenCL GPU, else ILGPU's CPU accelerator.</summary>
    Auto,

    /// <summary>The first CUDA device.</summary>
    Cuda,

    /// <summary>The first OpenCL device ILGPU supports.</summary>
    OpenCL,

    /// <summary>ILGPU's CPU accelerator (a simulator: correct everywhere, slow).</summary>
    Cpu,
}

/// <summary>One accelerator ILGPU can see.</summary>
/// <param name="Kind">Its kind.</param>
/// <param name="Name">The device's name.</param>
/// <param name="MemoryBytes">Its memory, in bytes (the host's for the CPU accelerator).</param>
/// <param name="IsGpu">Whether <see cref="AcceleratorKind.Auto"/> may pick it ahead of the CPU accelerator.</param>
/// <param name="Index">Its position among the devices of its kind.</param>
public sealed record DeviceInfo(AcceleratorKind Kind, string Name, long MemoryBytes, bool IsGpu, int Index);

/// <summary>The one place that decides which accelerator runs.</summary>
public static class DeviceSelector
{
    /// <summary>
    /// The CPU accelerator's simulated device: one multiprocessor per core with two threads per group at most, so
    /// the coarse launches of <see cref="LaunchPolicy"/> put one OS thread on each core and barriers stay cheap. Under
    /// mpirun, the ranks on a node share its cores (OMPI_COMM_WORLD_LOCAL_SIZE).
    /// </summary>
    public static CPUDevice CpuDevice { get; } = new(2, 1, Math.Max(1, Environment.ProcessorCount / LocalRanks()));

    /// <summary>Processes mpirun started on this node (1 outside mpirun).</summary>
    private static int LocalRanks() =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 1;

    /// <summary>Every accelerator ILGPU sees, CUDA first, then OpenCL, then the CPU accelerator.</summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        using var context = CreateContext();
        var result = new List<DeviceInfo>();
        var cuda = context.GetCudaDevices();
        for (int i = 0; i < cuda.Count; i++)
        {
            result.Add(new DeviceInfo(AcceleratorKind.Cuda, cuda[i].Name, cuda[i].MemorySize, true, i));
        }

        var openCl = context.GetCLDevices();
        for (int i = 0; i < openCl.Count; i++)
        {
            bool isGpu = openCl[i].DeviceType == CLDeviceType.CL_DEVICE_TYPE_GPU;
            result.Add(new DeviceInfo(AcceleratorKind.OpenCL, openCl[i].Name, openCl[i].MemorySize, isGpu, i));
        }

        result.Add(new DeviceInfo(
            AcceleratorKind.Cpu, "ILGPU CPU accelerator", GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, false, 0));
        return result;
    }

    /// <summary>
    /// The device <paramref name="kind"/> resolves to among <paramref name="present"/> for the process with
    /// <paramref name="localRank"/> on its node: device <c>localRank % count</c> of the chosen kind, so the ranks of a
    /// data-parallel run on one node spread over its GPUs (every rank shares the CPU accelerator).
    /// </summary>
    /// <exception cref="AcceleratorNotFoundException">None of that kind is present; the message lists what is.</exception>
    public static DeviceInfo Resolve(AcceleratorKind kind, IReadOnlyList<DeviceInfo> present, int localRank = 0)
    {
        ArgumentNullException.ThrowIfNull(present);
        DeviceInfo? Pick(Func<DeviceInfo, bool> which)
        {
            var candidates = present.Where(which).ToList();
            return candidates.Count == 0 ? null : candidates[Math.Abs(localRank) % candidates.Count];
        }

        DeviceInfo? pick = kind switch
        {
            AcceleratorKind.Auto =>
                Pick(d => d.Kind == AcceleratorKind.Cuda)
                ?? Pick(d => d.Kind == AcceleratorKind.OpenCL && d.IsGpu)
                ?? Pick(d => d.Kind == AcceleratorKind.Cpu),
            _ => Pick(d => d.Kind == kind),
        };
        return pick ?? throw new AcceleratorNotFoundException(
            $"No {Describe(kind)} accelerator is present; present: {string.Join(", ", present.Select(d => $"{Describe(d.Kind)} ({d.Name})"))}.");
    }

    /// <summary>The lower-case name used on the command line: auto, cuda, opencl, cpu.</summary>
    public static string Describe(AcceleratorKind kind) => kind switch
    {
        AcceleratorKind.Cuda => "cuda",
        AcceleratorKind.OpenCL => "opencl",
        AcceleratorKind.Cpu => "cpu",
        _ => "auto",
    };

    internal static Context CreateContext() =>
        Context.Create(builder => KernelContext.Configure(builder.Cuda().OpenCL().CPU(CpuDevice)));
}

/// <summary>An open accelerator: the ILGPU context, the accelerator and the kernels loaded on it. Dispose to release.</summary>
public sealed class Device : IDisposable
{
    private readonly Context? ownedContext;

    private Device(Context? ownedContext, KernelLibrary kernels, DeviceInfo info)
    {
        this.ownedContext = ownedContext;
        Kernels = kernels;
        Info = info;
        Reads = new DeviceReads(Kernels);
    }

    /// <summary>The accelerator kernels run on.</summary>
    public Accelerator Accelerator => Kernels.Accelerator;

    /// <summary>What was opened.</summary>
    public DeviceInfo Info { get; }

    /// <summary>The launchers, loaded on <see cref="Accelerator"/>.</summary>
    public KernelLibrary Kernels { get; }

    /// <summary>Every blocking wait for the device that training and evaluation make, counted.</summary>
    public DeviceReads Reads { get; }

    /// <summary>Opens the accelerator <paramref name="kind"/> resolves to for the process with <paramref name="localRank"/> on its node.</summary>
    /// <exception cref="AcceleratorNotFoundException">It is not present.</exception>
    public static Device Open(AcceleratorKind kind, int localRank = 0)
    {
        var info = DeviceSelector.Resolve(kind, DeviceSelector.List(), localRank);
        var context = DeviceSelector.CreateContext();
        try
        {
            Accelerator accelerator = info.Kind switch
            {
                AcceleratorKind.Cuda => context.GetCudaDevices()[info.Index].CreateAccelerator(context),
                AcceleratorKind.OpenCL => context.GetCLDevices()[info.Index].CreateAccelerator(context),
                _ => context.GetCPUDevices()[0].CreateAccelerator(context),
            };
            return new Device(context, new KernelLibrary(accelerator), info);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A device over kernels already loaded on an accelerator someone else owns (a test's shared accelerator, a plan's
    /// recording library); disposing it releases nothing.
    /// </summary>
    public static Device Wrap(KernelLibrary kernels, AcceleratorKind kind)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        var accelerator = kernels.Accelerator;
        return new Device(null, kernels, new DeviceInfo(kind, accelerator.Name, accelerator.MemorySize, kind != AcceleratorKind.Cpu, 0));
    }

    /// <summary>Waits until every launched kernel has finished.</summary>
    public void Synchronize() => Kernels.Synchronize();

    /// <inheritdoc/>
    public void Dispose()
    {
        if (ownedContext is not null)
        {
            Accelerator.Dispose();
            ownedContext.Dispose();
        }
    }
}
