using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Runtime.InteropServices;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;

namespace GpuNet.Cli;

/// <summary>gpunet train: parses the options into a <see cref="TrainConfig"/> and runs the trainer.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter output, bool interactive)
    {
        var model = new Option<string>("--model") { Description = "mlp (the reference MLP), mlp-deep (the tuned MLP), vgg (the ConvNet), or a model file (NAME.json; see 'gpunet models').", DefaultValueFactory = _ => "mlp" };
        model.CompletionSources.Add([.. Choices.Models]);
        var dataset = new Option<string>("--dataset") { Description = "fashion-mnist (embedded), mnist or cifar10 (from --data-dir).", DefaultValueFactory = _ => "fashion-mnist" };
        dataset.AcceptOnlyFromAmong([.. Choices.Datasets]);
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory holding the data set's files (IDX or CIFAR-10 binary)." };
        var hidden = new Option<int[]?>("--hidden") { Description = "Hidden layer widths, comma-separated (mlp: 100; mlp-deep: 512,512,256,128,64).", CustomParser = ParseWidths };
        var optimizer = new Option<string?>("--optimizer") { Description = "sgd or adam (mlp: sgd; mlp-deep and vgg: adam)." };
        optimizer.AcceptOnlyFromAmong([.. Choices.Optimizers]);
        var lr = new Option<double?>("--lr") { Description = "Learning rate (mlp: 2e-3; mlp-deep: 2e-4; vgg: 1e-4)." };
        var momentum = new Option<double?>("--momentum") { Description = "SGD momentum (default 0)." };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "L2 weight decay (default 0)." };
        var batchSize = new Option<int?>("--batch-size") { Description = "Batch size (mlp: 200; mlp-deep: 400; vgg: 32)." };
        var steps = new Option<int?>("--steps") { Description = "Training steps (mlp: 1500; mlp-deep: 4000; vgg: 5000)." };
        var evalEvery = new Option<int?>("--eval-every") { Description = "Evaluate on the whole test set every N steps and at the end (mlp: 100; vgg: 500)." };
        var width = new Option<double?>("--width") { Description = "VGG: multiply every layer's channel count by F (at least 1 channel); 1 is the reference ConvNet." };
        var batchNorm = new Option<bool>("--batch-norm") { Description = "MLP: BatchNorm after each hidden Linear (Linear -> BatchNorm -> ReLU)." };
        var init = new Option<string?>("--init") { Description = "Weight init: small-normal (N(0, 1e-4^2), the reference MLP's) or kaiming-uniform (PyTorch's default; mlp-deep and vgg)." };
        init.AcceptOnlyFromAmong([.. Choices.Of<WeightInit>()]);
        var normalize = new Option<string?>("--normalize") { Description = "none (subtract the mean image, keep the 0..255 scale; mlp and mlp-deep) or standard (per-channel mean/std; vgg)." };
        normalize.AcceptOnlyFromAmong([.. Choices.Of<Normalization>()]);
        var seed = new Option<int>("--seed") { Description = "Seed of initialization and data order.", DefaultValueFactory = _ => 42 };
        var precision = new Option<string>("--precision")
        {
            Description = "GEMM arithmetic: fp32 (default) or tf32 (operands rounded to TF32, fp32 sums: tensor cores on CUDA, the same numerics emulated elsewhere).",
            DefaultValueFactory = _ => "fp32",
        };
        precision.AcceptOnlyFromAmong([.. Choices.Of<GpuNet.Kernels.GemmPrecision>()]);
        var accelerator = Program.AcceleratorOption();
        var outDir = new Option<string?>("--out") { Description = "Run directory (default runs/<timestamp>-<model>)." };
        var force = new Option<bool>("--force") { Description = "Write into --out even if it already holds files." };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Write checkpoint.safetensors every N steps (default: at every evaluation), and always at the end and on an interrupt." };
        var onNan = new Option<string>("--on-nan") { Description = "On a non-finite loss or gradient: stop (default; keeps the last good checkpoint) or skip the step.", DefaultValueFactory = _ => "stop" };
        onNan.AcceptOnlyFromAmong([.. Choices.Of<NanPolicy>()]);
        var lrSchedule = new Option<string?>("--lr-schedule") { Description = "constant (default), cosine (half a cosine to 0 over the steps after warm-up) or step (times --lr-step-factor every --lr-step-every steps)." };
        lrSchedule.AcceptOnlyFromAmong([.. Choices.Of<GpuNet.Engine.Optim.LearningRateKind>()]);
        var warmup = new Option<int?>("--warmup-steps") { Description = "Raise the learning rate linearly from 0 over the first N steps (default 0)." };
        var lrStepEvery = new Option<int?>("--lr-step-every") { Description = "step schedule: steps between decays (default 1000)." };
        var lrStepFactor = new Option<double?>("--lr-step-factor") { Description = "step schedule: the factor of each decay (default 0.1)." };
        var augment = new Option<string?>("--augment") { Description = "Training-image augmentation on the device: flip (mirror, p = 0.5), crop (zero-pad, random crop back), or flip,crop. Off by default; never at evaluation." };
        var cropPadding = new Option<int?>("--crop-padding") { Description = "crop augmentation: zero padding of 2 or 4 pixels (default 4)." };
        var dropout = new Option<double?>("--dropout") { Description = "mlp, mlp-deep: inverted dropout with probability P after each hidden ReLU (default 0: none)." };
        var labelSmoothing = new Option<double?>("--label-smoothing") { Description = "Label smoothing E of the training loss, as PyTorch's CrossEntropyLoss(label_smoothing=E) (default 0); the test loss stays plain cross-entropy." };
        var distributed = new Option<string>("--distributed")
        {
            Description = "auto (MPI when started by mpirun or a scheduler's MPI launcher with several processes; else one process), none or mpi.",
            DefaultValueFactory = _ => "auto",
        };
        distributed.AcceptOnlyFromAmong([.. Choices.Of<DistributedMode>()]);
        var nccl = new Option<string?>("--nccl") { Description = "libnccl.so.2 to all-reduce gradients between CUDA devices (default: GPUNET_NCCL, the loader's path, Python's site-packages)." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in DIR from its checkpoint.safetensors (its configuration is the checkpoint's; --accelerator may change)." };

        var command = new Command("train", "Train a model and write metrics.csv, summary.json, curves.png and model.safetensors.")
        {
            model, dataset, dataDir, hidden, width, optimizer, lr, momentum, weightDecay, batchSize, steps, evalEvery, batchNorm, init,
            normalize, lrSchedule, warmup, lrStepEvery, lrStepFactor, augment, cropPadding, dropout, labelSmoothing, seed, precision, accelerator,
            outDir, force, checkpointEvery, onNan, distributed, nccl, resume, Program.VerboseOption(),
        };
        command.SetAction(parse =>
        {
            var placement = new Placement(
                Choices.Parse<DistributedMode>(parse.GetValue(distributed)!),
                parse.GetValue(nccl));
            if (parse.GetValue(resume) is { } resumeDir)
            {
                var others = parse.CommandResult.Children.OfType<OptionResult>()
                    .Where(o => !o.Implicit && o.Option != resume && o.Option != accelerator && o.Option != distributed && o.Option != nccl && o.Option.Name != "--verbose")
                    .Select(o => o.Option.Name).ToList();
                if (others.Count > 0)
                {
                    throw new ConfigurationException($"--resume takes the checkpoint's configuration; {string.Join(", ", others)} cannot be changed (only --accelerator).");
                }

                return Resume(output, interactive, resumeDir, parse.GetResult(accelerator) is { Implicit: false } ? Program.ParseAccelerator(parse.GetValue(accelerator)) : null, placement);
            }

            string modelName = parse.GetValue(model)!;
            var defaults = TrainConfig.ForModel(modelName);
            var config = defaults with
            {
                Dataset = parse.GetValue(dataset)!,
                DataDir = parse.GetValue(dataDir),
                Hidden = parse.GetResult(hidden) is null ? defaults.Hidden : parse.GetValue(hidden)!,
                Optimizer = parse.GetValue(optimizer) ?? defaults.Optimizer,
                LearningRate = parse.GetValue(lr) ?? defaults.LearningRate,
                Momentum = parse.GetValue(momentum) ?? defaults.Momentum,
                WeightDecay = parse.GetValue(weightDecay) ?? defaults.WeightDecay,
                BatchSize = parse.GetValue(batchSize) ?? defaults.BatchSize,
                Steps = parse.GetValue(steps) ?? defaults.Steps,
                EvalEvery = parse.GetValue(evalEvery) ?? defaults.EvalEvery,
                BatchNorm = parse.GetValue(batchNorm),
                Width = parse.GetValue(width) ?? defaults.Width,
                Init = parse.GetValue(init) is { } initName ? Choices.Parse<WeightInit>(initName) : defaults.Init,
                Normalize = parse.GetValue(normalize) is { } normalizeName ? Choices.Parse<Normalization>(normalizeName) : defaults.Normalize,
                Seed = parse.GetValue(seed),
                Precision = Choices.Parse<GpuNet.Kernels.GemmPrecision>(parse.GetValue(precision)!),
                Accelerator = Program.ParseAccelerator(parse.GetValue(accelerator)),
                CheckpointEvery = parse.GetValue(checkpointEvery) ?? parse.GetValue(evalEvery) ?? defaults.EvalEvery,
                OnNan = Choices.Parse<NanPolicy>(parse.GetValue(onNan)!),
                LrSchedule = parse.GetValue(lrSchedule) is { } scheduleName ? Choices.Parse<GpuNet.Engine.Optim.LearningRateKind>(scheduleName) : defaults.LrSchedule,
                WarmupSteps = parse.GetValue(warmup) ?? defaults.WarmupSteps,
                LrStepEvery = parse.GetValue(lrStepEvery) ?? defaults.LrStepEvery,
                LrStepFactor = parse.GetValue(lrStepFactor) ?? defaults.LrStepFactor,
                Augment = ParseAugment(parse.GetValue(augment)),
                CropPadding = parse.GetValue(cropPadding) ?? defaults.CropPadding,
                Dropout = parse.GetValue(dropout) ?? defaults.Dropout,
                LabelSmoothing = parse.GetValue(labelSmoothing) ?? defaults.LabelSmoothing,
            };
            if (parse.GetResult(cropPadding) is not null && !config.Augment.Contains(Augmentation.Crop))
            {
                throw new ConfigurationException("--crop-padding applies with --augment crop.");
            }

            if ((parse.GetResult(lrStepEvery) is not null || parse.GetResult(lrStepFactor) is not null) && config.LrSchedule != GpuNet.Engine.Optim.LearningRateKind.Step)
            {
                throw new ConfigurationException("--lr-step-every and --lr-step-factor apply with --lr-schedule step.");
            }

            if (config.Network is null && config.Model != "mlp" && config.Model != "mlp-deep" && parse.GetResult(hidden) is not null)
            {
                throw new ConfigurationException("--hidden applies to mlp and mlp-deep only.");
            }

            if (config.Network is null && config.Model != "vgg" && parse.GetResult(width) is not null)
            {
                throw new ConfigurationException("--width applies to vgg only.");
            }

            config.Validate();

            string directory = parse.GetValue(outDir) ?? Path.Combine("runs", $"{DateTime.Now:yyyyMMdd-HHmmss}-{config.Model}");
            return Train(output, interactive, config, directory, resumeFrom: null, placement, force: parse.GetValue(force));
        });
        return command;
    }

    private static int Resume(TextWriter output, bool interactive, string directory, AcceleratorKind? accelerator, Placement placement)
    {
        string path = Path.Combine(directory, GpuNet.Engine.Checkpoints.Checkpoint.FileName);
        var (_, _, config, state) = GpuNet.Engine.Checkpoints.Checkpoint.Read(path);
        config = accelerator is { } kind ? config with { Accelerator = kind } : config;
        config.Validate();
        if (state.Step >= config.Steps)
        {
            output.WriteLine($"{directory}: the run already finished its {config.Steps} steps; nothing to resume.");
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
        try
        {
            if (resumedState is { } state)
            {
                CheckRanks(state, config, communicator.Size, directory, root ? output : TextWriter.Null);
            }
            else
            {
                PrepareOutputOnRoot(directory, force, communicator);
            }

            if (root && resumedState is { } resumed)
            {
                output.WriteLine($"resuming {directory} after step {resumed.Step} of {config.Steps}");
            }

            var data = DataSets.Load(config.Dataset, config.DataDir);
            using var device = Device.Open(config.Accelerator, communicator.LocalRank);
            using var parallel = DataParallel.Create(communicator, device, placement.NcclPath);
            if (root && parallel.Size > 1)
            {
                string how = parallel.Method == "nccl"
                    ? $"NCCL between CUDA devices ({parallel.NcclLibrary})"
                    : $"MPI through host memory{(parallel.FallbackReason is { } why ? $" (not NCCL: {why})" : "")}";
                output.WriteLine($"data parallel: {parallel.Size} ranks, each {config.BatchSize / parallel.Size} of the {config.BatchSize} images per step; gradients summed by {how}");
            }

            var progress = new ConsoleProgress(root ? output : TextWriter.Null, interactive && root);
            TrainResult result;
            using (var interrupt = new Interrupt())
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
                    }

                    return e.ExitCode;
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
                    $"final_test_accuracy {last.TestAccuracy:F4} (best {result.Rows.Max(r => r.TestAccuracy):F4}), test loss {last.TestLoss:F4} after {config.Steps} steps " +
                    $"in {result.WallSeconds:F1} s ({result.TrainImagesPerSecond:F0} training images/s{ranks} on {DeviceSelector.Describe(device.Info.Kind)})"));
                output.WriteLine($"outputs: {Path.GetFullPath(directory)} ({RunFiles.MetricsFile}, {RunFiles.SummaryFile}, {RunFiles.CurvesFile}, {RunFiles.ModelFile})");
            }

            return 0;
        }
        catch (Exception e) when (communicator.Size > 1 && e is not OutOfMemoryException)
        {
            // Another rank may be waiting in a collective for this one: end the whole job, with this error's exit code.
            int code = e is ConfigurationException ? Program.UsageError : Program.Failure;
            Console.Error.WriteLine($"gpunet (rank {communicator.Rank} of {communicator.Size}): {Program.OneLine(e.Message)}");
            communicator.Abort(code);
            throw;
        }
    }

    /// <summary>Rank 0 creates and checks the run directory; every rank learns whether it could, so all stop together.</summary>
    private static void PrepareOutputOnRoot(string directory, bool force, ICommunicator communicator)
    {
        Exception? failure = null;
        if (communicator.Rank == 0)
        {
            try
            {
                PrepareOutput(directory, force);
            }
            catch (GpuNetException e)
            {
                failure = e;
            }
        }

        Span<int> failed = [failure is null ? 0 : 1];
        communicator.AllReduceMax(failed);
        if (failure is not null)
        {
            throw failure;
        }

        if (failed[0] != 0)
        {
            throw new GpuNetException($"{directory}: rank 0 could not prepare the run directory.");
        }
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

    /// <summary>--augment flip, crop or flip,crop (in any order).</summary>
    internal static Augmentation[] ParseAugment(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }

        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var result = new List<Augmentation>();
        foreach (string part in parts)
        {
            var augmentation = Choices.Of<Augmentation>().Contains(part)
                ? Choices.Parse<Augmentation>(part)
                : throw new ConfigurationException($"--augment takes {string.Join(", ", Choices.Of<Augmentation>())} or several comma-separated; '{part}' is not one of them.");
            if (!result.Contains(augmentation))
            {
                result.Add(augmentation);
            }
        }

        return [.. result];
    }

    private static int[]? ParseWidths(ArgumentResult result)
    {
        var text = string.Join(",", result.Tokens.Select(t => t.Value));
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out widths[i]) || widths[i] < 1)
            {
                result.AddError($"--hidden takes positive integers separated by commas, got '{text}'.");
                return null;
            }
        }

        return widths;
    }
}

/// <summary>Progress on the console: a live line on a terminal, plain lines at each evaluation otherwise.</summary>
internal sealed class ConsoleProgress(TextWriter output, bool interactive) : ITrainingObserver
{
    private MetricsRow? last;
    private long lastDraw;
    private bool lineOpen;

    public void Started(TrainConfig config, string accelerator, long parameters, long deviceBytes, int firstStep) =>
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"training {config.Model} ({parameters:N0} parameters) on {config.Dataset} with {accelerator}{(firstStep > 1 ? $" from step {firstStep}" : "")}; device memory held: {DeviceMemoryException.Format(deviceBytes)}"));

    public void Skipped(int step, string reason)
    {
        if (lineOpen)
        {
            output.WriteLine();
            lineOpen = false;
        }

        output.WriteLine($"{reason}; skipped (--on-nan skip)");
    }

    public void Step(int step, int steps, double imagesPerSecond, double elapsedSeconds)
    {
        if (!interactive)
        {
            return;
        }

        long now = Environment.TickCount64;
        if (now - lastDraw < 250 && step != steps)
        {
            return;
        }

        lastDraw = now;
        double eta = step > 0 ? elapsedSeconds / step * (steps - step) : 0;
        string metrics = last is null ? "" : string.Create(CultureInfo.InvariantCulture, $"  loss {last.TrainLoss:F4}  test acc {last.TestAccuracy:F4}");
        output.Write(string.Create(
            CultureInfo.InvariantCulture,
            $"\rstep {step}/{steps}{metrics}  {imagesPerSecond:F0} img/s  ETA {TimeSpan.FromSeconds(Math.Round(eta)):hh\\:mm\\:ss}   "));
        lineOpen = true;
    }

    public void Evaluated(MetricsRow row, int steps)
    {
        last = row;
        if (lineOpen)
        {
            output.WriteLine();
            lineOpen = false;
        }

        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"step {row.Step,6}/{steps}  train loss {row.TrainLoss:F4}  test loss {row.TestLoss:F4}  test accuracy {row.TestAccuracy:F4}  {row.ElapsedSeconds:F1} s"));
    }

    public void Finish()
    {
        if (lineOpen)
        {
            output.WriteLine();
        }
    }
}

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM: the first asks training to stop after the current step and write a checkpoint (exit
/// 130 or 143); a second exits at once.
/// </summary>
internal sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource source = new();
    private readonly Action<int> exit;
    private readonly TextWriter error;
    private readonly PosixSignalRegistration[] registrations;

    /// <summary>Handles SIGINT and SIGTERM sent to this process; a second signal ends it with <see cref="Environment.Exit"/>.</summary>
    public Interrupt()
        : this(Environment.Exit, Console.Error)
    {
        registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    /// <summary>Registers no handler: signals come only through <see cref="Handle"/>, and a second one calls <paramref name="exit"/>.</summary>
    internal Interrupt(Action<int> exit, TextWriter error)
    {
        this.exit = exit;
        this.error = error;
        registrations = [];
    }

    public CancellationToken Token => source.Token;

    /// <summary>130 after SIGINT, 143 after SIGTERM (128 + the signal number, as shells report).</summary>
    public int ExitCode { get; private set; } = 130;

    public void Dispose()
    {
        foreach (var registration in registrations)
        {
            registration.Dispose();
        }

        source.Dispose();
    }

    /// <summary>
    /// The first signal cancels <see cref="Token"/>, remembers its exit code and keeps the process alive
    /// (<see cref="PosixSignalContext.Cancel"/>); a second one exits at once with its own code.
    /// </summary>
    internal void Handle(PosixSignalContext context)
    {
        int code = context.Signal == PosixSignal.SIGTERM ? 143 : 130;
        if (source.IsCancellationRequested)
        {
            exit(code);
            return;
        }

        context.Cancel = true;
        ExitCode = code;
        error.WriteLine($"gpunet: stopping after the current step and writing a checkpoint ({(code == 130 ? "Ctrl-C" : "SIGTERM")} again to exit at once)");
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run already ended (another data-parallel rank's request stopped it) while this signal was on its way.
        }
    }
}
