using System.Globalization;
using System.Runtime.InteropServices;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Tests.Distributed;

/// <summary>
/// The bodies of the MPI tests, each run as every rank of an mpirun job: <c>mpirun -np 2 GpuNet.Tests --mpi-worker
/// NAME ARGS</c> (see <see cref="MpiTests"/>, which launches them, and Program.cs). A body checks with xunit's
/// asserts; a failure prints the exception and exits with 1, and mpirun then ends the job with a non-zero status.
/// A rank that finishes prints <c>rank R of N: NAME ok</c>, which the launching test requires from every rank.
/// </summary>
internal static class MpiWorker
{
    public const string Command = "--mpi-worker";

    /// <summary>SIGUSR1 on Linux, which mpirun forwards to every rank at once (Open MPI's ess_base_forward_signals).</summary>
    private const PosixSignal SigUsr1 = (PosixSignal)10;

    public static int Run(string[] args)
    {
        string name = args.Length > 0 ? args[0] : "";
        try
        {
            switch (name)
            {
                case "collectives":
                    Collectives(args[1]);
                    return 0;
                case "abort":
                    AbortWhileTheOtherWaits();
                    return 0;
                case "barrier-loop":
                    BarrierLoop();
                    return 0;
                case "lifecycle":
                    Lifecycle();
                    return 0;
                case "stop-on-sigterm":
                    return StopTogetherOnSigterm();
                case "together":
                    Together();
                    return 0;
                case "throw-while-blocked":
                    return ThrowWhileTheOtherBlocks();
                case "device-path":
                    DevicePath(args[1]);
                    return 0;
                default:
                    Console.Error.WriteLine($"unknown MPI worker '{name}'");
                    return 2;
            }
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"MPI worker {name} failed on rank {Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK")}: {e}");
            return 1;
        }
    }

    /// <summary>Every collective of <see cref="MpiCommunicator"/> with rank-dependent values and exact expected results.</summary>
    private static void Collectives(string scratch)
    {
        var launch = Communicators.Detect();
        Assert.True(launch.IsDistributed, $"not started by a launcher: {launch}");
        using var communicator = Communicators.Open(DistributedMode.Auto);
        var mpi = Assert.IsType<MpiCommunicator>(communicator);
        int rank = communicator.Rank, size = communicator.Size;
        Assert.Equal("mpi", communicator.Backend);
        Assert.Equal(OpenMpiLibrary.ThreadMultiple, MpiCommunicator.ThreadLevel);
        Assert.Equal(2, size);
        Assert.Equal(launch.Rank, rank);
        Assert.Equal(int.Parse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK")!), communicator.LocalRank);

        // Lengths 0, 1, a prime and one that is not a multiple of the chunk below; every value and every sum is exact.
        foreach (int length in new[] { 0, 1, 13, 1000 })
        {
            var floats = Enumerable.Range(0, length).Select(i => (rank + 1) * (i + 0.5f)).ToArray();
            communicator.AllReduceSum(floats);
            Assert.Equal(Enumerable.Range(0, length).Select(i => 3 * (i + 0.5f)), floats);

            var doubles = Enumerable.Range(0, length).Select(i => (rank + 1) * (i + 0.25)).ToArray();
            communicator.AllReduceSum(doubles);
            Assert.Equal(Enumerable.Range(0, length).Select(i => 3 * (i + 0.25)), doubles);

            // Beyond 32 bits: MPI_INT64_T, not MPI_INT.
            var longs = Enumerable.Range(0, length).Select(i => ((rank + 1) * (1L << 40)) + (rank * 7L) - i).ToArray();
            communicator.AllReduceSum(longs);
            Assert.Equal(Enumerable.Range(0, length).Select(i => (3 * (1L << 40)) + 7L - (2L * i)), longs);

            // The larger value comes from rank 0 at even i and from rank 1 at odd i; all negative.
            var ints = Enumerable.Range(0, length).Select(i => -1000 - i + (i % 2 == rank ? 500 : 0)).ToArray();
            communicator.AllReduceMax(ints);
            Assert.Equal(Enumerable.Range(0, length).Select(i => -500 - i), ints);
        }

        // Chunked calls (as for counts above int.MaxValue) give the same sums: 1000 elements in 143 calls of 7.
        mpi.MaxChunk = 7;
        var chunked = Enumerable.Range(0, 1000).Select(i => (rank + 1) * (i + 0.5f)).ToArray();
        communicator.AllReduceSum(chunked);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => 3 * (i + 0.5f)), chunked);
        var chunkedBytes = rank == 1 ? Enumerable.Range(0, 100).Select(i => (byte)(i * 3)).ToArray() : new byte[100];
        communicator.Broadcast(chunkedBytes, root: 1);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (byte)(i * 3)), chunkedBytes);
        mpi.MaxChunk = int.MaxValue;

        // Broadcast from root 1 (not the default 0): rank 0's data is replaced, rank 1's kept.
        var bytes = rank == 1 ? Enumerable.Range(0, 300).Select(i => (byte)(255 - (i % 256))).ToArray() : new byte[300];
        communicator.Broadcast(bytes, root: 1);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (byte)(255 - (i % 256))), bytes);
        var weights = rank == 0 ? [1.5f, -2.25f, float.MaxValue, float.Epsilon] : new float[4];
        communicator.Broadcast(weights, root: 0);
        Assert.Equal([1.5f, -2.25f, float.MaxValue, float.Epsilon], weights);
        Assert.Throws<ArgumentOutOfRangeException>(() => communicator.Broadcast(bytes, root: 2));

        // Barrier: rank 1 writes a file before it, rank 0 reads it after it.
        string marker = Path.Combine(scratch, "written-before-the-barrier");
        if (rank == 1)
        {
            File.WriteAllText(marker, "rank 1");
        }

        communicator.Barrier();
        if (rank == 0)
        {
            Assert.Equal("rank 1", File.ReadAllText(marker));
        }

        // A return code that is not MPI_SUCCESS becomes a DistributedException with Open MPI's text: MPI_Bcast with a
        // null datatype fails its parameter check on each rank alone (MPI_ERRORS_RETURN, so the job goes on).
        var error = Assert.Throws<DistributedException>(() => mpi.Broadcast<byte>(new byte[4], datatype: 0, root: 0));
        Assert.Equal($"MPI_Bcast failed on rank {rank} of 2: MPI_ERR_TYPE: invalid datatype (error 3).", error.Message);
        Assert.IsType<GpuNetException>(error, exactMatch: false);

        // Both ranks are still in step after the error.
        var after = new[] { rank + 1.0 };
        communicator.AllReduceSum(after);
        Assert.Equal(3.0, after[0]);
        Console.WriteLine($"rank {rank} of {size}: collectives ok");
    }

    /// <summary>
    /// One rank: two communicators share one MPI (finalized when the second is disposed, never to start again), and a
    /// launcher that claims another number of processes than Open MPI sees is an error.
    /// </summary>
    private static void Lifecycle()
    {
        var first = MpiCommunicator.Open();
        var second = MpiCommunicator.Open();
        Assert.Equal((0, 1), (second.Rank, second.Size));
        first.Dispose();
        Assert.Throws<ObjectDisposedException>(first.Barrier);
        second.Barrier();

        var mismatch = Assert.Throws<DistributedException>(() =>
            Communicators.Open(DistributedMode.Auto, new LaunchEnvironment("a PMI launcher (PMI_SIZE=2)", 2, 0), ["libmpi.so.40"]));
        Assert.Equal(
            "Started by a PMI launcher (PMI_SIZE=2) as one of 2 processes, but Open MPI sees 1; start GpuNet with Open MPI's mpirun.",
            mismatch.Message);

        second.Barrier();
        second.Dispose();
        var again = Assert.Throws<DistributedException>(MpiCommunicator.Open);
        Assert.Equal("MPI was already finalized in this process; it cannot start again.", again.Message);
        Console.WriteLine("rank 0 of 1: lifecycle ok");
    }

    /// <summary>Rank 1 aborts with 7 while rank 0 waits in a barrier that rank 1 never joins: mpirun ends both, exit status 7.</summary>
    private static void AbortWhileTheOtherWaits()
    {
        using var communicator = MpiCommunicator.Open();
        communicator.Barrier();
        if (communicator.Rank == 1)
        {
            Console.WriteLine("rank 1 aborting");
            Console.Out.Flush();
            communicator.Abort(7);
        }

        communicator.Barrier();
        Console.WriteLine("rank 0 passed a barrier that rank 1 never entered");
    }

    /// <summary>Barriers until killed, printing its pid once the first barrier has passed and every signal it gets.</summary>
    private static void BarrierLoop()
    {
        using var communicator = MpiCommunicator.Open();
        int rank = communicator.Rank;
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Received(rank, context));
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Received(rank, context));
        communicator.Barrier();
        Console.WriteLine($"rank {rank} pid {Environment.ProcessId} looping");
        Console.Out.Flush();
        while (true)
        {
            communicator.Barrier();
        }
    }

    private static void Received(int rank, PosixSignalContext context)
    {
        Console.WriteLine($"rank {rank} got {context.Signal} at {DateTime.UtcNow:HH:mm:ss.fff}");
        Console.Out.Flush();
        context.Cancel = true;
    }

    /// <summary>
    /// Loops on an all-reduction of a stop flag that SIGTERM sets, so every rank stops after the same iteration, as a
    /// trainer must; prints the iteration, finalizes MPI and exits with 143.
    /// </summary>
    private static int StopTogetherOnSigterm()
    {
        using var communicator = MpiCommunicator.Open();
        int rank = communicator.Rank;
        int stop = 0;
        void Stop(PosixSignalContext context)
        {
            Received(rank, context);
            Volatile.Write(ref stop, 1);
        }

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var user1 = PosixSignalRegistration.Create(SigUsr1, Stop);
        communicator.Barrier();
        Console.WriteLine($"rank {rank} pid {Environment.ProcessId} looping");
        Console.Out.Flush();
        var flag = new int[1];
        for (long iteration = 0; ; iteration++)
        {
            flag[0] = Volatile.Read(ref stop);
            communicator.AllReduceMax(flag);
            if (flag[0] != 0)
            {
                Console.WriteLine($"rank {rank} stopping after iteration {iteration}");
                Console.Out.Flush();
                communicator.Dispose();
                return 143;
            }
        }
    }

    /// <summary>
    /// <see cref="GpuNet.Cli.TrainCommand.Together"/> with rank-dependent outcomes: nothing failed; one rank failed; every
    /// rank failed alike; every rank failed differently; a usage error against a data error. Each case checks the exit
    /// code both ranks agree on, who printed what, and that a succeeding rank's value was disposed.
    /// </summary>
    private static void Together()
    {
        using var communicator = MpiCommunicator.Open();
        int rank = communicator.Rank;
        (string? Value, int Code, string Printed) Run(Func<string> step)
        {
            using var error = new StringWriter();
            string? value = GpuNet.Cli.TrainCommand.Together(communicator, step, error, out int code);
            return (value, code, error.ToString());
        }

        Assert.Equal(("fine", 0, ""), Run(() => "fine"));

        var disposed = new Disposable();
        var one = GpuNet.Cli.TrainCommand.Together<Disposable>(communicator, () => rank == 1 ? throw new DataException("only rank 1 failed") : disposed, TextWriter.Null, out int oneCode);
        Assert.Null(one);
        Assert.Equal(1, oneCode);
        Assert.Equal(rank == 0, disposed.Disposed);
        Assert.Equal((null, 1, rank == 1 ? "gpunet (rank 1 of 2): only rank 1 failed" + Environment.NewLine : ""), Run(() => rank == 1 ? throw new DataException("only rank 1 failed") : "fine"));

        Assert.Equal((null, 2, rank == 0 ? "gpunet: every rank alike" + Environment.NewLine : ""), Run(() => throw new ConfigurationException("every rank alike")));

        string own = $"gpunet (rank {rank} of 2): rank {rank}'s own" + Environment.NewLine;
        Assert.Equal((null, 1, own), Run(() => throw new DataException($"rank {rank}'s own")));

        var mixed = Run(() => rank == 0 ? throw new ConfigurationException("a usage error") : throw new DataException("a data error"));
        Assert.Equal(2, mixed.Code);
        Assert.StartsWith($"gpunet (rank {rank} of 2): ", mixed.Printed, StringComparison.Ordinal);
        Console.WriteLine($"rank {rank} of {communicator.Size}: together ok");
    }

    private sealed class Disposable : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    /// <summary>
    /// A rank's run through <see cref="GpuNet.Cli.TrainCommand.RunOrAbort"/> that throws while the other rank blocks in a
    /// barrier it never joins, and whose disposal would never return: the abort comes from the exception filter, before
    /// the disposal, so mpirun ends the job with the error's code and the rank's one line.
    /// </summary>
    private static int ThrowWhileTheOtherBlocks()
    {
        var communicator = MpiCommunicator.Open();
        int rank = communicator.Rank;
        communicator.Barrier();
        return GpuNet.Cli.TrainCommand.RunOrAbort(communicator, () =>
        {
            if (rank == 1)
            {
                using var stuck = new NeverDisposed();
                Console.WriteLine("rank 1 throwing");
                Console.Out.Flush();
                throw new DataException("the training images end early (a test's error)");
            }

            Console.WriteLine("rank 0 waiting in a barrier");
            Console.Out.Flush();
            communicator.Barrier();
            Console.WriteLine("rank 0 passed a barrier that rank 1 never entered");
            return 0;
        });
    }

    /// <summary>A disposal that never returns (as a device or NCCL waiting for a lost peer may).</summary>
    private sealed class NeverDisposed : IDisposable
    {
        public void Dispose()
        {
            Console.WriteLine("rank 1 disposing (never returns)");
            Console.Out.Flush();
            using var never = new ManualResetEventSlim();
            never.Wait();
        }
    }

    /// <summary>
    /// The NCCL path's logic without NCCL: <see cref="DataParallel.OnDevice"/> over a reduction that sums the CPU
    /// accelerator's memory through MPI, so the host learns nothing from the sum. It trains the bits the MPI path trains
    /// with one collective per step, and a stop request on rank 1 alone (after step 5) stops both ranks after the same
    /// step: the first read point after it, where the MPI path stops after the very next step (6).
    /// </summary>
    private static void DevicePath(string scratch)
    {
        using var communicator = MpiCommunicator.Open();
        try
        {
            DevicePath(communicator, scratch);
        }
        catch (Exception e)
        {
            // Not through the disposal, whose MPI_Finalize would wait for the other rank.
            Console.Error.WriteLine($"MPI worker device-path failed on rank {communicator.Rank}: {e}");
            Console.Error.Flush();
            communicator.Abort(1);
        }
    }

    private static void DevicePath(MpiCommunicator communicator, string scratch)
    {
        int rank = communicator.Rank;
        string data = SyntheticData.WriteMnistLike(400, 100, seed: 5);
        var config = new TrainConfig
        {
            Dataset = DatasetKind.Mnist,
            DataDir = data,
            Hidden = [16],
            Momentum = 0.9,
            LearningRate = 1e-2,
            BatchSize = 20,
            Steps = 40,
            EvalEvery = 20,
            Accelerator = AcceleratorKind.Cpu,
        };
        var dataset = DataSets.Load(DatasetKind.Mnist, data);
        using var device = Device.Open(AcceleratorKind.Cpu);
        string Dir(string name) => Directory.CreateDirectory(Path.Combine(scratch, name)).FullName;

        using (var mpi = DataParallel.Create(communicator, device))
        {
            Assert.Equal(Communication.Mpi, mpi.Method);
            Trainer.Run(config, dataset, device, Dir("mpi"), options: new TrainerOptions(Parallel: mpi));
        }

        using (var onDevice = DataParallel.OnDevice(communicator, new HostMemorySum(communicator)))
        {
            Assert.Equal(Communication.Nccl, onDevice.Method);
            Trainer.Run(config, dataset, device, Dir("device"), options: new TrainerOptions(Parallel: onDevice));
        }

        if (rank == 0)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(Dir("mpi"), "model.safetensors")), File.ReadAllBytes(Path.Combine(Dir("device"), "model.safetensors")));
            string Losses(string dir) => string.Join(';', RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(dir, "metrics.csv"))).Select(r => FormattableString.Invariant($"{r.Step},{r.TrainLoss:R},{r.TestLoss:R}")));
            Assert.Equal(Losses(Dir("mpi")), Losses(Dir("device")));
            foreach (string name in new[] { "mpi", "device" })
            {
                using var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir(name), "summary.json")));
                Assert.Equal(1.0, summary.RootElement.GetProperty("collectives_per_step").GetDouble());
            }
        }

        // Reads come after steps 20 and 40. MPI: a request after step 5 stops every rank after step 6. Device path: a
        // read after step r sees the requests made before step r - 1, so one after step 5 or 18 stops at 20; one after
        // step 19 would stop at 40, the last step, where the run finishes instead.
        DataParallel OnDevice() => DataParallel.OnDevice(communicator, new HostMemorySum(communicator));
        int mpiStop = StopOnRankOne(communicator, config, dataset, device, DataParallel.Create(communicator, device), 5, Dir("mpi-stop"));
        int deviceStop = StopOnRankOne(communicator, config, dataset, device, OnDevice(), 5, Dir("device-stop"));
        Assert.Equal(6, mpiStop);
        Assert.Equal(20, deviceStop);
        Assert.Equal(20, StopOnRankOne(communicator, config, dataset, device, OnDevice(), 18, Dir("device-stop-18")));
        Assert.Equal(0, StopOnRankOne(communicator, config, dataset, device, OnDevice(), 19, Dir("device-stop-19")));
        Assert.True(rank != 0 || File.Exists(Path.Combine(Dir("device-stop-19"), "model.safetensors")));
        Console.WriteLine($"rank {rank} of {communicator.Size}: device-path ok (stopped after step {mpiStop} by MPI, {deviceStop} on the device path)");
    }

    /// <summary>
    /// Trains with rank 1 asked to stop after step <paramref name="askAfter"/>; returns the step every rank stopped after
    /// (asserted equal), or 0 when every rank finished the run.
    /// </summary>
    private static int StopOnRankOne(MpiCommunicator communicator, TrainConfig config, Dataset dataset, Device device, DataParallel parallel, int askAfter, string dir)
    {
        using var owned = parallel;
        using var cancel = new CancellationTokenSource();
        var observer = communicator.Rank == 1 ? new CancelAt(askAfter, cancel) : null;
        int step = 0;
        try
        {
            Trainer.Run(config, dataset, device, dir, observer, options: new TrainerOptions(Parallel: parallel), cancel: cancel.Token);
        }
        catch (TrainingInterruptedException stopped)
        {
            Assert.Equal(DataParallel.InterruptCode, stopped.ExitCode);
            step = int.Parse(System.Text.RegularExpressions.Regex.Match(stopped.Message, @"after step (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        }

        Span<int> extremes = [step, -step];
        communicator.AllReduceMax(extremes);
        Assert.True(extremes[0] == -extremes[1], $"rank {communicator.Rank} stopped after step {step}, another after {(extremes[0] == step ? -extremes[1] : extremes[0])}");
        if (communicator.Rank == 0 && step > 0)
        {
            Assert.Equal(step, Checkpoint.Read(Path.Combine(dir, Checkpoint.FileName)).State.Step);
        }

        communicator.Barrier();
        return step;
    }

    /// <summary>
    /// A device reduction that sums the CPU accelerator's memory through MPI (host memory), standing in for NCCL: the
    /// training loop treats it as the NCCL path and learns nothing from the sum on the host.
    /// </summary>
    private sealed class HostMemorySum(ICommunicator host) : IDeviceReduction
    {
        public string Name => "MPI over the CPU accelerator's memory";

        public void AllReduceSum(ArrayView<float> buffer)
        {
            // Pinned: the copies may run after the call returns, and the GC must not move the array meanwhile.
            var values = GC.AllocateUninitializedArray<float>((int)buffer.Length, pinned: true);
            var accelerator = buffer.GetAccelerator();
            accelerator.Synchronize();
            buffer.CopyToCPU(ref values[0], values.Length);
            accelerator.Synchronize();
            host.AllReduceSum(values);
            buffer.CopyFromCPU(ref values[0], values.Length);
            accelerator.Synchronize();
        }

        public void CheckAsyncError()
        {
        }

        public void Dispose()
        {
        }
    }
}
