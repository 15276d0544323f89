using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;

namespace GpuNet.Cli;

/// <summary>gpunet train: parses the options into a <see cref="TrainConfig"/> and runs the trainer.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter output, bool interactive)
    {
        var o = new TrainOptions();
        var command = new Command("train", "Train a model and write metrics.csv, summary.json, curves.png and model.safetensors.");
        foreach (var option in o.All)
        {
            command.Options.Add(option);
        }

        command.Options.Add(Program.VerboseOption());
        command.SetAction(parse =>
        {
            var placement = new Placement(
                Choices.Parse<DistributedMode>(parse.GetValue(o.Distributed)!),
                parse.GetValue(o.Nccl));
            if (parse.GetValue(o.Resume) is { } resumeDir)
            {
                var others = parse.CommandResult.Children.OfType<OptionResult>()
                    .Where(r => !r.Implicit && r.Option != o.Resume && r.Option != o.Accelerator && r.Option != o.Distributed && r.Option != o.Nccl && r.Option.Name != "--verbose")
                    .Select(r => r.Option.Name).ToList();
                if (others.Count > 0)
                {
                    throw new ConfigurationException($"--resume takes the checkpoint's configuration; {string.Join(", ", others)} cannot be changed (only --accelerator).");
                }

                return Resume(output, interactive, resumeDir, parse.GetResult(o.Accelerator) is { Implicit: false } ? Program.ParseAccelerator(parse.GetValue(o.Accelerator)) : null, placement);
            }

            var config = o.ToConfig(parse);
            CheckArchitecture(config);

            string directory = parse.GetValue(o.OutDir) ?? Path.Combine("runs", $"{DateTime.Now:yyyyMMdd-HHmmss}-{config.Model}");
            return Train(output, interactive, config, directory, resumeFrom: null, placement, force: parse.GetValue(o.Force));
        });
        return command;
    }

    /// <summary>
    /// Checks every layer against the data set's sample shape and classes before anything is made or loaded (an image
    /// folder's shape is known once it is read; the session checks it then, before it allocates).
    /// </summary>
    private static void CheckArchitecture(TrainConfig config)
    {
        if (DataSets.SampleShape(config.Dataset) is { } shape && DataSets.ClassNames(config.Dataset) is { } classes)
        {
            _ = config.Architecture(shape, classes.Count);
        }
    }

    /// <summary>A progress line for decoding an image folder, rewritten in place.</summary>
    private static Action<int, int> ShowReading(TextWriter output)
    {
        var gate = new object();
        return (done, total) =>
        {
            lock (gate)
            {
                output.Write(done == total ? $"\rreading images: {done}/{total}\n" : $"\rreading images: {done}/{total}");
            }
        };
    }

    private static int Resume(TextWriter output, bool interactive, string directory, AcceleratorKind? accelerator, Placement placement)
    {
        string path = Path.Combine(directory, GpuNet.Engine.Checkpoints.Checkpoint.FileName);
        var (_, _, config, state) = GpuNet.Engine.Checkpoints.Checkpoint.Read(path);
        config = accelerator is { } kind ? config with { Accelerator = kind } : config;
        config.Validate();
        CheckArchitecture(config);
        if (state.Step >= config.Steps)
        {
            output.WriteLine($"{directory}: the run already finished its {config.Steps} steps; nothing to resume.");
            return 0;
        }

        if (state.StoppedEarlyAt > 0)
        {
            output.WriteLine($"{directory}: --early-stop ended the run at step {state.StoppedEarlyAt}; nothing to resume.");
            return 0;
        }

        return Train(output, interactive, config, directory, path, placement, force: false, resumedState: state);
    }

    /// <summary>
    /// One training run, as one process or as one rank of a data-parallel run: rank 0 prepares the run directory and
    /// reports; every rank opens its own device and trains its share. Under MPI, a failure on any rank aborts the job
    /// (MPI_Abort) so no rank waits forever for another; an agreed interrupt ends every rank with its exit code.
    /// </summary>
    private static int Train(
        TextWriter output, bool interactive, TrainConfig config, string directory, string? resumeFrom, Placement placement, bool force, TrainingState? resumedState = null)
    {
        using var communicator = Communicators.Open(placement.Mode);
        bool root = communicator.Rank == 0;

        // What every rank decides alike from its arguments and the rank count, before anything is allocated: rank 0
        // reports it (one line), then the job ends with exit 2 (LeaveTogether).
        try
        {
            if (resumedState is { } state)
            {
                CheckRanks(state, config, communicator.Size, directory, TextWriter.Null);
                config.CheckRanks(communicator.Size);
                CheckRanks(state, config, communicator.Size, directory, root ? output : TextWriter.Null);
            }

            config.CheckRanks(communicator.Size);
        }
        catch (ConfigurationException e) when (communicator.Size > 1)
        {
            // Every rank fails alike: rank 0 prints the one line, then all leave together (a rank leaving first with a
            // non-zero code would have mpirun end rank 0 before it printed).
            if (root)
            {
                Console.Error.WriteLine($"gpunet: {Program.OneLine(e.Message)}");
                Console.Error.Flush();
            }

            return LeaveTogether(communicator, Program.UsageError);
        }

        return RunOrAbort(communicator, () =>
        {
            // Steps every rank fails alike or not at all (the run directory is rank 0's alone): they fail together.
            var error = Console.Error;
            if (resumedState is null && Together(communicator, () => { if (root) { PrepareOutput(directory, force); } return directory; }, error, out int code) is null)
            {
                return LeaveTogether(communicator, code);
            }

            if (root && resumedState is { } resumed)
            {
                output.WriteLine($"resuming {directory} after step {resumed.Step} of {config.Steps}");
            }

            var data = Together(communicator, () => DataSets.Load(config.Dataset, config.DataDir, config.Folder(interactive && root ? ShowReading(output) : null)), error, out code);
            if (data is null)
            {
                return LeaveTogether(communicator, code);
            }

            if (root && config.Dataset == DatasetKind.Folder)
            {
                output.WriteLine($"image folder {config.DataDir}: {data.Train.Count} training and {data.Test.Count} test images of {data.SampleShape}, {data.Classes} classes ({string.Join(", ", data.ClassNames.Take(12))}{(data.Classes > 12 ? ", ..." : "")})");
            }
            using var device = Together(communicator, () => Device.Open(config.Accelerator, communicator.LocalRank), error, out code);
            if (device is null)
            {
                return LeaveTogether(communicator, code);
            }

            using var parallel = DataParallel.Create(communicator, device, placement.NcclPath);
            if (root && parallel.Size > 1)
            {
                string how = parallel.Method == Communication.Nccl
                    ? $"NCCL between CUDA devices ({parallel.NcclLibrary})"
                    : $"MPI through host memory{(parallel.FallbackReason is { } why ? $" (not NCCL: {why})" : "")}";
                output.WriteLine($"data parallel: {parallel.Size} ranks, each {config.BatchSize / parallel.Size} of the {config.BatchSize} images per step; gradients summed by {how}");
            }

            var progress = new ConsoleProgress(root ? output : TextWriter.Null, interactive && root);
            TrainResult result;
            using (var interrupt = new Interrupt(announce: communicator.Size == 1))
            {
                try
                {
                    var options = new TrainerOptions(interactive ? TimeSpan.FromSeconds(1) : null, parallel, () => interrupt.ExitCode);
                    result = Trainer.Run(config, data, device, directory, root ? progress : null, resumeFrom, options, interrupt.Token);
                }
                catch (TrainingInterruptedException e)
                {
                    progress.Finish();
                    if (root)
                    {
                        output.WriteLine(e.Message);
                        output.Flush();
                    }

                    // Every rank stopped after the same step and gets here.
                    return LeaveTogether(communicator, e.ExitCode);
                }
                finally
                {
                    progress.Finish();
                }
            }

            if (root)
            {
                var last = result.Rows[^1];
                string ranks = result.Ranks > 1 ? string.Create(CultureInfo.InvariantCulture, $" over {result.Ranks} ranks ({result.TrainImagesPerSecond / result.Ranks:F0} per rank)") : "";
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"final_test_accuracy {last.TestAccuracy:F4} (best {result.Rows.Max(r => r.TestAccuracy):F4}), test loss {last.TestLoss:F4} after {last.Step} steps " +
                    $"in {result.WallSeconds:F1} s ({result.TrainImagesPerSecond:F0} training images/s{ranks} on {DeviceSelector.Describe(device.Info.Kind)})"));
                if (result.StoppedEarlyAt > 0)
                {
                    output.WriteLine($"stopped early at step {result.StoppedEarlyAt}: no better {(config.ValSplit > 0 ? "validation" : "test")} accuracy in {config.EarlyStop} evaluations");
                }

                if (!double.IsNaN(result.Best.ValAccuracy) || config.Keep == KeepModel.Best)
                {
                    string kept = config.Keep == KeepModel.Best ? $"{RunFiles.BestModelFile} holds " : "";
                    string val = double.IsNaN(result.Best.ValAccuracy) ? "" : string.Create(CultureInfo.InvariantCulture, $"val_accuracy {result.Best.ValAccuracy:F4}, ");
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"best: {kept}step {result.BestStep} ({val}test_accuracy {result.Best.TestAccuracy:F4})"));
                }

                string best = config.Keep == KeepModel.Best ? $", {RunFiles.BestModelFile}" : "";
                output.WriteLine($"outputs: {Path.GetFullPath(directory)} ({RunFiles.MetricsFile}, {RunFiles.SummaryFile}, {RunFiles.CurvesFile}, {RunFiles.ModelFile}{best})");
            }

            return 0;
        });
    }

    /// <summary>
    /// Runs one rank's part of a job. When it throws on one rank of several, another rank may be waiting in a
    /// collective for this one, so the whole job is aborted with the error's exit code (2 for a usage error, else 1),
    /// its one line on <paramref name="error"/> first. The abort is made in an exception filter, so it comes before the
    /// stack unwinds through <paramref name="run"/>'s <c>using</c>s and <c>finally</c>s, that is before the disposals
    /// that could block (the device, NCCL's communicator); for every exception type, out-of-memory included. Only a
    /// <c>catch</c> inside that frees a half-built object and rethrows (a constructor's clean-up, as the training
    /// session's or the device's) runs first: it holds nothing queued on the device yet.
    /// </summary>
    internal static int RunOrAbort(ICommunicator communicator, Func<int> run, TextWriter? error = null)
    {
        try
        {
            return run();
        }
        catch (Exception e) when (communicator.Size > 1 && AbortJob(e, communicator, error ?? Console.Error))
        {
            // Not reached: the abort ends the process.
            throw;
        }
    }

    private static bool AbortJob(Exception e, ICommunicator communicator, TextWriter error)
    {
        int code = e is ConfigurationException ? Program.UsageError : Program.Failure;
        error.WriteLine($"gpunet (rank {communicator.Rank} of {communicator.Size}): {Program.OneLine(e.Message)}");
        communicator.Abort(code);
        return true;
    }

    /// <summary>
    /// Ends a job whose ranks have all agreed on <paramref name="exitCode"/>, once each has printed what it had to say
    /// (flushed, then a barrier): a non-zero code ends it through an abort with that code, Open MPI's own banner silenced
    /// (<see cref="MpiCommunicator.Abort"/>), since a rank returning it would have mpirun add its notice that a process
    /// exited non-zero. One process, or a code of 0, returns the code.
    /// </summary>
    private static int LeaveTogether(ICommunicator communicator, int exitCode)
    {
        if (communicator.Size > 1 && exitCode != 0)
        {
            Console.Out.Flush();
            Console.Error.Flush();
            communicator.Barrier();
            communicator.Abort(exitCode);
        }

        return exitCode;
    }

    /// <summary>
    /// A step every rank takes at the same point before training, with nothing collective inside; one collective then
    /// tells every rank whether any failed with an error GpuNet understands. If one did, every rank gets the largest
    /// exit code (2 for a usage error, else 1; the caller ends the job with it, <see cref="LeaveTogether"/>): an error
    /// every rank met alike is printed once, by rank 0, as one process prints it; otherwise each rank that failed prints
    /// its own line, prefixed with its rank. Returns the step's value, or null with <paramref name="exitCode"/> set (the
    /// value of a rank that succeeded is disposed). In one process the error is thrown as usual.
    /// </summary>
    internal static T? Together<T>(ICommunicator communicator, Func<T> step, TextWriter error, out int exitCode)
        where T : class
    {
        exitCode = 0;
        GpuNetException? failure = null;
        T? value = null;
        try
        {
            value = step();
        }
        catch (GpuNetException e) when (communicator.Size > 1)
        {
            failure = e;
        }

        if (communicator.Size == 1)
        {
            return value;
        }

        // Maxima of: the exit code, "some rank succeeded", and a hash of the failed ranks' lines taken two ways, whose
        // maxima add up to int.MaxValue exactly when every failed rank's line is the same.
        string line = failure is null ? "" : Program.OneLine(failure.Message);
        int hash = failure is null ? 0 : LineHash(line);
        Span<int> maxima = [failure is null ? 0 : failure is ConfigurationException ? Program.UsageError : Program.Failure, failure is null ? 1 : 0, hash, failure is null ? 0 : int.MaxValue - hash];
        communicator.AllReduceMax(maxima);
        if (maxima[0] == 0)
        {
            return value;
        }

        bool alike = maxima[1] == 0 && maxima[2] + maxima[3] == int.MaxValue;
        if (failure is not null && (!alike || communicator.Rank == 0))
        {
            error.WriteLine(alike ? $"gpunet: {line}" : $"gpunet (rank {communicator.Rank} of {communicator.Size}): {line}");
            error.Flush();
        }

        (value as IDisposable)?.Dispose();

        // Every rank leaves after the lines are out: a rank that exits first with a non-zero code has mpirun end the
        // others, perhaps before they print.
        communicator.Barrier();
        exitCode = maxima[0];
        return null;
    }

    /// <summary>FNV-1a of the line's characters, as a non-negative int.</summary>
    private static int LineHash(string line)
    {
        uint hash = 2166136261;
        foreach (char c in line)
        {
            hash = (hash ^ c) * 16777619;
        }

        return (int)(hash & int.MaxValue);
    }

    /// <summary>A checkpoint of an N-rank run resumes under another count only if the global batch still divides; it says so.</summary>
    private static void CheckRanks(TrainingState state, TrainConfig config, int ranks, string directory, TextWriter output)
    {
        if (state.Ranks == ranks)
        {
            return;
        }

        if (config.BatchSize % ranks != 0)
        {
            throw new ConfigurationException(
                $"{directory} was trained on {state.Ranks} rank(s) with a global batch of {config.BatchSize}, which does not divide by {ranks} ranks; resume with a rank count that divides {config.BatchSize}.");
        }

        output.WriteLine(
            $"resuming a {state.Ranks}-rank run on {ranks} rank(s): each now takes {config.BatchSize / ranks} of the {config.BatchSize} images per step, so the rest of the run will not equal the {state.Ranks}-rank run bit for bit.");
    }

    /// <summary>How a run is placed: one process or MPI, and NCCL's library.</summary>
    private sealed record Placement(DistributedMode Mode, string? NcclPath);

    /// <summary>Creates the run directory, refusing one that holds files unless forced, and checks it is writable.</summary>
    internal static void PrepareOutput(string directory, bool force)
    {
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any() && !force)
        {
            throw new GpuNetException($"{directory} already exists and is not empty; choose another --out or pass --force.");
        }

        try
        {
            Directory.CreateDirectory(directory);
            string probe = Path.Combine(directory, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GpuNetException($"{directory}: cannot write the run directory ({e.Message}).", e);
        }
    }
}
