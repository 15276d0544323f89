using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>
/// Every launcher, loaded once for one accelerator, with the launch policy that shapes and counts their launches.
/// Kernels are compiled when this is built, so a code-generation failure shows at start-up, not mid-training.
/// </summary>
public sealed class KernelLibrary
{
    /// <summary>Loads every kernel family on <paramref name="accelerator"/>.</summary>
    public KernelLibrary(Accelerator accelerator)
        : this(accelerator, DeviceProfile.Of(accelerator ?? throw new ArgumentNullException(nameof(accelerator))), record: false)
    {
    }

    /// <summary>
    /// Loads every kernel family on <paramref name="accelerator"/> but shapes launches for <paramref name="profile"/>: an
    /// OpenCL device on the CPU told it has a GPU's 132 multiprocessors runs exactly the tiles and split-K parts that GPU
    /// would, which is how the tests check the GPU path without one.
    /// </summary>
    public KernelLibrary(Accelerator accelerator, DeviceProfile profile)
        : this(accelerator ?? throw new ArgumentNullException(nameof(accelerator)), profile ?? throw new ArgumentNullException(nameof(profile)), record: false)
    {
        if (profile.IsCpu != (accelerator.AcceleratorType == AcceleratorType.CPU))
        {
            throw new ArgumentException($"Profile {profile.Name} is {(profile.IsCpu ? "" : "not ")}the CPU accelerator's but {accelerator.Name} is {(accelerator.AcceleratorType == AcceleratorType.CPU ? "" : "not ")}.", nameof(profile));
        }
    }

    private KernelLibrary(Accelerator accelerator, DeviceProfile profile, bool record)
    {
        Accelerator = accelerator;
        Policy = new LaunchPolicy(profile, record, InstanceOf(accelerator));
        var workspace = new GemmWorkspace(accelerator);
        Gemm = new Gemm(accelerator, Policy, workspace);
        Elementwise = new Elementwise(accelerator, Policy);
        Convolution = new Convolution(accelerator, Policy, Gemm, Elementwise, workspace);
        Pooling = new Pooling(accelerator, Policy);
        BatchNorm = new BatchNorm(accelerator, Policy);
        SoftmaxCrossEntropy = new SoftmaxCrossEntropy(accelerator, Policy);
        Optimizers = new Optimizers(accelerator, Policy);
        Batching = new Batching(accelerator, Policy);
    }

    /// <summary>
    /// A library that plans for <paramref name="profile"/> (a GPU this machine may not have): every launch is shaped
    /// as that device would receive it and recorded in <see cref="LaunchPolicy.Records"/>, never run. Tensors live on
    /// <paramref name="host"/> (the CPU accelerator will do), so a whole training step can be planned.
    /// </summary>
    public static KernelLibrary ForPlan(Accelerator host, DeviceProfile profile)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(profile);
        return new KernelLibrary(host, profile, record: true);
    }

    /// <summary>
    /// ILGPU's instance number of <paramref name="accelerator"/>, which names its CPU worker threads (ILGPU_{n}_CPU_...);
    /// the property is internal to ILGPU 1.5.3, hence reflection. -1 when it cannot be read (faults then go unattributed).
    /// </summary>
    private static long InstanceOf(Accelerator accelerator)
    {
        const System.Reflection.BindingFlags Any = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
        var id = typeof(Accelerator).GetProperty("InstanceId", Any)?.GetValue(accelerator);
        return id?.GetType().GetProperty("Value", Any)?.GetValue(id) is long value ? value : -1;
    }

    /// <summary>The accelerator the kernels run on (for a plan: where its tensors live).</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The launch shapes chosen for this accelerator.</summary>
    public LaunchPolicy Policy { get; }

    /// <summary>GEMM.</summary>
    public Gemm Gemm { get; }

    /// <summary>ReLU, GELU, addition, bias add and gradient, fill, dropout.</summary>
    public Elementwise Elementwise { get; }

    /// <summary>Convolution: implicit GEMM on GPUs (no im2col buffer), im2col + GEMM on the CPU accelerator.</summary>
    public Convolution Convolution { get; }

    /// <summary>Max, average and global average pooling.</summary>
    public Pooling Pooling { get; }

    /// <summary>Batch normalization.</summary>
    public BatchNorm BatchNorm { get; }

    /// <summary>Fused softmax cross-entropy.</summary>
    public SoftmaxCrossEntropy SoftmaxCrossEntropy { get; }

    /// <summary>SGD and Adam updates.</summary>
    public Optimizers Optimizers { get; }

    /// <summary>Batch gathering and preprocessing.</summary>
    public Batching Batching { get; }

    /// <summary>
    /// Waits until every launched kernel has finished (counted in <see cref="HostWaits"/>); throws if one failed a
    /// bounds check on the CPU accelerator.
    /// </summary>
    public void Synchronize()
    {
        HostWaits.Record(Accelerator);
        Accelerator.Synchronize();
        Policy.CheckFaults();
    }
}

/// <summary>How every ILGPU context that runs GpuNet's kernels is configured.</summary>
public static class KernelContext
{
    /// <summary>
    /// Enables ILGPU.Algorithms (the PTX backend has no intrinsic exp/log without it), O2 optimization (vector loads;
    /// OpenCL devices without generic address space need it), the GEMM's fused multiply-add intrinsic, the tensor-core
    /// instructions (mma.sync, cp.async, cvt.rna.tf32) and split-K's atomic counter.
    /// </summary>
    public static Context.Builder Configure(Context.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configured = DeviceAtomics.Register(TensorCoreOps.Register(GemmFma.Register(builder.EnableAlgorithms().Optimize(OptimizationLevel.O2))));
        return Environment.GetEnvironmentVariable("GPUNET_KERNEL_ASSERTIONS") == "1" ? configured.Assertions() : configured;
    }
}

/// <summary>
/// Every blocking exchange between the host and an accelerator, counted per accelerator: a synchronize and every copy to
/// or from host memory (which ILGPU makes synchronously). The engine records each one here, so "0 host waits in a step"
/// is counted, not assumed.
/// </summary>
public static class HostWaits
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Accelerator, System.Runtime.CompilerServices.StrongBox<long>> Counts = new();

    /// <summary>Counts one blocking exchange with <paramref name="accelerator"/>.</summary>
    public static void Record(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        Interlocked.Increment(ref Counts.GetValue(accelerator, static _ => new System.Runtime.CompilerServices.StrongBox<long>()).Value);
    }

    /// <summary>Blocking exchanges with <paramref name="accelerator"/> so far.</summary>
    public static long Count(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        return Counts.TryGetValue(accelerator, out var count) ? Interlocked.Read(ref count.Value) : 0;
    }
}
