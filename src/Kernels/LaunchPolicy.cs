using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>
/// What the launch policy needs to know about a device: whether it is ILGPU's CPU accelerator, and the sizes that
/// decide how many groups make a full wave. Read from an accelerator, or described by hand to plan a GPU's launches
/// on a machine without one.
/// </summary>
/// <param name="Name">The device's name.</param>
/// <param name="IsCpu">True for ILGPU's CPU accelerator.</param>
/// <param name="Multiprocessors">Streaming multiprocessors (compute units).</param>
/// <param name="MaxThreadsPerMultiprocessor">Threads resident on one multiprocessor.</param>
/// <param name="MaxThreadsPerGroup">The largest group.</param>
/// <param name="WarpSize">Threads that run in lockstep (32 on NVIDIA, 64 on AMD).</param>
public sealed record DeviceProfile(
    string Name, bool IsCpu, int Multiprocessors, int MaxThreadsPerMultiprocessor, int MaxThreadsPerGroup, int WarpSize)
{
    /// <summary>Threads resident on the whole device.</summary>
    public long MaxThreads => (long)Multiprocessors * MaxThreadsPerMultiprocessor;

    /// <summary>The profile of <paramref name="accelerator"/>.</summary>
    public static DeviceProfile Of(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        return new DeviceProfile(
            accelerator.Name,
            accelerator.AcceleratorType == AcceleratorType.CPU,
            Math.Max(1, accelerator.NumMultiprocessors),
            Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor),
            Math.Max(1, accelerator.MaxNumThreadsPerGroup),
            Math.Max(1, accelerator.WarpSize));
    }

    /// <summary>
    /// A CUDA GPU with <paramref name="multiprocessors"/> SMs of 2048 resident threads and groups of up to 1024 (every
    /// NVIDIA GPU from Volta to Hopper; an H200 has 132 SMs).
    /// </summary>
    public static DeviceProfile CudaGpu(int multiprocessors) =>
        new($"a CUDA GPU with {multiprocessors} SMs", false, multiprocessors, 2048, 1024, 32);
}

/// <summary>A GEMM's shape and how it was tiled, as recorded with its launch.</summary>
/// <param name="M">Rows of C.</param>
/// <param name="N">Columns of C.</param>
/// <param name="K">The inner dimension.</param>
/// <param name="TileM">Rows of C per group.</param>
/// <param name="TileN">Columns of C per group.</param>
/// <param name="Splits">Parts K is split into (1: no split-K).</param>
public readonly record struct GemmShape(int M, int N, int K, int TileM, int TileN, int Splits)
{
    /// <summary>Multiply-adds times two, in GFLOP.</summary>
    public double Gflop => 2.0 * M * N * K / 1e9;

    /// <summary>Groups the GEMM launches: tiles times splits.</summary>
    public long Groups => (long)((M + TileM - 1) / TileM) * ((N + TileN - 1) / TileN) * Splits;
}

/// <summary>One kernel launch: the kernel, its grid and group, its static shared memory and, for a GEMM, its shape.</summary>
/// <param name="Kernel">The kernel's name.</param>
/// <param name="Grid">Groups in the launch.</param>
/// <param name="Group">Threads per group.</param>
/// <param name="SharedMemoryBytes">Shared memory per group.</param>
/// <param name="Gemm">The GEMM's shape and tiling, for GEMM launches.</param>
public sealed record LaunchRecord(string Kernel, Index3D Grid, Index3D Group, int SharedMemoryBytes, GemmShape? Gemm);

/// <summary>
/// The one place that decides launch shapes, per accelerator type, and that counts every launch.
/// <para>
/// GPUs (CUDA, OpenCL) get the tiled, shared-memory kernels with register blocking and many small threads.
/// ILGPU's CPU accelerator simulates every thread of a group with an OS thread, so a barrier is an OS rendezvous
/// and a logical thread costs microseconds: there each launch uses one coarse thread per simulated
/// multiprocessor, each with a large contiguous share of the work, and no barriers.
/// </para>
/// <para>
/// A policy made for planning (<see cref="KernelLibrary.ForPlan"/>) records every launch instead of running it, so the
/// launches a GPU would receive can be listed on a machine without one.
/// </para>
/// </summary>
public sealed class LaunchPolicy
{
    /// <summary>Threads per group for elementwise and reduction kernels on GPUs (a multiple of 32 and 64).</summary>
    internal const int GpuGroupSize = 256;

    /// <summary>The largest group a reduction kernel uses; sizes its shared memory.</summary>
    internal const int MaxReduceGroupSize = GpuGroupSize;

    /// <summary>On the CPU accelerator, the least work (in element operations) worth a thread of its own.</summary>
    private const long CpuMinWorkPerThread = 1 << 14;

    private readonly int gpuMaxGroups;
    private readonly List<LaunchRecord>? records;
    private long launches;
    private readonly long acceleratorInstance;
    private long faultsSeen;
    private string? lastKernel;

    internal LaunchPolicy(DeviceProfile profile, bool record = false, long acceleratorInstance = -1)
    {
        this.acceleratorInstance = acceleratorInstance;
        faultsSeen = KernelFaults.Count(acceleratorInstance);
        Profile = profile;
        IsCpu = profile.IsCpu;
        if (IsCpu)
        {
            // Parallel slots: one group per simulated multiprocessor, and as many threads per group as leaves one
            // OS thread per core (a CPU device with one multiprocessor runs its group's threads side by side).
            CpuGroups = profile.Multiprocessors;
            CpuThreadsPerGroup = Math.Clamp(Environment.ProcessorCount / CpuGroups, 1, profile.MaxThreadsPerGroup);
        }

        gpuMaxGroups = (int)Math.Clamp(profile.MaxThreads / GpuGroupSize, 1, int.MaxValue);
        records = record ? [] : null;
    }

    /// <summary>The device the shapes are chosen for.</summary>
    public DeviceProfile Profile { get; }

    /// <summary>True on ILGPU's CPU accelerator: coarse threads, no tiled kernels.</summary>
    public bool IsCpu { get; }

    /// <summary>True when launches are recorded instead of run (a plan of what a device would receive).</summary>
    public bool IsPlanning => records is not null;

    /// <summary>Kernel launches so far (run or recorded).</summary>
    public long Launches => Interlocked.Read(ref launches);

    /// <summary>The launches recorded so far (planning only; empty otherwise).</summary>
    public IReadOnlyList<LaunchRecord> Records => records ?? [];

    internal int CpuGroups { get; } = 1;

    internal int CpuThreadsPerGroup { get; } = 1;

    /// <summary>Threads per reduction group: a power of two.</summary>
    internal int ReduceGroupSize => IsCpu ? 1 : GpuGroupSize;

    /// <summary>Forgets the recorded launches (planning).</summary>
    public void ClearRecords() => records?.Clear();

    /// <summary>
    /// Counts a launch of <paramref name="kernel"/> with <paramref name="config"/>; records it when planning. Returns
    /// whether the caller should run it (false when planning). Every launcher calls this once per launch.
    /// </summary>
    internal bool Launch(string kernel, KernelConfig config, int sharedMemoryBytes = 0, GemmShape? gemm = null)
    {
        CheckFaults();
        lastKernel = kernel;
        Interlocked.Increment(ref launches);
        if (records is null)
        {
            return true;
        }

        lock (records)
        {
            records.Add(new LaunchRecord(kernel, config.GridDim, config.GroupDim, sharedMemoryBytes, gemm));
        }

        return false;
    }

    /// <summary>
    /// Throws a <see cref="KernelFaultException"/> if a kernel failed a bounds check on the CPU accelerator since the
    /// last check (see <see cref="KernelFaults"/>), naming the kernel launched last.
    /// </summary>
    public void CheckFaults()
    {
        if (IsCpu)
        {
            KernelFaults.ThrowIfNew(acceleratorInstance, ref faultsSeen, lastKernel);
        }
    }

    /// <summary>
    /// A launch over <paramref name="count"/> independent items. Thread <c>t</c> of <c>T</c> handles the blocks
    /// <c>t, t + T, ...</c> of <paramref name="blockSize"/> consecutive items: single items, grid-strided, on GPUs
    /// (coalesced), one contiguous block per thread on the CPU accelerator (no false sharing), using as many threads
    /// as the work (<paramref name="workPerItem"/> element operations an item) is worth.
    /// </summary>
    internal KernelConfig Items(long count, out int blockSize, long workPerItem = 1)
    {
        if (IsCpu)
        {
            long work = count * Math.Max(1, workPerItem);
            long threads = Math.Clamp(
                Math.Min((work + CpuMinWorkPerThread - 1) / CpuMinWorkPerThread, count), 1, CpuGroups * CpuThreadsPerGroup);
            int group = (int)Math.Min(threads, CpuThreadsPerGroup);
            int grid = (int)((threads + group - 1) / group);
            blockSize = (int)((count + (grid * group) - 1) / (grid * group));
            return new KernelConfig(grid, group);
        }

        blockSize = 1;
        long groups = Math.Clamp((count + GpuGroupSize - 1) / GpuGroupSize, 1, gpuMaxGroups);
        return new KernelConfig((int)groups, GpuGroupSize);
    }

    /// <summary>
    /// A launch with one group per independent reduction (per channel, per output column): a group of
    /// <see cref="ReduceGroupSize"/> threads reduces in shared memory in a fixed order on GPUs; on the CPU accelerator
    /// a group is one thread that loops.
    /// </summary>
    internal KernelConfig PerGroup(int groups) => new(groups, ReduceGroupSize);

    /// <summary>A GEMM split into parts of at least this K (and fewer parts when K is short).</summary>
    internal const int MinKPerSplit = 128;

    /// <summary>The most parts a GEMM's K is split into.</summary>
    internal const int MaxSplits = 64;

    /// <summary>GEMMs of fewer multiply-adds are not split: the second pass would cost more than the parallelism gains.</summary>
    internal const long MinSplitWork = 1L << 22;

    /// <summary>
    /// How a GPU tiles C (M, N) = A (M, K) B (K, N): a 128 x 128 tile per group (8 x 8 per thread) when such tiles fill
    /// a wave (at least one group per multiprocessor) and are at least three quarters used; else a 64 x 64 tile (4 x 4
    /// per thread); when that too leaves SMs idle, K is split into parts of at least <see cref="MinKPerSplit"/> until the
    /// groups fill a wave, the partial tiles summed in a fixed order by a second pass.
    /// </summary>
    internal GemmTiling GemmTiling(int m, int n, int k)
    {
        const int big = GemmKernels.LargeTile;
        long bigGroups = (long)((m + big - 1) / big) * ((n + big - 1) / big);
        int sms = Profile.Multiprocessors;
        if (bigGroups >= sms && (double)m * n >= 0.75 * bigGroups * big * big)
        {
            return new GemmTiling(big, big, 1, k);
        }

        const int tile = GemmKernels.SmallTile, tileK = GemmKernels.SmallTileK;
        long groups = (long)((m + tile - 1) / tile) * ((n + tile - 1) / tile);
        if (groups >= sms || k < 2 * MinKPerSplit || (long)m * n * k < MinSplitWork)
        {
            return new GemmTiling(tile, tile, 1, k);
        }

        long wanted = (sms + groups - 1) / groups;
        int splits = (int)Math.Min(Math.Min(wanted, k / MinKPerSplit), MaxSplits);
        int perSplit = ((k + splits - 1) / splits + tileK - 1) / tileK * tileK;
        splits = (k + perSplit - 1) / perSplit;
        return splits <= 1 ? new GemmTiling(tile, tile, 1, k) : new GemmTiling(tile, tile, splits, perSplit);
    }

    /// <summary>The launch of a tiled GEMM: one group of 16 x 16 threads per tile (x: columns, y: rows) and split (z).</summary>
    internal static KernelConfig GemmLaunch(GemmTiling tiling, int m, int n) => new(
        new Index3D((n + tiling.TileN - 1) / tiling.TileN, (m + tiling.TileM - 1) / tiling.TileM, tiling.Splits),
        new Index3D(GemmKernels.Threads, GemmKernels.Threads, 1));

    /// <summary>Bytes of shared memory a reduction group allocates.</summary>
    internal static int ReduceSharedBytes => MaxReduceGroupSize * sizeof(float);
}
