using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace GpuNet.Kernels;

/// <summary>
/// The one place that decides launch shapes, per accelerator type.
/// <para>
/// GPUs (CUDA, OpenCL) get the tiled, shared-memory kernels with register blocking and many small threads.
/// ILGPU's CPU accelerator simulates every thread of a group with an OS thread, so a barrier is an OS rendezvous
/// and a logical thread costs microseconds: there each launch uses one coarse thread per simulated
/// multiprocessor, each with a large contiguous share of the work, and no barriers.
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

    internal LaunchPolicy(Accelerator accelerator)
    {
        IsCpu = accelerator.AcceleratorType == AcceleratorType.CPU;
        if (IsCpu)
        {
            // Parallel slots: one group per simulated multiprocessor, and as many threads per group as leaves one
            // OS thread per core (a CPU device with one multiprocessor runs its group's threads side by side).
            CpuGroups = Math.Max(1, accelerator.NumMultiprocessors);
            CpuThreadsPerGroup = Math.Clamp(
                Environment.ProcessorCount / CpuGroups, 1, accelerator.MaxNumThreadsPerGroup);
        }

        gpuMaxGroups = Math.Max(1, accelerator.MaxNumThreads / GpuGroupSize);
    }

    /// <summary>True on ILGPU's CPU accelerator: coarse threads, no tiled kernels.</summary>
    public bool IsCpu { get; }

    internal int CpuGroups { get; } = 1;

    internal int CpuThreadsPerGroup { get; } = 1;

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

    /// <summary>Threads per reduction group: a power of two.</summary>
    internal int ReduceGroupSize => IsCpu ? 1 : GpuGroupSize;
}
