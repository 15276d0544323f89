using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>Marks a kernel entry point, so that tests can compile every kernel for every backend.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class GpuKernelAttribute : Attribute;

/// <summary>Helpers shared by kernels; ILGPU inlines them.</summary>
internal static class KernelSupport
{
    /// <summary>The index of this thread in the launch: <c>Grid.IdxX * Group.DimX + Group.IdxX</c>.</summary>
    public static int ThreadIndex => Grid.IdxX * Group.DimX + Group.IdxX;

    /// <summary>The number of threads in the launch.</summary>
    public static int ThreadCount => Grid.DimX * Group.DimX;

    /// <summary>
    /// Sums <paramref name="value"/> over the group in a fixed order (a tree over thread indices), so the result is
    /// the same bits on every run; every thread receives it. The group size must be a power of two no larger than
    /// <paramref name="scratch"/>.
    /// </summary>
    public static float GroupSum(ArrayView<float> scratch, float value)
    {
        int thread = Group.IdxX;
        scratch[thread] = value;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half /= 2)
        {
            if (thread < half)
            {
                scratch[thread] += scratch[thread + half];
            }

            Group.Barrier();
        }

        float sum = scratch[0];
        Group.Barrier();
        return sum;
    }
}

/// <summary>Shape checks shared by the launchers; each throws an <see cref="ArgumentException"/> naming both shapes.</summary>
internal static class Check
{
    public static void Rank<T>(TensorView<T> view, int rank, string name)
        where T : unmanaged
    {
        if (view.Shape.Rank != rank)
        {
            throw new ArgumentException($"{name} must have rank {rank}, got shape {view.Shape}.", name);
        }
    }

    public static void RankIn<T>(TensorView<T> view, int rankA, int rankB, string name)
        where T : unmanaged
    {
        if (view.Shape.Rank != rankA && view.Shape.Rank != rankB)
        {
            throw new ArgumentException($"{name} must have rank {rankA} or {rankB}, got shape {view.Shape}.", name);
        }
    }

    public static void SameShape<TA, TB>(TensorView<TA> a, string nameA, TensorView<TB> b, string nameB)
        where TA : unmanaged
        where TB : unmanaged
    {
        if (a.Shape != b.Shape)
        {
            throw new ArgumentException($"{nameA} has shape {a.Shape} but {nameB} has shape {b.Shape}; they must match.", nameA);
        }
    }

    public static void Shape<T>(TensorView<T> view, Shape expected, string name)
        where T : unmanaged
    {
        if (view.Shape != expected)
        {
            throw new ArgumentException($"{name} has shape {view.Shape} but shape {expected} is required.", name);
        }
    }

    public static void AtLeast<T>(TensorView<T> view, int length, string name)
        where T : unmanaged
    {
        if (view.Length < length)
        {
            throw new ArgumentException($"{name} has shape {view.Shape} ({view.Length} elements) but {length} are required.", name);
        }
    }

    /// <summary>(outer, channels, inner) of an (N, C) or (N, C, H, W) tensor.</summary>
    public static (int Outer, int Channels, int Inner) ChannelLayout<T>(TensorView<T> view, string name)
        where T : unmanaged
    {
        RankIn(view, 2, 4, name);
        var s = view.Shape;
        return s.Rank == 2 ? (s[0], s[1], 1) : (s[0], s[1], s[2] * s[3]);
    }
}

/// <summary>An operation on one item of a launch over independent items; structs holding their views implement it.</summary>
internal interface IItemOp
{
    /// <summary>Computes item <paramref name="index"/>.</summary>
    void Apply(int index);
}

/// <summary>The kernel behind every launch over independent items (elementwise ops, im2col, pooling, updates).</summary>
internal static class ForEachItem
{
    /// <summary>
    /// Thread t of T applies <paramref name="op"/> to the items of blocks t, t + T, ... of <paramref name="blockSize"/>
    /// consecutive items (see <see cref="LaunchPolicy.Items"/>).
    /// </summary>
    [GpuKernel]
    internal static void Kernel<TOp>(TOp op, int count, int blockSize)
        where TOp : struct, IItemOp
    {
        int step = KernelSupport.ThreadCount * blockSize;
        for (int start = KernelSupport.ThreadIndex * blockSize; start < count; start += step)
        {
            int end = Math.Min(start + blockSize, count);
            for (int i = start; i < end; i++)
            {
                op.Apply(i);
            }
        }
    }
}

/// <summary>An <see cref="IItemOp"/> kernel loaded on one accelerator, launched with the policy's item shape.</summary>
internal sealed class ItemKernel<TOp>
    where TOp : struct, IItemOp
{
    private readonly string name;
    private readonly LaunchPolicy policy;
    private readonly Action<KernelConfig, TOp, int, int> kernel;

    public ItemKernel(Accelerator accelerator, LaunchPolicy policy, string? name = null)
    {
        this.policy = policy;
        this.name = name ?? typeof(TOp).Name;
        kernel = accelerator.LoadStreamKernel<TOp, int, int>(ForEachItem.Kernel);
    }

    /// <summary>Applies <paramref name="op"/> to items 0 .. count - 1; does nothing when count is 0.</summary>
    public void Launch(TOp op, int count, long workPerItem = 1)
    {
        if (count == 0)
        {
            return;
        }

        var config = policy.Items(count, out int blockSize, workPerItem);
        if (policy.Launch(name, config))
        {
            kernel(config, op, count, blockSize);
        }
    }
}

/// <summary>
/// Counter-based random numbers: the bits for element <c>index</c> of a draw are <c>Hash(index ^ key)</c>, with the key a
/// hash of (seed, step, stream) made on the host once per launch, so they are the same on every device and in plain C#,
/// dropout masks and augmentations need no stored state, and a resumed run draws exactly what an uninterrupted one
/// would. The hash is lowbias32 (Wellons).
/// </summary>
public static class CounterRandom
{
    /// <summary>A well-mixed 32-bit hash of <paramref name="x"/>.</summary>
    public static uint Hash(uint x)
    {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }

    /// <summary>The key of the draws of <paramref name="stream"/> at <paramref name="step"/> under <paramref name="seed"/>.</summary>
    public static uint Key(int seed, int step, int stream) => Hash((uint)stream ^ Hash((uint)step ^ Hash((uint)seed)));

    /// <summary>32 random bits for element <paramref name="index"/> of the draws keyed <paramref name="key"/>.</summary>
    public static uint Bits(uint key, int index) => Hash((uint)index ^ key);

    /// <summary>A uniform draw in [0, 1) with 24 bits of resolution.</summary>
    public static float Uniform(uint key, int index) => (Bits(key, index) >> 8) * (1f / 16777216f);
}
