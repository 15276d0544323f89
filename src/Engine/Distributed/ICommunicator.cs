namespace GpuNet.Engine.Distributed;

/// <summary>
/// The processes of one data-parallel run and the collectives between them, on host memory. Every rank calls the
/// same collectives in the same order with spans of the same length; a reduction's result is the same on every rank.
/// Calls are serialized: one collective at a time per process.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, 0 to <see cref="Size"/> - 1.</summary>
    int Rank { get; }

    /// <summary>How many processes take part.</summary>
    int Size { get; }

    /// <summary>This process's rank among the processes on its own node (which GPU it takes).</summary>
    int LocalRank { get; }

    /// <summary>The implementation: <c>single</c> (one process, no communication) or <c>mpi</c>.</summary>
    string Backend { get; }

    /// <summary>Replaces <c>values[i]</c> on every rank with the sum over all ranks of <c>values[i]</c>.</summary>
    /// <exception cref="DistributedException">The library reported an error.</exception>
    void AllReduceSum(Span<float> values);

    /// <summary>Replaces <c>values[i]</c> on every rank with the sum over all ranks of <c>values[i]</c>.</summary>
    /// <exception cref="DistributedException">The library reported an error.</exception>
    void AllReduceSum(Span<double> values);

    /// <summary>Replaces <c>values[i]</c> on every rank with the sum over all ranks of <c>values[i]</c>.</summary>
    /// <exception cref="DistributedException">The library reported an error.</exception>
    void AllReduceSum(Span<long> values);

    /// <summary>Replaces <c>values[i]</c> on every rank with the largest <c>values[i]</c> over all ranks.</summary>
    /// <exception cref="DistributedException">The library reported an error.</exception>
    void AllReduceMax(Span<int> values);

    /// <summary>Copies <paramref name="root"/>'s <paramref name="data"/> into every other rank's <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a rank.</exception>
    /// <exception cref="DistributedException">The library reported an error.</exception>
    void Broadcast(Span<byte> data, int root);

    /// <summary>Copies <paramref name="root"/>'s <paramref name="data"/> into every other rank's <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a rank.</exception>
    /// <exception cref="DistributedException">The library reported an error.</exception>
    void Broadcast(Span<float> data, int root);

    /// <summary>Returns once every rank has called it.</summary>
    /// <exception cref="DistributedException">The library reported an error.</exception>
    void Barrier();

    /// <summary>
    /// Ends every process of the run at once with <paramref name="exitCode"/> (the launcher's exit status); for
    /// a rank that cannot go on while the others wait in a collective. Does not return.
    /// </summary>
    void Abort(int exitCode);
}
