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
/// <param name="SharedMemoryPerMultiprocessor">Bytes of shared memory one multiprocessor shares among its groups.</param>
/// <param name="RegistersPerMultiprocessor">32-bit registers one multiprocessor shares among its threads.</param>
public sealed record DeviceProfile(
    string Name,
    bool IsCpu,
    int Multiprocessors,
    int MaxThreadsPerMultiprocessor,
    int MaxThreadsPerGroup,
    int WarpSize,
    int SharedMemoryPerMultiprocessor = DeviceProfile.HopperSharedMemory,
    int RegistersPerMultiprocessor = DeviceProfile.HopperRegisters)
{
    /// <summary>An H100's or H200's shared memory per SM (228 KiB).</summary>
    public const int HopperSharedMemory = 228 * 1024;

    /// <summary>Registers per SM on every NVIDIA GPU from Volta to Hopper.</summary>
    public const int HopperRegisters = 65536;

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
/// <param name="TensorCores">Whether the kernel multiplies on tensor cores (TF32 mma).</param>
/// <param name="BlocksPerSm">Groups of this kernel one multiprocessor holds at once (from its threads, registers and shared memory).</param>
public readonly record struct GemmShape(int M, int N, int K, int TileM, int TileN, int Splits, bool TensorCores = false, int BlocksPerSm = 1)
{
    /// <summary>Multiply-adds times two, in GFLOP.</summary>
    public double Gflop => 2.0 * M * N * K / 1e9;

    /// <summary>Groups the GEMM launches: tiles times splits.</summary>
    public long Groups => (long)((M + TileM - 1) / TileM) * ((N + TileN - 1) / TileN) * Splits;

    /// <summary>Waves of groups on <paramref name="multiprocessors"/> SMs, each holding <see cref="BlocksPerSm"/>.</summary>
    public long Waves(int multiprocessors) => (Groups + ((long)multiprocessors * BlocksPerSm) - 1) / ((long)multiprocessors * BlocksPerSm);

    /// <summary>The share of the SM slots its waves offer that its groups fill (1 when the last wave is full).</summary>
    public double WaveEfficiency(int multiprocessors) => Groups == 0 ? 1 : Groups / (double)(Waves(multiprocessors) * multiprocessors * BlocksPerSm);
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
    internal const int MinKPerSplit = 64;

    /// <summary>
    /// Estimates within this fraction of the least are taken as equal (they are a model, not a measurement); among them
    /// the plan that keeps the most SM slots busy wins.
    /// </summary>
    internal const double PlanTolerance = 0.1;

    private static readonly GemmKernelKind[] TensorKinds = [GemmKernelKind.Tensor128x128, GemmKernelKind.Tensor128x64, GemmKernelKind.Tensor64x128, GemmKernelKind.Tensor64x64];
    private static readonly GemmKernelKind[] SimtKinds = [GemmKernelKind.Simt128, GemmKernelKind.Simt64];
    private readonly Dictionary<(int, int, int, GemmPrecision, long), GemmPlan> plans = [];
    private GemmKernelKind[]? onlyKinds;

    /// <summary>The most parts a GEMM's K is split into.</summary>
    internal const int MaxSplits = 64;

    /// <summary>GEMMs of fewer multiply-adds are not split: the reduction would cost more than the parallelism gains.</summary>
    internal const long MinSplitWork = 1L << 22;

    // The cost model's device, an H200: fp32 FMA pipes 67 TFLOP/s and TF32 tensor cores 495 TFLOP/s over 132 SMs,
    // 4.8 TB/s of memory, about 2.5 times that from its 50 MB L2, 1.5 microseconds between queued launches. Only ratios
    // matter to the choice; these set them.
    private const double SimtMacsPerSmSecond = 67e12 / 2 / 132;
    private const double TensorMacsPerSmSecond = 495e12 / 2 / 132;
    private const double MemoryBytesPerSecond = 4.8e12;
    private const double L2BytesPerSecond = 12e12;
    private const double L2Bytes = 40e6;
    private const double LaunchSeconds = 1.5e-6;

    /// <summary>
    /// How a GPU runs C (M, N) = A (M, K) B (K, N) in <paramref name="precision"/>: of the kernels for that precision
    /// (fp32: 128 x 128 and 64 x 64; TF32: tensor-core tiles 128 x 128, 128 x 64, 64 x 128, 64 x 64) and of the ways to
    /// split K (parts of at least <see cref="MinKPerSplit"/>, at most <paramref name="workspaceLimit"/> partial elements,
    /// summed in a fixed order by each tile's last group): of the plans within <see cref="PlanTolerance"/> of the least
    /// estimated time and within a quarter of the least padded area of C, the one that keeps the most SM slots busy. An SM holds as many groups as its
    /// threads, registers and shared memory allow, and runs them in waves at a rate that grows with the warps it holds
    /// up to a full SM's; a wave lasts as long as its busiest SM takes, so the last wave's idle slots cost time. A split's
    /// partial tiles are written and read back by the tiles' last groups, from L2 while they fit it. Kernel
    /// efficiencies are assumptions (larger tiles reuse more of what they load), not measurements.
    /// </summary>
    internal GemmPlan PlanGemm(int m, int n, int k, GemmPrecision precision, long workspaceLimit)
    {
        var key = (m, n, k, precision, workspaceLimit);
        lock (plans)
        {
            if (plans.TryGetValue(key, out var known))
            {
                return known;
            }
        }

        // Three passes over the same candidates: the least estimated time; of the plans within PlanTolerance of it, the
        // least padded area of C (a tile mostly past the edge of a skinny C is work thrown away); of those within a
        // quarter of that, the one whose waves keep the most SM slots busy, then the faster.
        double fastest = double.PositiveInfinity, leastArea = double.PositiveInfinity;
        GemmPlan best = default;
        double bestSeconds = double.PositiveInfinity, bestEfficiency = -1;
        for (int pass = 0; pass < 3; pass++)
        {
            foreach (var kind in Candidates(precision))
            {
                var (tileM, tileN) = GemmKernelKinds.Tile(kind);
                int step = GemmKernelKinds.StepK(kind), slots = BlocksPerSm(kind);
                long tiles = (long)((m + tileM - 1) / tileM) * ((n + tileN - 1) / tileN);
                double area = (double)tiles * tileM * tileN;
                int maxSplits = (long)m * n * k < MinSplitWork ? 1 : Math.Clamp(k / MinKPerSplit, 1, MaxSplits);
                for (int wanted = 1; wanted <= maxSplits; wanted++)
                {
                    int perSplit = Math.Max(step, ((k + wanted - 1) / wanted + step - 1) / step * step);
                    int splits = Math.Max(1, (k + perSplit - 1) / perSplit);
                    if (splits != wanted || (splits > 1 && (long)splits * m * n > workspaceLimit))
                    {
                        continue;
                    }

                    double seconds = EstimateSeconds(kind, tiles * splits, slots, (double)tileM * tileN * perSplit, m, n, splits);
                    if (pass == 0)
                    {
                        fastest = Math.Min(fastest, seconds);
                        continue;
                    }

                    if (seconds > fastest * (1 + PlanTolerance))
                    {
                        continue;
                    }

                    if (pass == 1)
                    {
                        leastArea = Math.Min(leastArea, area);
                        continue;
                    }

                    var plan = new GemmPlan(kind, splits, splits == 1 ? Math.Max(k, 1) : perSplit, slots);
                    double efficiency = plan.Shape(m, n, k).WaveEfficiency(Profile.Multiprocessors);
                    bool better = efficiency > bestEfficiency + 1e-9 || (efficiency > bestEfficiency - 1e-9 && seconds < bestSeconds);
                    if (area <= 1.25 * leastArea && better)
                    {
                        best = plan;
                        bestSeconds = seconds;
                        bestEfficiency = efficiency;
                    }
                }
            }
        }

        lock (plans)
        {
            plans[key] = best;
        }

        return best;
    }

    /// <summary>
    /// Until the result is disposed, plans choose only among <paramref name="kinds"/> (those of a precision that has none
    /// among them choose as usual): tests pin a kernel to cover it whatever the cost model prefers, and keep the kernels
    /// an OpenCL device compiles few. The caller holds the accelerator's gate for the scope.
    /// </summary>
    internal IDisposable OnlyKernels(params GemmKernelKind[] kinds)
    {
        var before = onlyKinds;
        Reset(kinds);
        return new Restore(() => Reset(before));

        void Reset(GemmKernelKind[]? to)
        {
            lock (plans)
            {
                onlyKinds = to;
                plans.Clear();
            }
        }
    }

    private GemmKernelKind[] Candidates(GemmPrecision precision)
    {
        var all = precision == GemmPrecision.Tf32 ? TensorKinds : SimtKinds;
        var only = onlyKinds is { } pinned ? all.Where(pinned.Contains).ToArray() : [];
        return only.Length > 0 ? only : all;
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    /// <summary>Groups of <paramref name="kind"/> one multiprocessor holds at once: by threads, registers and shared memory.</summary>
    internal int BlocksPerSm(GemmKernelKind kind)
    {
        int threads = GemmKernelKinds.Threads(kind);
        int byThreads = Profile.MaxThreadsPerMultiprocessor / threads;
        int byRegisters = Profile.RegistersPerMultiprocessor / (threads * GemmKernelKinds.Registers(kind));
        int byShared = Profile.SharedMemoryPerMultiprocessor / GemmKernelKinds.SharedBytes(kind);
        return Math.Clamp(Math.Min(byThreads, Math.Min(byRegisters, byShared)), 1, 32);
    }

    private double EstimateSeconds(GemmKernelKind kind, long groups, int slots, double macsPerGroup, int m, int n, int splits)
    {
        // Smaller tiles reuse less of what they load: assumed to reach 0.65 of the peak where SMs are full, against 0.75
        // for 128 x 128. A wave that leaves SMs short of groups is bound by latency, not by loads: any tile at 0.75.
        double peak = GemmKernelKinds.IsTensorCore(kind) ? TensorMacsPerSmSecond : SimtMacsPerSmSecond;
        double loaded = peak * (kind is GemmKernelKind.Simt128 or GemmKernelKind.Tensor128x128 ? 0.75 : 0.65), latency = peak * 0.75;

        // A wave of `slots` groups per SM: a group runs at 1 / slots of the SM, alone or not (an SM's rate grows with the
        // warps it holds), so a wave short of groups lasts as long as a full one.
        int sms = Profile.Multiprocessors;
        long perWave = (long)sms * slots, fullWaves = groups / perWave;
        double compute = (fullWaves * slots * macsPerGroup / loaded) + (groups % perWave > 0 ? slots * macsPerGroup / latency : 0);

        // Each tile's last group reads the tile's partials back, the last groups of different tiles on different SMs.
        long tiles = groups / splits;
        double partialBytes = (double)splits * m * n * sizeof(float), tileBytes = partialBytes / tiles;
        double perSmBandwidth = (partialBytes <= L2Bytes ? L2BytesPerSecond : MemoryBytesPerSecond) / sms;
        double reduce = splits > 1 ? (tiles + sms - 1) / sms * tileBytes / perSmBandwidth : 0;
        return LaunchSeconds + compute + reduce;
    }

    /// <summary>
    /// The launch of a planned GEMM: grid (column tiles, row tiles, splits); fp32 groups of 16 x 16 or 8 x 8 threads
    /// (x: columns, y: rows), tensor-core groups of 32 threads a warp in one dimension.
    /// </summary>
    internal static KernelConfig GemmLaunch(GemmPlan plan, int m, int n)
    {
        var grid = new Index3D((n + plan.TileN - 1) / plan.TileN, (m + plan.TileM - 1) / plan.TileM, plan.Splits);
        return plan.Kind switch
        {
            GemmKernelKind.Simt128 => new KernelConfig(grid, new Index3D(16, 16, 1)),
            GemmKernelKind.Simt64 => new KernelConfig(grid, new Index3D(8, 8, 1)),
            _ => new KernelConfig(grid, new Index3D(GemmKernelKinds.Threads(plan.Kind), 1, 1)),
        };
    }

    /// <summary>Bytes of shared memory a reduction group allocates.</summary>
    internal static int ReduceSharedBytes => MaxReduceGroupSize * sizeof(float);
}
