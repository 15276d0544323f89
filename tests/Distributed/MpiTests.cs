using System.Diagnostics;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Distributed;

/// <summary>
/// The MPI binding across real processes: each test starts <c>mpirun -np 2</c> on this test executable's hidden
/// <c>--mpi-worker</c> command (<see cref="MpiWorker"/>) and checks mpirun's exit status and what every rank printed.
/// Skipped, with the reason, where mpirun or Open MPI's libmpi.so.40 is absent.
/// </summary>
public sealed class MpiTests(ITestOutputHelper output)
{
    [Fact]
    public void CollectivesGiveExactResultsOnEveryRank()
    {
        EveryRankOk("collectives", SyntheticData.NewDirectory());
    }

    [Fact]
    public void AbortOnOneRankEndsTheJobWithItsExitCode()
    {
        using var run = MpiRun.Start(2, "abort");
        int code = run.WaitForExit();
        output.WriteLine(run.Output);
        Assert.True(code == 7, $"mpirun exited with {code}, not the 7 given to MPI_Abort:\n{run.Output}");
        Assert.Contains("rank 1 aborting", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("passed a barrier", run.Output, StringComparison.Ordinal);
        MpiRun.PrintedOnly(run.Output, "rank 1 aborting");
    }

    [Fact]
    public void ARankKilledWithSigkillEndsTheJob()
    {
        using var run = MpiRun.Start(2, "barrier-loop");
        var looping = run.WaitForLines(line => line.Contains(" looping", StringComparison.Ordinal), 2);
        Assert.True(looping.Count == 2, $"the ranks did not start looping:\n{run.Output}");
        int pid = int.Parse(looping.Single(line => line.StartsWith("rank 1 ", StringComparison.Ordinal)).Split(' ')[3]);

        var clock = Stopwatch.StartNew();
        MpiRun.Signal(pid, "KILL");
        int code = run.WaitForExit();
        output.WriteLine($"mpirun exited with {code} {clock.Elapsed.TotalSeconds:F2} s after rank 1 was killed:\n{run.Output}");
        Assert.NotEqual(0, code);
    }

    [Fact]
    public void TwoCommunicatorsShareOneMpiThatFinalizesOnceAndAForeignLauncherIsCaught()
    {
        using var run = MpiRun.Start(1, "lifecycle");
        int code = run.WaitForExit();
        output.WriteLine(run.Output);
        Assert.True(code == 0, $"mpirun exited with {code}:\n{run.Output}");
        Assert.Contains("rank 0 of 1: lifecycle ok", run.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// mpirun (Open MPI 4.1) does not pass its own SIGTERM on at once: it sends the ranks SIGCONT, waits
    /// odls_base_sigkill_timeout seconds (default 1), sends SIGTERM, waits as long again, then SIGKILL. A rank that
    /// stops on SIGTERM therefore has that timeout to do it, and the ranks agree on where to stop through an
    /// all-reduction of the stop flag. The timeout is 3 s here so that a loaded machine does not turn it into a SIGKILL.
    /// </summary>
    [Fact]
    public void SigtermToMpirunReachesEveryRankWhichStopAfterTheSameIteration()
    {
        using var run = MpiRun.StartWith(["--mca", "odls_base_sigkill_timeout", "3"], 2, "stop-on-sigterm");
        var looping = run.WaitForLines(line => line.Contains(" looping", StringComparison.Ordinal), 2);
        Assert.True(looping.Count == 2, $"the ranks did not start looping:\n{run.Output}");

        var clock = Stopwatch.StartNew();
        MpiRun.Signal(run.Id, "TERM");
        int code = run.WaitForExit();
        output.WriteLine($"mpirun exited with {code} {clock.Elapsed.TotalSeconds:F2} s after its SIGTERM:\n{run.Output}");
        Assert.NotEqual(0, code);
        Assert.Equal(2, run.WaitForLines(line => line.Contains("got SIGTERM", StringComparison.Ordinal), 2).Count);
        var stops = run.WaitForLines(line => line.Contains("stopping after iteration", StringComparison.Ordinal), 2);
        Assert.True(stops.Count == 2, $"both ranks should have stopped:\n{run.Output}");
        Assert.Single(stops.Select(line => line.Split(' ')[^1]).Distinct());
    }

    /// <summary>
    /// Ranks that fail before training leave together, without an abort: the largest exit code, an error every rank met
    /// alike printed once by rank 0, other errors by each rank that met them (see <see cref="MpiWorker"/>'s together).
    /// </summary>
    [Fact]
    public void RanksThatFailBeforeTrainingAgreeOnTheCodeAndPrintEachDistinctErrorOnce()
    {
        EveryRankOk("together");
    }

    /// <summary>
    /// Real ranks: rank 1's run throws while rank 0 blocks in a collective and rank 1's disposal would never return. The
    /// abort comes before that disposal, so the job ends (the hang guard would fail the test otherwise) with the data
    /// error's code, 1, and rank 1's one line.
    /// </summary>
    [Fact]
    public void ARankThatThrowsWhileTheOtherBlocksEndsTheJobBeforeItsDisposal()
    {
        using var run = MpiRun.Start(2, "throw-while-blocked");
        Assert.Single(run.WaitForLines(line => line.Trim() == "rank 1 throwing", 1));

        // From the throw, the job ends within 60 s (the bound; it takes about a second), not at the hang guard.
        var clock = Stopwatch.StartNew();
        int code = run.WaitForExit(TimeSpan.FromSeconds(60));
        output.WriteLine($"mpirun exited with {code} {clock.Elapsed.TotalSeconds:F1} s after rank 1 threw:\n{run.Output}");
        Assert.True(code == 1, $"mpirun exited with {code}, not the data error's 1:\n{run.Output}");
        Assert.Contains("gpunet (rank 1 of 2): the training images end early (a test's error)", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("disposing", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("passed a barrier", run.Output, StringComparison.Ordinal);
        MpiRun.PrintedOnly(run.Output, "rank 1 throwing", "rank 0 waiting in a barrier", "gpunet (rank 1 of 2): the training images end early (a test's error)");
    }

    /// <summary>
    /// The NCCL path's stop agreement and single collective, with MPI standing in for NCCL on the CPU accelerator (see
    /// <see cref="MpiWorker"/>'s device-path): the same bits as the MPI path, and a stop on one rank stops both at the
    /// same read point.
    /// </summary>
    [Fact]
    public void TheDevicePathTrainsTheMpiPathsBitsAndStopsEveryRankAtTheSameReadPoint()
    {
        EveryRankOk("device-path", SyntheticData.NewDirectory());
    }

    /// <summary>Runs worker <paramref name="name"/> on 2 ranks; requires exit 0 and both ranks' "NAME ok" line.</summary>
    private void EveryRankOk(string name, params string[] args)
    {
        using var run = MpiRun.Start(2, [name, .. args]);
        int code = run.WaitForExit();
        output.WriteLine(run.Output);
        Assert.True(code == 0, $"mpirun exited with {code}:\n{run.Output}");
        Assert.Contains($"rank 0 of 2: {name} ok", run.Output, StringComparison.Ordinal);
        Assert.Contains($"rank 1 of 2: {name} ok", run.Output, StringComparison.Ordinal);
    }
}
