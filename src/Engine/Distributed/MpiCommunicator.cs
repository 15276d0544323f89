using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace GpuNet.Engine.Distributed;

/// <summary>
/// The processes that mpirun started (MPI_COMM_WORLD), through Open MPI's C API. The first one opened in a process
/// initializes MPI (MPI_Init_thread, MPI_THREAD_MULTIPLE, which must be granted) unless something else already did,
/// and the last one disposed finalizes it if it was this class that initialized it; MPI cannot start again in a
/// process after that.
/// Errors come back as return codes (MPI_ERRORS_RETURN on MPI_COMM_WORLD) and every one becomes a
/// <see cref="DistributedException"/>. All MPI calls of the process go through one lock, so any thread may call.
/// </summary>
/// <remarks>
/// How mpirun (Open MPI 4.1) ends a job, measured in the tests: a rank that dies (even by SIGKILL) or exits non-zero
/// ends the job, the other ranks being sent SIGCONT, then SIGTERM <c>odls_base_sigkill_timeout</c> seconds later
/// (default 1), then SIGKILL as long again; mpirun exits with the dead rank's status (137 for SIGKILL) or its exit
/// code. SIGTERM, SIGINT or SIGHUP sent to mpirun itself take the same path (the ranks get SIGTERM, never SIGINT) and
/// mpirun exits with 1. A rank that stops cleanly on SIGTERM (checkpoint, then exit) has that timeout to do it, so
/// start long runs with <c>--mca odls_base_sigkill_timeout 30</c> or <c>OMPI_MCA_odls_base_sigkill_timeout=30</c>.
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private static readonly Lock Gate = new();
    private static int openCount;
    private static bool initializedHere;

    /// <summary>The thread level MPI_Init_thread granted in this process (0 until this class initialized MPI).</summary>
    public static int ThreadLevel { get; private set; }

    private readonly OpenMpiLibrary mpi;
    private bool disposed;

    private MpiCommunicator(OpenMpiLibrary mpi, int rank, int size)
    {
        this.mpi = mpi;
        Rank = rank;
        Size = size;
        LocalRank = LocalRankFrom(Environment.GetEnvironmentVariable);
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>This process's rank on its node: OMPI_COMM_WORLD_LOCAL_RANK (else SLURM_LOCALID, else 0).</summary>
    public int LocalRank { get; }

    /// <inheritdoc/>
    public string Backend => "mpi";

    /// <summary>The largest count passed to one MPI call (MPI counts are C ints); longer buffers go in chunks of it.</summary>
    internal int MaxChunk { get; set; } = int.MaxValue;

    /// <summary>Opens MPI_COMM_WORLD, loading libmpi.so.40 (else libmpi.so) and initializing MPI if needed.</summary>
    /// <exception cref="DistributedException">
    /// Open MPI is not installed (one line naming the package), MPI was finalized already, or a call failed.
    /// </exception>
    public static MpiCommunicator Open() => Open(OpenMpiLibrary.DefaultNames);

    /// <summary>Opens MPI_COMM_WORLD through the first of <paramref name="libraryNames"/> the loader finds.</summary>
    internal static MpiCommunicator Open(IReadOnlyList<string> libraryNames)
    {
        var mpi = OpenMpiLibrary.Load(libraryNames);
        lock (Gate)
        {
            int flag = 0;
            Check(mpi, mpi.Finalized(&flag), "MPI_Finalized");
            if (flag != 0)
            {
                throw new DistributedException("MPI was already finalized in this process; it cannot start again.");
            }

            Check(mpi, mpi.Initialized(&flag), "MPI_Initialized");
            if (flag == 0)
            {
                // Calls are serialized by Gate, but Abort skips it so another thread can end a job stuck in a
                // collective: that is MPI_THREAD_MULTIPLE, which must be granted.
                int provided = 0;
                Check(mpi, mpi.InitThread(null, null, OpenMpiLibrary.ThreadMultiple, &provided), "MPI_Init_thread");
                initializedHere = true;
                ThreadLevel = provided;
                if (provided < OpenMpiLibrary.ThreadMultiple)
                {
                    throw new DistributedException(
                        $"Open MPI granted thread level {provided} where GpuNet needs MPI_THREAD_MULTIPLE ({OpenMpiLibrary.ThreadMultiple}): its abort may come from another thread than a collective in progress; use an Open MPI built with thread support (Debian's is).");
                }
            }

            Check(mpi, mpi.CommSetErrhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
            int rank = 0, size = 0;
            Check(mpi, mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
            Check(mpi, mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
            openCount++;
            return new MpiCommunicator(mpi, rank, size);
        }
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values) => AllReduce(values, mpi.Float, mpi.OpSum);

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) => AllReduce(values, mpi.Double, mpi.OpSum);

    /// <inheritdoc/>
    public void AllReduceSum(Span<long> values) => AllReduce(values, mpi.Int64, mpi.OpSum);

    /// <inheritdoc/>
    public void AllReduceMax(Span<int> values) => AllReduce(values, mpi.Int, mpi.OpMax);

    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root) => Broadcast(data, mpi.Byte, root);

    /// <inheritdoc/>
    public void Broadcast(Span<float> data, int root) => Broadcast(data, mpi.Float, root);

    /// <inheritdoc/>
    public void Barrier()
    {
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            Check(mpi.Barrier(mpi.CommWorld), "MPI_Barrier");
        }
    }

    /// <summary>
    /// MPI_Abort on MPI_COMM_WORLD: Open MPI ends every rank and mpirun exits with <paramref name="exitCode"/>. It
    /// does not wait for the lock that serializes MPI calls, so it works while another thread is stuck in a collective.
    /// The caller has said why (GpuNet's one line), so Open MPI 4's MPI_ABORT banner from this rank, which would only
    /// repeat the code, is left out: the rank's help messages are silenced first (see
    /// <see cref="OpenMpiLibrary.ExecuteQuiet"/>; on an Open MPI without the flag the banner stays).
    /// </summary>
    [DoesNotReturn]
    public void Abort(int exitCode)
    {
        int finalized = 0;
        if (mpi.Finalized(&finalized) == OpenMpiLibrary.Success && finalized == 0)
        {
            if (mpi.ExecuteQuiet is not null)
            {
                *mpi.ExecuteQuiet = true;
            }

            mpi.Abort(mpi.CommWorld, exitCode);
        }

        Environment.Exit(exitCode);
    }

    /// <summary>Finalizes MPI when this is the last communicator open and this class initialized it.</summary>
    /// <exception cref="DistributedException">MPI_Finalize failed.</exception>
    public void Dispose()
    {
        lock (Gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            openCount--;
            if (openCount == 0 && initializedHere)
            {
                initializedHere = false;
                Check(mpi.Finalize(), "MPI_Finalize");
            }
        }
    }

    /// <summary>MPI_Allreduce in place on <paramref name="values"/> with MPI datatype and operation handles.</summary>
    internal void AllReduce<T>(Span<T> values, nint datatype, nint op)
        where T : unmanaged
    {
        fixed (T* buffer = values)
        {
            AllReduce(buffer, values.Length, sizeof(T), datatype, op);
        }
    }

    /// <summary>
    /// MPI_Allreduce in place on <paramref name="count"/> elements at <paramref name="buffer"/>, in chunks of at most
    /// <see cref="MaxChunk"/> elements, in the same order on every rank.
    /// </summary>
    internal void AllReduce(void* buffer, long count, int elementSize, nint datatype, nint op)
    {
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            for (long offset = 0; offset < count; offset += MaxChunk)
            {
                int chunk = (int)Math.Min(MaxChunk, count - offset);
                byte* start = (byte*)buffer + (offset * elementSize);
                Check(mpi.Allreduce(OpenMpiLibrary.InPlace, start, chunk, datatype, op, mpi.CommWorld), "MPI_Allreduce");
            }
        }
    }

    /// <summary>MPI_Bcast of <paramref name="data"/> from <paramref name="root"/> with an MPI datatype handle.</summary>
    internal void Broadcast<T>(Span<T> data, nint datatype, int root)
        where T : unmanaged
    {
        fixed (T* buffer = data)
        {
            Broadcast(buffer, data.Length, sizeof(T), datatype, root);
        }
    }

    /// <summary>MPI_Bcast of <paramref name="count"/> elements at <paramref name="buffer"/> from <paramref name="root"/>, in chunks.</summary>
    internal void Broadcast(void* buffer, long count, int elementSize, nint datatype, int root)
    {
        if (root < 0 || root >= Size)
        {
            throw new ArgumentOutOfRangeException(nameof(root), $"Root {root} is not a rank (0 to {Size - 1}).");
        }

        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            for (long offset = 0; offset < count; offset += MaxChunk)
            {
                int chunk = (int)Math.Min(MaxChunk, count - offset);
                byte* start = (byte*)buffer + (offset * elementSize);
                Check(mpi.Bcast(start, chunk, datatype, root, mpi.CommWorld), "MPI_Bcast");
            }
        }
    }

    /// <summary>The library's handles (MPI_FLOAT, MPI_SUM, ...), for the internal calls above.</summary>
    internal OpenMpiLibrary Library => mpi;

    /// <summary>The rank on this node from the launcher's environment: OMPI_COMM_WORLD_LOCAL_RANK, else SLURM_LOCALID, else 0.</summary>
    internal static int LocalRankFrom(Func<string, string?> environment)
    {
        foreach (string name in (string[])["OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"])
        {
            if (int.TryParse(environment(name), NumberStyles.None, CultureInfo.InvariantCulture, out int localRank))
            {
                return localRank;
            }
        }

        return 0;
    }

    /// <summary>Throws the <see cref="DistributedException"/> for a failed call: "MPI_Bcast failed on rank 1 of 2: ...".</summary>
    internal void Check(int code, string function)
    {
        if (code != OpenMpiLibrary.Success)
        {
            throw new DistributedException($"{function} failed on rank {Rank} of {Size}: {mpi.Describe(code)} (error {code}).");
        }
    }

    private static void Check(OpenMpiLibrary mpi, int code, string function)
    {
        if (code != OpenMpiLibrary.Success)
        {
            throw new DistributedException($"{function} failed: {mpi.Describe(code)} (error {code}).");
        }
    }
}
