using System.Diagnostics.CodeAnalysis;

namespace GpuNet.Engine.Distributed;

/// <summary>The communicator of a run that is not distributed: rank 0 of 1, and every collective leaves its data as it is.</summary>
public sealed class SingleProcess : ICommunicator
{
    /// <inheritdoc/>
    public int Rank => 0;

    /// <inheritdoc/>
    public int Size => 1;

    /// <inheritdoc/>
    public int LocalRank => 0;

    /// <inheritdoc/>
    public string Backend => "single";

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values)
    {
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values)
    {
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<long> values)
    {
    }

    /// <inheritdoc/>
    public void AllReduceMax(Span<int> values)
    {
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root) => CheckRoot(root);

    /// <inheritdoc/>
    public void Broadcast(Span<float> data, int root) => CheckRoot(root);

    /// <inheritdoc/>
    public void Barrier()
    {
    }

    /// <summary>Ends this process with <paramref name="exitCode"/> (<see cref="Environment.Exit"/>).</summary>
    [DoesNotReturn]
    public void Abort(int exitCode) => Environment.Exit(exitCode);

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private static void CheckRoot(int root)
    {
        if (root != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(root), $"Root {root} is not a rank of a single process (rank 0 of 1).");
        }
    }
}
