using System.Globalization;
using System.Text.Json;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Distributed;

/// <summary>
/// gpunet train under mpirun on the CPU accelerator: N ranks train what one process trains (the same images per step,
/// gradients summed), repeat themselves exactly, survive a killed rank without hanging, stop together on SIGTERM with
/// one checkpoint and resume it exactly. Skipped with the reason when Open MPI is absent.
/// </summary>
public sealed class TrainingOverMpiTests(ITestOutputHelper log)
{
    private static string Out() => Path.Combine(SyntheticData.NewDirectory(), "run");

    private static (int Code, string Output) Single(params string[] args)
    {
        var (code, output, error) = Support.Cli.Run(["train", "--accelerator", "cpu", .. args]);
        return (code, output + error);
    }

    private (int Code, string Output) Ranks(int ranks, params string[] args)
    {
        using var run = MpiRun.Gpunet(ranks, ["train", "--accelerator", "cpu", .. args]);
        int code = run.WaitForExit();
        log.WriteLine($"mpirun -np {ranks} gpunet train {string.Join(' ', args)}: exit {code}\n{run.Output}");
        return (code, run.Output);
    }

    private static IReadOnlyList<MetricsRow> Metrics(string dir) => RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(dir, "metrics.csv")));

    private static List<string> Exact(string dir) =>
        Metrics(dir).Select(r => FormattableString.Invariant($"{r.Step},{r.TrainLoss:R},{r.TestLoss:R},{r.TestAccuracy:R}")).ToList();

    private static void AssertClose(IReadOnlyList<MetricsRow> one, IReadOnlyList<MetricsRow> many, double accuracyTolerance, string what)
    {
        Assert.Equal(one.Select(r => r.Step), many.Select(r => r.Step));
        for (int i = 0; i < one.Count; i++)
        {
            var (a, b) = (one[i], many[i]);
            string row = $"{what} step {a.Step}: one process {a.TrainLoss}/{a.TestLoss}/{a.TestAccuracy}, ranks {b.TrainLoss}/{b.TestLoss}/{b.TestAccuracy}";
            Assert.True(Math.Abs(a.TrainLoss - b.TrainLoss) <= 1e-3 * Math.Abs(a.TrainLoss), row);
            Assert.True(Math.Abs(a.TestLoss - b.TestLoss) <= 1e-3 * Math.Abs(a.TestLoss), row);
            Assert.True(Math.Abs(a.TestAccuracy - b.TestAccuracy) <= accuracyTolerance, row);
        }
    }

    [Fact]
    public void TwoRanksTrainWhatOneProcessTrainsAndRepeatExactly()
    {
        MpiRun.SkipUnlessOpenMpi();
        string[] args = ["--steps", "200", "--eval-every", "100"];
        string one = Out(), twoA = Out(), twoB = Out();
        Assert.Equal(0, Single([.. args, "--out", one]).Code);
        var (code, output) = Ranks(2, [.. args, "--out", twoA]);
        Assert.True(code == 0, output);
        Assert.Contains("data parallel: 2 ranks, each 100 of the 200 images per step", output, StringComparison.Ordinal);
        Assert.Equal(0, Ranks(2, [.. args, "--out", twoB]).Code);

        AssertClose(Metrics(one), Metrics(twoA), 0.002, "2 ranks");
        Assert.Equal(Exact(twoA), Exact(twoB));
        Assert.Equal(File.ReadAllBytes(Path.Combine(twoA, "model.safetensors")), File.ReadAllBytes(Path.Combine(twoB, "model.safetensors")));
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(twoA, "summary.json")));
        Assert.Equal(2, summary.RootElement.GetProperty("ranks").GetInt32());
        Assert.Equal("mpi", summary.RootElement.GetProperty("communication").GetString());

        // One collective a step: the stop agreement rides in the gradient all-reduce.
        Assert.Equal(1.0, summary.RootElement.GetProperty("collectives_per_step").GetDouble());
        Assert.True(summary.RootElement.GetProperty("train_images_per_second_per_rank").GetDouble() > 0);
    }

    public static TheoryData<string, int, string[], double> Configurations => new()
    {
        { "mlp, batch 200, 4 ranks", 4, ["--batch-size", "200", "--steps", "200", "--eval-every", "100"], 0.002 },
        { "mlp-deep, 2 ranks", 2, ["--model", "mlp-deep", "--steps", "50", "--eval-every", "50"], 0.002 },
        { "vgg at 1/8 width, 2 ranks", 2, ["--model", "vgg", "--width", "0.125", "--steps", "30", "--eval-every", "30"], 0.01 },
        { "mlp with a validation split, the best model kept and early stopping, 2 ranks", 2, ["--steps", "60", "--eval-every", "10", "--val-split", "0.1", "--keep", "best", "--early-stop", "3"], 0.002 },
        { "a residual model file, 2 ranks", 2, ["--model", ResidualFilePlaceholder, "--batch-size", "32", "--steps", "30", "--eval-every", "30"], 0.01 },
    };

    private const string ResidualFilePlaceholder = "RESIDUAL.json";

    /// <summary>The gradient check's residual network (BatchNorm, GELU, both kinds of shortcut) as a model file.</summary>
    private static readonly Lazy<string> ResidualFile = new(() =>
    {
        string path = Path.Combine(SyntheticData.NewDirectory(), "residual.json");
        File.WriteAllText(path, GpuNet.Tests.Engine.ModelFileTests.ResidualNet);
        return path;
    });

    /// <summary>
    /// BatchNorm takes per-rank batch statistics (as DistributedDataParallel without SyncBatchNorm), so the VGG's and the
    /// residual network's ranks compute another function of the batch than one process: accuracy is compared within 0.01.
    /// </summary>
    [Theory]
    [MemberData(nameof(Configurations))]
    public void MoreRanksAndDeeperModelsTrainWhatOneProcessTrains(string what, int ranks, string[] args, double accuracyTolerance)
    {
        MpiRun.SkipUnlessOpenMpi();
        bool batchNorm = args.Contains("vgg") || args.Contains(ResidualFilePlaceholder);
        args = [.. args.Select(a => a == ResidualFilePlaceholder ? ResidualFile.Value : a)];
        string one = Out(), many = Out();
        var single = Single([.. args, "--out", one]);
        Assert.True(single.Code == 0, single.Output);
        var (code, output) = Ranks(ranks, [.. args, "--out", many]);
        Assert.True(code == 0, output);
        if (batchNorm)
        {
            Assert.Equal(Metrics(one).Select(r => r.Step), Metrics(many).Select(r => r.Step));
            Assert.InRange(Math.Abs(Metrics(one)[^1].TestAccuracy - Metrics(many)[^1].TestAccuracy), 0, accuracyTolerance);
            Assert.True(Metrics(many)[^1].TrainLoss < Metrics(many)[0].TrainLoss * 1.2, $"{what}: the loss did not fall");
        }
        else
        {
            AssertClose(Metrics(one), Metrics(many), accuracyTolerance, what);
        }
    }

    /// <summary>Waits until the run's checkpoint exists at step <paramref name="step"/> or later (a poll of a file, not a sleep on time).</summary>
    private static int WaitForCheckpoint(MpiRun run, string dir, int step)
    {
        string path = Path.Combine(dir, Checkpoint.FileName);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var tick = new AutoResetEvent(false);
        while (watch.Elapsed < MpiRun.HangGuard)
        {
            if (File.Exists(path))
            {
                try
                {
                    int at = Checkpoint.Read(path).State.Step;
                    if (at >= step)
                    {
                        return at;
                    }
                }
                catch (GpuNet.Engine.CheckpointException)
                {
                    // Replaced while read: the next poll sees the new one.
                }
            }

            Assert.False(run.Output.Contains("final_test_accuracy", StringComparison.Ordinal), "the run ended before its checkpoint:\n" + run.Output);
            tick.WaitOne(50);
        }

        throw new TimeoutException($"no checkpoint at step {step} within {MpiRun.HangGuard}:\n{run.Output}");
    }

    [Fact]
    public void ARankKilledMidRunEndsTheJobAndTheLastCheckpointStaysReadable()
    {
        MpiRun.SkipUnlessOpenMpi();
        string dir = Out();
        using var run = MpiRun.Gpunet(2, "train", "--accelerator", "cpu", "--steps", "100000", "--eval-every", "100000", "--checkpoint-every", "10", "--out", dir);
        WaitForCheckpoint(run, dir, 10);
        var ranks = run.RankProcesses();
        Assert.Equal(2, ranks.Count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        MpiRun.Signal(ranks[1], "KILL");
        int code = run.WaitForExit();
        log.WriteLine($"mpirun exited with {code} {clock.Elapsed.TotalSeconds:F1} s after one rank was killed");
        Assert.NotEqual(0, code);

        var (evalCode, evalOutput, evalError) = Support.Cli.Run("eval", "--checkpoint", Path.Combine(dir, Checkpoint.FileName), "--accelerator", "cpu");
        Assert.True(evalCode == 0, evalError);
        Assert.Contains("accuracy", evalOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void SigtermToTheRanksStopsThemAfterTheSameStepWithOneCheckpointThatResumesExactly()
    {
        MpiRun.SkipUnlessOpenMpi();
        string[] args = ["--steps", "300", "--eval-every", "100", "--checkpoint-every", "5", "--hidden", "32"];
        string whole = Out(), split = Out();
        Assert.Equal(0, Ranks(2, [.. args, "--out", whole]).Code);

        using (var run = MpiRun.Gpunet(2, ["train", "--accelerator", "cpu", .. args, "--out", split]))
        {
            WaitForCheckpoint(run, split, 5);
            StopRanks(run);
            var stopped = System.Text.RegularExpressions.Regex.Match(run.Output, @"Interrupted after step (\d+)");
            Assert.True(stopped.Success, run.Output);
            int step = int.Parse(stopped.Groups[1].Value, CultureInfo.InvariantCulture);
            var state = Checkpoint.Read(Path.Combine(split, Checkpoint.FileName)).State;
            Assert.Equal(step, state.Step);
            Assert.Equal(2, state.Ranks);
            Assert.InRange(step, 5, 299);
        }

        var (resumedCode, resumed) = Ranks(2, "--resume", split);
        Assert.True(resumedCode == 0, resumed);
        Assert.Equal(Exact(whole), Exact(split));
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "model.safetensors")), File.ReadAllBytes(Path.Combine(split, "model.safetensors")));
    }

    [Fact]
    public void ResumingUnderAnotherRankCountIsRefusedUnlessTheBatchStillDivides()
    {
        MpiRun.SkipUnlessOpenMpi();
        string dir = Out();
        int stoppedAt;
        using (var run = MpiRun.Gpunet(2, "train", "--accelerator", "cpu", "--steps", "100000", "--eval-every", "100000", "--checkpoint-every", "5", "--out", dir))
        {
            WaitForCheckpoint(run, dir, 5);
            StopRanks(run);
            stoppedAt = Checkpoint.Read(Path.Combine(dir, Checkpoint.FileName)).State.Step;
        }

        // 3 ranks cannot split the global batch of 200.
        var (threeCode, threeOutput) = Ranks(3, "--resume", dir);
        Assert.NotEqual(0, threeCode);
        Assert.Contains("does not divide by 3 ranks", threeOutput, StringComparison.Ordinal);
        Assert.Equal(stoppedAt, Checkpoint.Read(Path.Combine(dir, Checkpoint.FileName)).State.Step);

        // 4 ranks can, and say what changes; the run goes on from the checkpoint.
        using var four = MpiRun.Gpunet(4, "train", "--accelerator", "cpu", "--resume", dir);
        Assert.Single(four.WaitForLines(line => line.Contains("resuming a 2-rank run on 4 rank(s): each now takes 50 of the 200 images per step", StringComparison.Ordinal), 1));
        WaitForCheckpoint(four, dir, stoppedAt + 5);
        StopRanks(four);
        Assert.Equal(4, Checkpoint.Read(Path.Combine(dir, Checkpoint.FileName)).State.Ranks);
    }

    /// <summary>
    /// A BatchNorm model whose global batch leaves one image per rank is refused before training, as a usage error: exit
    /// 2, the reason once (rank 0 prints it), no MPI_ABORT; the same when a resume under more ranks would leave one.
    /// </summary>
    [Fact]
    public void OneImagePerRankForBatchNormIsAUsageErrorBeforeAnythingIsAllocated()
    {
        MpiRun.SkipUnlessOpenMpi();
        string dir = Out();
        var (code, output) = Ranks(2, "--batch-norm", "--batch-size", "2", "--out", dir);
        Assert.Equal(2, code);
        const string reason = "BatchNorm needs at least 2 images per rank, but --batch-size 2 over 2 ranks gives 1; use --batch-size 4 or more";
        Assert.Single(output.Split('\n'), line => line.Contains(reason, StringComparison.Ordinal));
        Assert.DoesNotContain("MPI_ABORT", output, StringComparison.Ordinal);
        MpiRun.PrintedOnly(output, output.Split('\n').Single(line => line.Contains(reason, StringComparison.Ordinal)));
        Assert.DoesNotContain("training ", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir));

        // A one-process run of batch 4, interrupted after its first step, then resumed on 4 ranks: 1 image each.
        string stopped = Out();
        Directory.CreateDirectory(stopped);
        var config = new GpuNet.Engine.Runs.TrainConfig { Hidden = [8], BatchNorm = true, BatchSize = 4, Steps = 10, EvalEvery = 10, Accelerator = GpuNet.Engine.AcceleratorKind.Cpu };
        using (var device = GpuNet.Engine.Device.Open(GpuNet.Engine.AcceleratorKind.Cpu))
        {
            var data = GpuNet.Engine.Data.DataSets.Load(GpuNet.Engine.Data.DatasetKind.FashionMnist, null);
            Assert.Throws<TrainingInterruptedException>(() => Trainer.Run(config, data, device, stopped, cancel: new CancellationToken(canceled: true)));
        }

        Assert.Equal(1, Checkpoint.Read(Path.Combine(stopped, Checkpoint.FileName)).State.Step);
        (code, output) = Ranks(4, "--resume", stopped);
        Assert.Equal(2, code);
        Assert.Single(output.Split('\n'), line => line.Contains("--batch-size 4 over 4 ranks gives 1", StringComparison.Ordinal));
        Assert.DoesNotContain("MPI_ABORT", output, StringComparison.Ordinal);
        MpiRun.PrintedOnly(output, output.Split('\n').Single(line => line.Contains("--batch-size 4 over 4 ranks gives 1", StringComparison.Ordinal)));
        Assert.Equal(1, Checkpoint.Read(Path.Combine(stopped, Checkpoint.FileName)).State.Step);
    }

    /// <summary>
    /// An error every rank meets alike before training (here the data set's files are missing) is one line, printed once
    /// as one process prints it, exit 1, with no MPI_ABORT banner and no rank prefix: the ranks agree and leave together.
    /// </summary>
    [Fact]
    public void AnErrorEveryRankMeetsAlikeIsPrintedOnceWithoutAnAbort()
    {
        MpiRun.SkipUnlessOpenMpi();
        string missing = Path.Combine(SyntheticData.NewDirectory(), "no-such-folder");
        var (singleCode, singleOutput) = Single("--dataset", "mnist", "--data-dir", missing, "--out", Out());
        Assert.Equal(1, singleCode);
        string line = singleOutput.Split('\n').Single(l => l.StartsWith("gpunet: ", StringComparison.Ordinal)).TrimEnd('\r');

        var (code, output) = Ranks(2, "--dataset", "mnist", "--data-dir", missing, "--out", Out());
        Assert.Equal(1, code);
        Assert.Single(output.Split('\n'), l => l.StartsWith("gpunet", StringComparison.Ordinal));
        Assert.Contains(line, output, StringComparison.Ordinal);
        Assert.DoesNotContain("MPI_ABORT", output, StringComparison.Ordinal);
        MpiRun.PrintedOnly(output, line);
    }

    /// <summary>
    /// An error met during training (here a divergence under --on-nan stop, which every rank meets at the same read
    /// point) ends the job with exit 1 and the ranks' own prefixed lines, each at most once: no Open MPI abort banner,
    /// no mpirun notice, and no "stopping after the current step" from a rank that mpirun's SIGTERM reaches while the
    /// job ends.
    /// </summary>
    [Fact]
    public void AnErrorDuringTrainingEndsTheJobWithTheRanksLinesAndNoBanner()
    {
        MpiRun.SkipUnlessOpenMpi();
        string dir = Out();
        var (code, output) = Ranks(2, "--lr", "1e9", "--on-nan", "stop", "--steps", "200", "--eval-every", "100", "--out", dir);
        Assert.Equal(1, code);
        var lines = output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var errors = lines.Where(l => l.StartsWith("gpunet", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(errors);
        Assert.All(errors, l => Assert.Matches(@"^gpunet \(rank [01] of 2\): Divergence at step \d+: ", l));
        Assert.Equal(errors.Count, errors.Distinct().Count());
        var others = lines.Except(errors).Where(l => !l.StartsWith("data parallel: ", StringComparison.Ordinal) && !l.StartsWith("training ", StringComparison.Ordinal) && !l.StartsWith("step ", StringComparison.Ordinal)).ToList();
        Assert.True(others.Count == 0, $"the job printed more than its lines:\n{string.Join("\n", others)}");
    }

    /// <summary>SIGTERM to every rank; they stop together with exit 143.</summary>
    private void StopRanks(MpiRun run)
    {
        foreach (int rank in run.RankProcesses())
        {
            MpiRun.Signal(rank, "TERM");
        }

        int code = run.WaitForExit();
        log.WriteLine($"after SIGTERM to the ranks: exit {code}\n{run.Output}");
        Assert.Equal(143, code);

        // One line says so (rank 0's); no rank's "stopping after the current step", no mpirun notice.
        Assert.Single(run.Output.Split('\n'), line => line.Contains("Interrupted after step", StringComparison.Ordinal));
        foreach (string other in (string[])["stopping after the current step", "MPI_ABORT", "Primary job", "non-zero"])
        {
            Assert.DoesNotContain(other, run.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DevicesPrintsOneLinePerRank()
    {
        MpiRun.SkipUnlessOpenMpi();
        using var run = MpiRun.Gpunet(3, "devices");
        Assert.Equal(0, run.WaitForExit());
        for (int rank = 0; rank < 3; rank++)
        {
            Assert.Contains($"rank {rank} of 3 (local rank {rank}", run.Output, StringComparison.Ordinal);
        }
    }
}
