using System.Buffers.Binary;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Engine.Distributed;

/// <summary>
/// NCCL across the ranks of an MPI run, one CUDA device per rank, for all-reductions of device memory. Rank 0 makes
/// NCCL's unique id (ncclGetUniqueId), the host communicator broadcasts its 128 bytes, and every rank joins with
/// ncclCommInitRank. Every NCCL call binds the accelerator's CUDA context first: ILGPU creates its own context per
/// accelerator (cuCtxCreate, not the device's primary context), and NCCL's communicator and kernels live in it.
/// Collectives are queued on a CUDA stream (by default the accelerator's default stream, the one every GpuNet kernel
/// runs on, so they are ordered with the kernels; <see cref="CudaStream.StreamPtr"/>) on the raw device pointer of the
/// view, in place; the host does not wait for them. Dispose to destroy the NCCL communicator.
/// </summary>
public sealed unsafe class NcclCommunicator : IDisposable, IDeviceReduction
{
    private readonly NcclLibrary nccl;
    private readonly CudaAccelerator? accelerator;
    private nint communicator;

    /// <summary>Joins the ranks of <paramref name="host"/> into an NCCL communicator on <paramref name="accelerator"/>.</summary>
    internal NcclCommunicator(NcclLibrary nccl, ICommunicator host, CudaAccelerator? accelerator)
    {
        this.nccl = nccl;
        this.accelerator = accelerator;
        Rank = host.Rank;
        Size = host.Size;
        int version = 0;
        Check(nccl.GetVersion(&version), "ncclGetVersion");
        Version = version;

        // (4 + 128) bytes: rank 0's ncclGetUniqueId result code, then the id; a failure there fails every rank alike
        // instead of leaving the others waiting in ncclCommInitRank.
        Span<byte> message = stackalloc byte[sizeof(int) + NcclUniqueId.Bytes];
        message.Clear();
        if (Rank == 0)
        {
            NcclUniqueId made;
            int code = nccl.GetUniqueId(&made);
            BinaryPrimitives.WriteInt32LittleEndian(message, code);
            new ReadOnlySpan<byte>(made.Internal, NcclUniqueId.Bytes).CopyTo(message[sizeof(int)..]);
        }

        host.Broadcast(message, root: 0);
        int rootCode = BinaryPrimitives.ReadInt32LittleEndian(message);
        if (rootCode != NcclLibrary.Success)
        {
            throw new DistributedException(
                $"ncclGetUniqueId failed on rank 0 of {Size}: {nccl.Describe(rootCode)} (ncclResult_t {rootCode}).");
        }

        NcclUniqueId id;
        message[sizeof(int)..].CopyTo(new Span<byte>(id.Internal, NcclUniqueId.Bytes));
        nint created = 0;
        using (Bind())
        {
            Check(nccl.CommInitRank(&created, Size, id, Rank), "ncclCommInitRank");
        }

        communicator = created;
    }

    /// <summary>This rank in the NCCL communicator (the host communicator's rank).</summary>
    public int Rank { get; }

    /// <summary>How many ranks take part.</summary>
    public int Size { get; }

    /// <summary>NCCL's version code (ncclGetVersion), e.g. 22703 for 2.27.3.</summary>
    public int Version { get; }

    /// <summary>Where NCCL was loaded from.</summary>
    public string LibraryPath => nccl.Path;

    /// <inheritdoc/>
    string IDeviceReduction.Name => LibraryPath;

    /// <summary>Loads NCCL as <see cref="Create"/> would, without creating a communicator; returns where it was found.</summary>
    /// <exception cref="DistributedException">NCCL is not found or is not NCCL.</exception>
    public static string Probe(string? libraryPath = null) => NcclLibrary.Load(libraryPath).Path;

    /// <summary>
    /// Creates the NCCL communicator of all ranks of <paramref name="host"/>, this rank on <paramref name="accelerator"/>.
    /// Every rank must call it together (it broadcasts over <paramref name="host"/>).
    /// </summary>
    /// <param name="host">The MPI communicator, to broadcast NCCL's unique id.</param>
    /// <param name="accelerator">This rank's CUDA device.</param>
    /// <param name="libraryPath">libnccl.so.2's path (<c>--nccl</c>), or null to look for it (GPUNET_NCCL, the loader, Python's site-packages).</param>
    /// <exception cref="DistributedException">NCCL is not found, or one of its calls failed (with NCCL's text).</exception>
    public static NcclCommunicator Create(ICommunicator host, CudaAccelerator accelerator, string? libraryPath = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(accelerator);
        return new NcclCommunicator(NcclLibrary.Load(libraryPath), host, accelerator);
    }

    /// <summary>
    /// Queues <c>buffer[i] = sum over ranks of buffer[i]</c> (ncclAllReduce in place, ncclFloat, ncclSum) on the
    /// accelerator's default stream. Every rank calls it with a view of the same length.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> is not memory of this communicator's accelerator.</exception>
    /// <exception cref="DistributedException">ncclAllReduce failed (with NCCL's text).</exception>
    public void AllReduceSum(ArrayView<float> buffer) => AllReduceSum(buffer, (CudaStream)Accelerator.DefaultStream);

    /// <summary>As <see cref="AllReduceSum(ArrayView{float})"/>, queued on <paramref name="stream"/>.</summary>
    /// <exception cref="ArgumentException">The buffer or the stream belongs to another accelerator.</exception>
    /// <exception cref="DistributedException">ncclAllReduce failed (with NCCL's text).</exception>
    public void AllReduceSum(ArrayView<float> buffer, CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (buffer.Length == 0)
        {
            return;
        }

        if (buffer.GetAccelerator() != Accelerator || stream.Accelerator != Accelerator)
        {
            throw new ArgumentException(
                $"The buffer ({buffer.GetAccelerator().Name}) and the stream ({stream.Accelerator.Name}) must belong to " +
                $"this communicator's accelerator ({Accelerator.Name}).", nameof(buffer));
        }

        using (Bind())
        {
            AllReduceSum(DevicePointer(buffer), buffer.Length, stream.StreamPtr);
        }
    }

    /// <summary>ncclCommDestroy.</summary>
    /// <exception cref="DistributedException">ncclCommDestroy failed (with NCCL's text).</exception>
    public void Dispose()
    {
        if (communicator == 0)
        {
            return;
        }

        nint destroyed = communicator;
        communicator = 0;
        using (Bind())
        {
            Check(nccl.CommDestroy(destroyed), "ncclCommDestroy");
        }
    }

    /// <summary>
    /// Polls NCCL's asynchronous error (ncclCommGetAsyncError): a peer lost in the middle of a collective leaves the
    /// others spinning in a device kernel, and only this says so. On an error it aborts the communicator
    /// (ncclCommAbort, which ends the pending operations) and throws; the caller ends the job. The host calls it where it
    /// reads the device anyway (evaluations, checkpoints, progress, the end).
    /// </summary>
    /// <exception cref="DistributedException">NCCL reported an error; the message names the rank and NCCL's text.</exception>
    public void CheckAsyncError()
    {
        if (communicator == 0)
        {
            return;
        }

        int error = NcclLibrary.Success;
        using (Bind())
        {
            Check(nccl.CommGetAsyncError(communicator, &error), "ncclCommGetAsyncError");
        }

        if (error is NcclLibrary.Success or NcclLibrary.InProgress)
        {
            return;
        }

        nint aborted = communicator;
        communicator = 0;
        using (Bind())
        {
            _ = nccl.CommAbort(aborted);
        }

        throw new DistributedException(
            $"NCCL failed on rank {Rank} of {Size}: {nccl.Describe(error)} (ncclResult_t {error}, reported asynchronously); the NCCL communicator was aborted.");
    }

    /// <summary>The raw address of the view's first element (for CUDA a CUdeviceptr): its buffer's NativePtr plus its offset.</summary>
    internal static nint DevicePointer(ArrayView<float> view) => view.LoadEffectiveAddressAsPtr();

    /// <summary>ncclAllReduce(pointer, pointer, count, ncclFloat, ncclSum, comm, stream).</summary>
    internal void AllReduceSum(nint devicePointer, long count, nint stream)
    {
        ObjectDisposedException.ThrowIf(communicator == 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Check(
            nccl.AllReduce((void*)devicePointer, (void*)devicePointer, (nuint)count, NcclLibrary.Float, NcclLibrary.Sum, communicator, stream),
            "ncclAllReduce");
    }

    private CudaAccelerator Accelerator =>
        accelerator ?? throw new InvalidOperationException("This NCCL communicator has no CUDA accelerator.");

    /// <summary>Makes the accelerator's CUDA context current on this thread, as NCCL's calls need.</summary>
    private ScopedAcceleratorBinding? Bind() => accelerator?.BindScoped();

    private void Check(int code, string function)
    {
        if (code != NcclLibrary.Success)
        {
            throw new DistributedException($"{function} failed on rank {Rank} of {Size}: {nccl.Describe(code)} (ncclResult_t {code}).");
        }
    }
}
