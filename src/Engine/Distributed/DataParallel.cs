// Data parallelism over N ranks (one process per device): every rank holds the whole model, takes its contiguous
// slice of each global batch, and after backward the ranks sum their reduction arenas (every gradient, scaled by
// 1 / global batch, the batch loss sum and two carried stop flags) in one all-reduce: NCCL between CUDA devices, else
// MPI through host memory. That sum is the step's only collective: a stop request rides in it (MPI: the host reads the
// sum and every rank stops after the same step; NCCL: the device records the sum and every rank stops at the same
// next read point).
// Every rank then checks and applies the same values, so the parameters stay identical (checked at evaluations).
// BatchNorm keeps per-rank batch statistics; its running statistics are averaged across ranks before evaluation and
// saving. Evaluation splits the test set across ranks and sums the losses and correct counts.
using System.Globalization;
using GpuNet.Engine.Layers;
using GpuNet.Kernels;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Engine.Distributed;

/// <summary>How a run's gradients travel between ranks (kebab-case names: none, mpi, nccl).</summary>
public enum Communication
{
    /// <summary>One process: nothing travels.</summary>
    None,

    /// <summary>Through host memory by MPI.</summary>
    Mpi,

    /// <summary>Device to device by NCCL.</summary>
    Nccl,
}

/// <summary>How the ranks of a data-parallel run communicate, and what they agree on.</summary>
public sealed class DataParallel : IDisposable
{
    private readonly IDeviceReduction? onDevice;
    private float[]? hostArena;
    private int offeredStop;
    private int? carriedStop;

    private DataParallel(ICommunicator communicator, IDeviceReduction? onDevice)
    {
        Communicator = communicator;
        this.onDevice = onDevice;
    }

    /// <summary>
    /// The device path over <paramref name="reduction"/> (which this instance then owns): what NCCL does, for a
    /// reduction that is not NCCL.
    /// </summary>
    internal static DataParallel OnDevice(ICommunicator communicator, IDeviceReduction reduction) => new(communicator, reduction);

    /// <summary>One process: nothing is communicated.</summary>
    public static DataParallel OneProcess { get; } = new(new SingleProcess(), null);

    /// <summary>The host communicator (MPI, or a single process).</summary>
    public ICommunicator Communicator { get; }

    /// <summary>This rank.</summary>
    public int Rank => Communicator.Rank;

    /// <summary>Ranks in the run.</summary>
    public int Size => Communicator.Size;

    /// <summary>How gradients travel: none (one process), nccl (device to device) or mpi (through host memory).</summary>
    public Communication Method => Size == 1 ? Communication.None : onDevice is not null ? Communication.Nccl : Communication.Mpi;

    /// <summary>Where NCCL was loaded from, when it is used.</summary>
    public string? NcclLibrary => onDevice?.Name;

    /// <summary>
    /// The communication of a run over <paramref name="communicator"/> on <paramref name="device"/>: NCCL when every rank
    /// has a CUDA device and loads NCCL (<paramref name="ncclPath"/>, GPUNET_NCCL or the usual places), else MPI through
    /// host memory. Every rank must call this together.
    /// </summary>
    public static DataParallel Create(ICommunicator communicator, Device device, string? ncclPath = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(device);
        if (communicator.Size == 1)
        {
            return new DataParallel(communicator, null);
        }

        bool able = false;
        string? why = device.Accelerator is CudaAccelerator ? null : "this rank has no CUDA device";
        if (why is null)
        {
            try
            {
                NcclCommunicator.Probe(ncclPath);
                able = true;
            }
            catch (DistributedException e)
            {
                why = e.Message;
            }
        }

        // Every rank must take the same path: NCCL only if all can.
        Span<int> unable = [able ? 0 : 1];
        communicator.AllReduceMax(unable);
        if (unable[0] != 0)
        {
            return new DataParallel(communicator, null) { FallbackReason = why ?? "not every rank has a CUDA device and NCCL" };
        }

        return new DataParallel(communicator, NcclCommunicator.Create(communicator, (CudaAccelerator)device.Accelerator, ncclPath));
    }

    /// <summary>Why NCCL is not used, when it was not.</summary>
    public string? FallbackReason { get; private init; }

    /// <summary>
    /// Collectives made so far (every all-reduce, broadcast and barrier this class starts, NCCL's included), for the
    /// count per training step that summary.json reports.
    /// </summary>
    public long Collectives { get; private set; }

    /// <summary>This rank's first row of a global batch of <paramref name="globalBatch"/> rows.</summary>
    public int FirstRow(int globalBatch) => Rank * (globalBatch / Size);

    /// <summary>
    /// Sums <paramref name="arena"/> (a model's <see cref="Sequential.ReductionArena"/>, which ends with the two carried
    /// flags) over the ranks, in place. NCCL queues it on the device (no wait); MPI waits for the device once (counted by
    /// <paramref name="reads"/>), sums in host memory and uploads the result.
    /// </summary>
    public void SumArena(TensorView<float> arena, DeviceReads reads)
    {
        ArgumentNullException.ThrowIfNull(reads);
        if (Size == 1)
        {
            return;
        }

        Collectives++;
        if (onDevice is not null)
        {
            // The carried flags hold what the last step's check put there (this rank's request then, see OfferedFlags);
            // their sum reaches the host at the next read point (StopAtRead).
            onDevice.AllReduceSum(arena.Data);
            return;
        }

        // The host writes the carried flags itself (the request offered before the step), so the agreement on a stop
        // comes with this sum and takes no collective of its own.
        int length = arena.Length;
        hostArena ??= new float[length];
        reads.WaitForDevice();
        DeviceCopy.CopyToHost(arena, hostArena);
        int flags = OfferedFlags;
        hostArena[length - 2] = flags & 1;
        hostArena[length - 1] = (flags >> 1) & 1;
        Communicator.AllReduceSum(hostArena);
        carriedStop = StopCode((int)hostArena[length - 2], (int)hostArena[length - 1]);
        DeviceCopy.CopyFromHost(arena, (ReadOnlySpan<float>)hostArena);
    }

    /// <summary>SIGINT's exit code, a stop request.</summary>
    public const int InterruptCode = 130;

    /// <summary>SIGTERM's exit code, a stop request that wins over SIGINT's.</summary>
    public const int TerminateCode = 143;

    /// <summary>
    /// This rank's stop request (0, <see cref="InterruptCode"/> or <see cref="TerminateCode"/>) before a step: it rides
    /// in a gradient sum as two carried flags, which then also gives the agreement.
    /// </summary>
    public void OfferStop(int code) => offeredStop = code is InterruptCode or TerminateCode ? code : 0;

    /// <summary>
    /// The offered request as the two carried flags (bit 0: an interrupt, bit 1: a terminate), which a step's
    /// non-finite check leaves in the arena for the next sum (see <see cref="Optimizers.CheckFinite"/>).
    /// </summary>
    public int OfferedFlags => offeredStop switch { InterruptCode => 1, TerminateCode => 2, _ => 0 };

    /// <summary>The agreed stop code of carried flag sums: a terminate anywhere wins, then an interrupt, else 0.</summary>
    public static int StopCode(int interrupts, int terminates) => terminates > 0 ? TerminateCode : interrupts > 0 ? InterruptCode : 0;

    /// <summary>
    /// After a step, with no collective: one process stops on its own <paramref name="code"/>; on the MPI path every rank
    /// gets the largest request offered before the step (it came with the step's gradient sum), so all stop after the
    /// same step. On the NCCL path the host does not see the sum, so this is 0 and the stop comes at the next read
    /// point (<see cref="StopAtRead"/>).
    /// </summary>
    public int AgreeOnStop(int code)
    {
        if (Size == 1)
        {
            return code;
        }

        int carried = carriedStop ?? 0;
        carriedStop = null;
        return carried;
    }

    /// <summary>
    /// At a read point, on the NCCL path: the stop code of the carried flag sums the device recorded for the step just
    /// read (<paramref name="recorded"/>, the same on every rank, since every rank reads after the same steps); 0 on the
    /// other paths, which agreed in <see cref="AgreeOnStop"/>. The check of step s puts the request offered before step
    /// s in the flags, step s + 1's sum carries it and its check records it, so a read after step r sees the requests
    /// offered before step r - 1: a request that comes later waits for the next read point.
    /// </summary>
    public int StopAtRead(int recorded) => Method == Communication.Nccl ? recorded : 0;

    /// <summary>Throws when NCCL reported an asynchronous error (after aborting its communicator); nothing on the MPI path.</summary>
    /// <exception cref="DistributedException">NCCL failed on this rank; the message names it.</exception>
    public void CheckCommunication() => onDevice?.CheckAsyncError();

    /// <summary>Replaces every BatchNorm running statistic with its mean over the ranks.</summary>
    public void AverageBuffers(Sequential model, DeviceReads reads)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (Size == 1 || model.NamedBuffers.Count == 0)
        {
            return;
        }

        reads.WaitForDevice();
        foreach (var (_, tensor) in model.NamedBuffers)
        {
            var values = tensor.Download();
            Collectives++;
            Communicator.AllReduceSum(values);
            for (int i = 0; i < values.Length; i++)
            {
                values[i] /= Size;
            }

            tensor.Upload(values);
        }
    }

    /// <summary>Sums an evaluation's loss and counts over the ranks.</summary>
    public (double LossSum, long Correct, long Samples) SumEvaluation(double lossSum, long correct, long samples)
    {
        if (Size == 1)
        {
            return (lossSum, correct, samples);
        }

        Span<double> loss = [lossSum];
        Communicator.AllReduceSum(loss);
        Span<long> counts = [correct, samples];
        Communicator.AllReduceSum(counts);
        Collectives += 2;
        return (loss[0], counts[0], counts[1]);
    }

    /// <summary>
    /// Checks that every rank holds the same parameters (a checksum of the arena's bits, compared through two maxima);
    /// every rank learns the outcome, so all stop together.
    /// </summary>
    /// <exception cref="DistributedException">The ranks' parameters differ.</exception>
    public void CheckIdentical(Sequential model, int step, DeviceReads reads)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(reads);
        if (Size == 1)
        {
            return;
        }

        reads.WaitForDevice();
        var values = new float[model.ParameterArena.Length];
        DeviceCopy.CopyToHost(model.ParameterArena, values);
        uint hash = 2166136261;
        foreach (float v in values)
        {
            hash = (hash ^ BitConverter.SingleToUInt32Bits(v)) * 16777619;
        }

        int h = (int)(hash & int.MaxValue);
        Span<int> maxima = [h, int.MaxValue - h];
        Collectives++;
        Communicator.AllReduceMax(maxima);
        if (maxima[0] + maxima[1] != int.MaxValue)
        {
            throw new DistributedException(string.Create(
                CultureInfo.InvariantCulture,
                $"The ranks' parameters differ after step {step} (rank {Rank}'s checksum {h:x8}, the largest {maxima[0]:x8}); the run stops."));
        }
    }

    /// <inheritdoc/>
    public void Dispose() => onDevice?.Dispose();
}
