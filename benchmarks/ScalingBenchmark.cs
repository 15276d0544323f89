using System.Diagnostics;
using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>
/// Data-parallel scaling: the images/s of a model's training step (global batch, gradients summed across ranks) in one
/// process and in N ranks under mpirun, measured in the same run. The N-rank figure comes from this program started by
/// mpirun in its worker mode.
/// </summary>
public static class ScalingBenchmark
{
    private const string WorkerFlag = "--scaling-rank";

    /// <summary>Measures one process here, then N ranks under mpirun; prints and returns the row.</summary>
    public static BenchRow? Run(string model, int ranks, AcceleratorKind kind, bool quick)
    {
        string? mpirun = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);
        if (mpirun is null)
        {
            Console.WriteLine("scaling: mpirun is not on PATH (install Open MPI: apt-get install openmpi-bin libopenmpi-dev); no scaling row");
            return null;
        }

        int steps = quick ? 5 : 30;
        double one = Measure(model, kind, steps, DataParallel.OneProcess, null).ImagesPerSecond;
        var start = new ProcessStartInfo(mpirun) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])[.. Environment.UserName == "root" ? ["--allow-run-as-root"] : Array.Empty<string>(), "--oversubscribe", "-np",
            ranks.ToString(CultureInfo.InvariantCulture), Path.Combine(AppContext.BaseDirectory, "GpuNet.Benchmarks"), WorkerFlag, model,
            steps.ToString(CultureInfo.InvariantCulture), DeviceSelector.Describe(kind)])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("mpirun did not start");
        var errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        // mpirun gives ranks a pseudo-terminal, so the line may follow terminal control sequences.
        var line = output.Split('\n').Select(l => l.Contains("scaling-result ", StringComparison.Ordinal) ? l[l.IndexOf("scaling-result ", StringComparison.Ordinal)..].Trim() : null)
            .FirstOrDefault(l => l is not null);
        if (process.ExitCode != 0 || line is null)
        {
            Console.WriteLine($"scaling: mpirun -np {ranks} failed (exit {process.ExitCode}): {errors.Result.Trim()} {output.Trim()}");
            return null;
        }

        double many = double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
        double collectives = double.Parse(line.Split(' ')[2], CultureInfo.InvariantCulture);
        var config = TrainConfig.ForModel(model);
        double msPerStep = config.BatchSize / many * 1e3;
        var row = new BenchRow($"scaling_{model}", $"{ranks}ranks_batch{config.BatchSize}", DeviceSelector.Describe(kind), msPerStep, msPerStep, msPerStep, null, null, many / one);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{row}  1 rank {one:F0} images/s, {ranks} ranks {many:F0} images/s ({many / ranks:F0} per rank), {collectives:F2} collectives per step; ratio = {ranks} ranks / 1 rank"));
        return row;
    }

    /// <summary>The mpirun worker: every rank trains its share; rank 0 prints the global images/s.</summary>
    public static int Worker(string[] args)
    {
        string model = args[1];
        int steps = int.Parse(args[2], CultureInfo.InvariantCulture);
        var kind = Enum.Parse<AcceleratorKind>(args[3], ignoreCase: true);
        using var communicator = Communicators.Open(DistributedMode.Mpi);
        using var device = Device.Open(kind, communicator.LocalRank);
        using var parallel = DataParallel.Create(communicator, device);
        var (imagesPerSecond, collectives) = Measure(model, kind, steps, parallel, device);
        if (communicator.Rank == 0)
        {
            Console.WriteLine(FormattableString.Invariant($"scaling-result {imagesPerSecond} {collectives}"));
        }

        return 0;
    }

    /// <summary>Whether <paramref name="args"/> start the mpirun worker.</summary>
    public static bool IsWorker(string[] args) => args.Length >= 4 && args[0] == WorkerFlag;

    /// <summary>Images/s of <paramref name="steps"/> training steps, and the collectives each made (with the loop's stop agreement).</summary>
    private static (double ImagesPerSecond, double CollectivesPerStep) Measure(string model, AcceleratorKind kind, int steps, DataParallel parallel, Device? given)
    {
        var config = TrainConfig.ForModel(model) with { Steps = 1_000_000, EvalEvery = 1_000_000 };
        using var owned = given is null ? Device.Open(kind) : null;
        var device = given ?? owned!;
        using var session = new TrainingSession(config, ModelBenchmarks.SyntheticData(config.BatchSize), device, parallel);
        session.Step.Reset(1, 0);
        int step = 0;
        for (int i = 0; i < 3; i++)
        {
            session.Step.Run(++step);
        }

        device.Synchronize();
        parallel.Communicator.Barrier();
        var watch = Stopwatch.StartNew();
        long collectives = parallel.Collectives;
        for (int i = 0; i < steps; i++)
        {
            parallel.OfferStop(0);
            session.Step.Run(++step);
            _ = parallel.AgreeOnStop(0);
            if (step % session.Step.ReadEvery == 0)
            {
                device.Synchronize();
                session.Step.PrepareOrders(step + 1);
            }
        }

        device.Synchronize();
        parallel.Communicator.Barrier();
        return ((double)steps * config.BatchSize / watch.Elapsed.TotalSeconds, (double)(parallel.Collectives - collectives) / steps);
    }
}
