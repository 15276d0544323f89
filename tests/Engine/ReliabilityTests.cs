using System.Runtime.InteropServices;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Engine;

/// <summary>Checkpoints, resume, interrupts, kills and divergence.</summary>
public sealed class ReliabilityTests
{
    private static readonly Lazy<string> DataDir = new(() => SyntheticData.WriteMnistLike(500, 100, seed: 11));
    private static readonly Lazy<Dataset> Data = new(() => DataSets.Load(DatasetKind.Mnist, DataDir.Value));

    private static IEnumerable<string> WithoutTime(IEnumerable<MetricsRow> rows) =>
        rows.Select(r => FormattableString.Invariant($"{r.Step},{r.TrainLoss:R},{r.TestLoss:R},{r.TestAccuracy:R},{r.ValLoss:R},{r.ValAccuracy:R}"));

    private static IEnumerable<string> MetricsOf(string dir) => WithoutTime(RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(dir, "metrics.csv"))));

    public static TheoryData<string> Configurations => new() { "sgd-momentum", "adam-batchnorm", "recipe", "validation", "early-stop" };

    // "early-stop": a learning rate too small to change any accuracy, so the run stops at step 20 (the best at step 5,
    // then 3 evaluations without a better one), after the interruption at step 14.
    private static TrainConfig Config(string name) => name == "early-stop"
        ? Config("sgd-momentum") with { LearningRate = 1e-12, EarlyStop = 3, EvalEvery = 5 }
        : name == "validation"
        ? Config("sgd-momentum") with { ValSplit = 0.25, Keep = KeepModel.Best, EarlyStop = 3, EvalEvery = 5 }
        : name == "recipe"
        ? new TrainConfig
        {
            Dataset = DatasetKind.Mnist,
            DataDir = DataDir.Value,
            Model = "mlp-deep",
            Hidden = [32, 16],
            Optimizer = OptimizerKind.Adam,
            LearningRate = 2e-3,
            Init = GpuNet.Engine.Layers.WeightInit.KaimingUniform,
            BatchSize = 40,
            Steps = 30,
            EvalEvery = 10,
            CheckpointEvery = 7,
            Accelerator = AcceleratorKind.Cpu,
            LrSchedule = GpuNet.Engine.Optim.LearningRateKind.Cosine,
            WarmupSteps = 5,
            Dropout = 0.3,
            LabelSmoothing = 0.1,
            Augment = [Augmentation.Flip, Augmentation.Crop],
            CropPadding = 2,
        }
        : name == "sgd-momentum"
        ? new TrainConfig { Dataset = DatasetKind.Mnist, DataDir = DataDir.Value, Hidden = [16], Momentum = 0.9, LearningRate = 1e-3, BatchSize = 40, Steps = 30, EvalEvery = 10, CheckpointEvery = 7, Accelerator = AcceleratorKind.Cpu }
        : new TrainConfig { Dataset = DatasetKind.Mnist, DataDir = DataDir.Value, Hidden = [16, 8], BatchNorm = true, Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, Init = GpuNet.Engine.Layers.WeightInit.KaimingUniform, BatchSize = 40, Steps = 30, EvalEvery = 10, CheckpointEvery = 7, Accelerator = AcceleratorKind.Cpu };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void AnInterruptedAndResumedRunEqualsTheUninterruptedOneBitForBit(string name)
    {
        var config = Config(name);
        using var device = Device.Open(AcceleratorKind.Cpu);
        string whole = SyntheticData.NewDirectory(), split = SyntheticData.NewDirectory();
        Trainer.Run(config, Data.Value, device, whole);

        // Stop after step 13 (crossing the epoch boundary at step 12 and between checkpoints), then resume.
        using var source = new CancellationTokenSource();
        var stopped = Assert.Throws<TrainingInterruptedException>(() => Trainer.Run(config, Data.Value, device, split, new CancelAt(13, source), cancel: source.Token));
        Assert.Contains("Interrupted after step 14", stopped.Message, StringComparison.Ordinal);
        Assert.Equal(14, Checkpoint.Read(Path.Combine(split, Checkpoint.FileName)).State.Step);
        Trainer.Run(config, Data.Value, device, split, resumeFrom: Path.Combine(split, Checkpoint.FileName));

        Assert.Equal(MetricsOf(whole), MetricsOf(split));
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "model.safetensors")), File.ReadAllBytes(Path.Combine(split, "model.safetensors")));
        Assert.Equal(config.Keep == KeepModel.Best, File.Exists(Path.Combine(split, RunFiles.BestModelFile)));
        if (config.Keep == KeepModel.Best)
        {
            // The best model and the validation columns survive the resume exactly.
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, RunFiles.BestModelFile)), File.ReadAllBytes(Path.Combine(split, RunFiles.BestModelFile)));
            Assert.Contains("val_accuracy", File.ReadAllText(Path.Combine(split, RunFiles.MetricsFile)), StringComparison.Ordinal);
        }

        if (config.EarlyStop > 0)
        {
            Assert.Equal(config.LearningRate < 1e-9 ? 20 : 0, Checkpoint.Read(Path.Combine(split, Checkpoint.FileName)).State.StoppedEarlyAt);
            string Kept(string dir) => string.Join(",", new[] { "best_step", "stopped_early_at" }.Select(k => System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, RunFiles.SummaryFile))).RootElement.GetProperty(k).ToString()));
            Assert.Equal(Kept(whole), Kept(split));
        }
    }

    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public void ASignalAfterACheckpointStopsWritesACheckpointAndExitsThenResumeFinishes(string signal, int exitCode)
    {
        // 1000 steps leave the signal, sent once the checkpoint of step 10 exists, far more steps than it needs to land.
        string dir = Path.Combine(SyntheticData.NewDirectory(), "run");
        string[] args = ["train", "--dataset", "mnist", "--data-dir", DataDir.Value, "--hidden", "16", "--batch-size", "20", "--steps", "1000", "--eval-every", "500", "--checkpoint-every", "10", "--accelerator", "cpu", "--out", dir];
        int seen;
        using (var run = new GpunetProcess(args))
        {
            seen = run.WaitForCheckpoint(dir, 10);
            run.Signal(signal);
            int code = run.WaitForExit();
            Assert.True(code == exitCode, $"exit {code} after SIG{signal}, {exitCode} expected: {run.Output}");
            var stopped = System.Text.RegularExpressions.Regex.Match(run.Output, @"Interrupted after step (\d+)");
            Assert.True(stopped.Success, run.Output);
            var state = Checkpoint.Read(Path.Combine(dir, Checkpoint.FileName)).State;
            Assert.Equal(int.Parse(stopped.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), state.Step);
            Assert.InRange(state.Step, seen, 999);
        }

        int step = Checkpoint.Read(Path.Combine(dir, Checkpoint.FileName)).State.Step;
        using var resumed = new GpunetProcess("train", "--resume", dir, "--accelerator", "cpu");
        Assert.True(resumed.WaitForExit() == 0, resumed.Output);
        Assert.Contains($"resuming {dir} after step {step}", resumed.Output, StringComparison.Ordinal);
        Assert.Equal([500, 1000], RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(dir, "metrics.csv"))).Select(r => r.Step));
    }

    [Theory]
    [InlineData(PosixSignal.SIGINT, 130)]
    [InlineData(PosixSignal.SIGTERM, 143)]
    public void TheFirstSignalRequestsAStopAndASecondExitsAtOnce(PosixSignal first, int firstCode)
    {
        foreach (var (second, secondCode) in new[] { (PosixSignal.SIGINT, 130), (PosixSignal.SIGTERM, 143) })
        {
            var exits = new List<int>();
            using var messages = new StringWriter();
            using var interrupt = new GpuNet.Cli.Interrupt(exits.Add, messages);
            Assert.False(interrupt.Token.IsCancellationRequested);

            var context = new PosixSignalContext(first);
            interrupt.Handle(context);
            Assert.True(context.Cancel, "the first signal must not end the process");
            Assert.True(interrupt.Token.IsCancellationRequested);
            Assert.Equal(firstCode, interrupt.ExitCode);
            Assert.Empty(exits);
            Assert.Contains("again to exit at once", messages.ToString(), StringComparison.Ordinal);

            interrupt.Handle(new PosixSignalContext(second));
            Assert.Equal([secondCode], exits);
            Assert.Equal(firstCode, interrupt.ExitCode);
        }
    }

    /// <summary>
    /// A rank of several (announce off) takes a signal as a stop request in silence: it may be mpirun ending the job
    /// because another rank failed, and rank 0 reports an agreed stop when it happens.
    /// </summary>
    [Theory]
    [InlineData(PosixSignal.SIGINT, 130)]
    [InlineData(PosixSignal.SIGTERM, 143)]
    public void ARankOfSeveralTakesASignalInSilence(PosixSignal signal, int code)
    {
        var exits = new List<int>();
        using var messages = new StringWriter();
        using var interrupt = new GpuNet.Cli.Interrupt(exits.Add, messages, announce: false);
        var context = new PosixSignalContext(signal);
        interrupt.Handle(context);
        Assert.True(context.Cancel);
        Assert.True(interrupt.Token.IsCancellationRequested);
        Assert.Equal(code, interrupt.ExitCode);
        Assert.Empty(exits);
        Assert.Equal("", messages.ToString());
    }

    /// <summary>A stop requested for the last step is no stop: the run is whole and writes its model and summary.</summary>
    [Fact]
    public void AStopRequestedAtTheLastStepFinishesTheRun()
    {
        string dir = SyntheticData.NewDirectory();
        var config = new TrainConfig { Dataset = DatasetKind.Mnist, DataDir = DataDir.Value, Hidden = [8], BatchSize = 20, Steps = 6, EvalEvery = 3, Accelerator = AcceleratorKind.Cpu };
        using var device = Device.Open(AcceleratorKind.Cpu);
        using var cancel = new CancellationTokenSource();
        var result = Trainer.Run(config, Data.Value, device, dir, new CancelAt(config.Steps - 1, cancel), cancel: cancel.Token);
        Assert.True(cancel.IsCancellationRequested);
        Assert.Equal(config.Steps, result.Rows[^1].Step);
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(dir, "summary.json")));
    }

    [Fact]
    public void SigkillAtRandomStepsAlwaysLeavesAReadableCheckpointThatResumes()
    {
        // Each run is killed once its checkpoint reaches a random step past the last one (a checkpoint every step, so
        // the kill falls anywhere in a step or a write); 400 steps leave far more room than the six kills take.
        string dir = Path.Combine(SyntheticData.NewDirectory(), "run");
        string checkpoint = Path.Combine(dir, Checkpoint.FileName);
        string[] fresh = ["train", "--dataset", "mnist", "--data-dir", DataDir.Value, "--hidden", "64", "--batch-size", "20", "--steps", "400", "--eval-every", "200", "--checkpoint-every", "1", "--accelerator", "cpu", "--out", dir, "--force"];
        var random = new Random(12);
        int step = 0;
        for (int attempt = 0; attempt < 6; attempt++)
        {
            using var run = attempt == 0 ? new GpunetProcess(fresh) : new GpunetProcess("train", "--resume", dir, "--accelerator", "cpu");
            int target = step + random.Next(1, 20);
            int seen = run.WaitForCheckpoint(dir, target);
            run.Kill();
            int code = run.WaitForExit();
            Assert.True(code == 137, $"attempt {attempt}: exit {code}, not the kill's 137: {run.Output}");
            step = Checkpoint.Read(checkpoint).State.Step; // throws if torn
            Assert.InRange(step, seen, 399);
        }

        using var last = new GpunetProcess("train", "--resume", dir, "--accelerator", "cpu");
        Assert.True(last.WaitForExit() == 0, last.Output);
        Assert.Contains($"resuming {dir} after step {step}", last.Output, StringComparison.Ordinal);
        Assert.Equal(400, Checkpoint.Read(checkpoint).State.Step);
        Assert.Equal([200, 400], RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(dir, "metrics.csv"))).Select(r => r.Step));
    }

    [Fact]
    public void AHugeLearningRateStopsWithTheStepAndLayerAndKeepsTheLastGoodCheckpoint()
    {
        string dir = SyntheticData.NewDirectory();
        var config = Config("sgd-momentum") with { LearningRate = 1e6, Momentum = 0, CheckpointEvery = 1, Init = GpuNet.Engine.Layers.WeightInit.KaimingUniform };
        using var device = Device.Open(AcceleratorKind.Cpu);
        var error = Assert.Throws<DivergenceException>(() => Trainer.Run(config, Data.Value, device, dir));
        Assert.Matches(@"^Divergence at step (\d+): the batch loss is ", error.Message);
        int step = int.Parse(System.Text.RegularExpressions.Regex.Match(error.Message, @"step (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.DoesNotContain('\n', error.Message);
        if (step > 1)
        {
            Assert.Contains("last good checkpoint", error.Message, StringComparison.Ordinal);
            var kept = Checkpoint.Read(Path.Combine(dir, Checkpoint.FileName));
            Assert.Equal(step - 1, kept.State.Step);
        }

        using var output = new StringWriter();
        using var stderr = new StringWriter();
        int code = GpuNet.Cli.Program.Run(
            ["train", "--dataset", "mnist", "--data-dir", DataDir.Value, "--lr", "1e6", "--init", "kaiming-uniform", "--batch-size", "40", "--steps", "30", "--accelerator", "cpu", "--out", Path.Combine(dir, "cli")], output, stderr);
        Assert.Equal(GpuNet.Cli.Program.Failure, code);
        Assert.StartsWith("gpunet: Divergence at step", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void OnNanSkipSkipsDivergentStepsAndFinishes()
    {
        string dir = SyntheticData.NewDirectory();
        var config = Config("sgd-momentum") with { LearningRate = 1e6, Momentum = 0, OnNan = NanPolicy.Skip, Init = GpuNet.Engine.Layers.WeightInit.KaimingUniform };
        using var device = Device.Open(AcceleratorKind.Cpu);
        var result = Trainer.Run(config, Data.Value, device, dir);
        Assert.True(result.SkippedSteps > 0);
        Assert.Contains("\"skipped_steps\"", File.ReadAllText(Path.Combine(dir, "summary.json")), StringComparison.Ordinal);
    }

    [Fact]
    public void ResumeRejectsChangedSettingsAndModelFiles()
    {
        string dir = SyntheticData.NewDirectory();
        using var device = Device.Open(AcceleratorKind.Cpu);
        Trainer.Run(Config("sgd-momentum") with { Steps = 10 }, Data.Value, device, dir);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(GpuNet.Cli.Program.UsageError, GpuNet.Cli.Program.Run(["train", "--resume", dir, "--lr", "0.1"], output, error));
        Assert.Contains("--lr", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, GpuNet.Cli.Program.Run(["train", "--resume", dir, "--accelerator", "cpu"], output, error));
        Assert.Contains("nothing to resume", output.ToString(), StringComparison.Ordinal);
        File.Copy(Path.Combine(dir, "model.safetensors"), Path.Combine(dir, Checkpoint.FileName), overwrite: true);
        Assert.Equal(GpuNet.Cli.Program.Failure, GpuNet.Cli.Program.Run(["train", "--resume", dir], output, error));
        Assert.Contains("not a checkpoint", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ACheckpointForAnotherModelIsRejectedNamingTheTensor() => Support.Accelerators.Run("cpu", (kernels, _) =>
    {
        string dir = SyntheticData.NewDirectory();
        using var device = Device.Open(AcceleratorKind.Cpu);
        Trainer.Run(Config("sgd-momentum") with { Steps = 5 }, Data.Value, device, dir);
        var (info, tensors) = ModelFile.Read(Path.Combine(dir, "model.safetensors"));
        using var other = GpuNet.Engine.Models.ModelSpec.Builtin(BuiltinModel.Mlp, info.Spec.InputShape, info.Spec.Classes, [17], false, info.Spec.Init).Build(kernels, 4, seed: 1);
        var error = Assert.Throws<CheckpointException>(() => ModelFile.Apply(other, tensors, "model.safetensors"));
        Assert.Contains("'0.weight'", error.Message, StringComparison.Ordinal);
        Assert.Contains("[17, 784]", error.Message, StringComparison.Ordinal);
    });
}
