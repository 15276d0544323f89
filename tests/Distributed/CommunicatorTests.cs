using GpuNet.Engine;
using GpuNet.Engine.Distributed;

namespace GpuNet.Tests.Distributed;

/// <summary>
/// What needs no second process: the single-process communicator, the launcher detection, the choice of
/// communicator, and the one-line errors for a missing or foreign MPI library (nothing here initializes MPI).
/// </summary>
public sealed class CommunicatorTests
{
    private static readonly LaunchEnvironment NoLauncher = new(null, null, null);
    private static readonly LaunchEnvironment UnderMpirun = new("mpirun (OMPI_COMM_WORLD_SIZE=2)", 2, 0);

    [Fact]
    public void SingleProcessIsRankZeroOfOneAndLeavesDataAsItIs()
    {
        using var single = new SingleProcess();
        Assert.Equal((0, 1, 0, "single"), (single.Rank, single.Size, single.LocalRank, single.Backend));
        float[] floats = [1.5f, -2];
        double[] doubles = [3.25];
        long[] longs = [1L << 40];
        int[] ints = [-7];
        byte[] bytes = [9, 8];
        single.AllReduceSum(floats);
        single.AllReduceSum(doubles);
        single.AllReduceSum(longs);
        single.AllReduceMax(ints);
        single.Broadcast(bytes, root: 0);
        single.Broadcast(floats, root: 0);
        single.Barrier();
        Assert.Equal([1.5f, -2], floats);
        Assert.Equal([3.25], doubles);
        Assert.Equal([1L << 40], longs);
        Assert.Equal([-7], ints);
        Assert.Equal([9, 8], bytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => single.Broadcast(bytes, root: 1));
    }

    public static TheoryData<Dictionary<string, string>, LaunchEnvironment, bool> Environments => new()
    {
        { new(), NoLauncher, false },
        { new() { ["OMPI_COMM_WORLD_SIZE"] = "4", ["OMPI_COMM_WORLD_RANK"] = "3", ["PMIX_RANK"] = "3" }, new("mpirun (OMPI_COMM_WORLD_SIZE=4)", 4, 3), true },
        { new() { ["OMPI_COMM_WORLD_SIZE"] = "1", ["OMPI_COMM_WORLD_RANK"] = "0" }, new("mpirun (OMPI_COMM_WORLD_SIZE=1)", 1, 0), false },
        { new() { ["PMIX_RANK"] = "1", ["SLURM_NTASKS"] = "8" }, new("a PMIx launcher (PMIX_RANK=1)", 8, 1), true },
        { new() { ["PMIX_RANK"] = "0" }, new("a PMIx launcher (PMIX_RANK=0)", null, 0), true },
        { new() { ["PMI_SIZE"] = "2", ["PMI_RANK"] = "1" }, new("a PMI launcher (PMI_SIZE=2)", 2, 1), true },
        { new() { ["PMI_SIZE"] = "many" }, new("a PMI launcher (PMI_SIZE=many)", null, null), true },
    };

    [Theory]
    [MemberData(nameof(Environments))]
    public void DetectReadsTheLaunchersVariables(Dictionary<string, string> variables, LaunchEnvironment expected, bool distributed)
    {
        var launch = Communicators.Detect(name => variables.GetValueOrDefault(name));
        Assert.Equal(expected, launch);
        Assert.Equal(distributed, launch.IsDistributed);
    }

    [Fact]
    public void LocalRankComesFromOpenMpiThenSlurmElseZero()
    {
        Assert.Equal(3, MpiCommunicator.LocalRankFrom(name => name == "OMPI_COMM_WORLD_LOCAL_RANK" ? "3" : "5"));
        Assert.Equal(5, MpiCommunicator.LocalRankFrom(name => name == "SLURM_LOCALID" ? "5" : null));
        Assert.Equal(0, MpiCommunicator.LocalRankFrom(_ => null));
    }

    [Fact]
    public void WithoutALauncherOrWhenToldNoneItIsOneProcess()
    {
        string[] missing = ["libmpi-gpunet-missing.so.40"];
        using var auto = Communicators.Open(DistributedMode.Auto, NoLauncher, missing);
        Assert.IsType<SingleProcess>(auto);
        using var none = Communicators.Open(DistributedMode.None, UnderMpirun, missing);
        Assert.IsType<SingleProcess>(none);
    }

    [Fact]
    public void AMissingMpiLibraryIsOneLineNamingThePackage()
    {
        var error = Assert.Throws<DistributedException>(() => MpiCommunicator.Open(["libmpi-gpunet-missing.so.40", "libmpi-gpunet-missing.so"]));
        Assert.Equal(
            "Open MPI's libmpi-gpunet-missing.so.40 was not found (nor libmpi-gpunet-missing.so); " +
            "install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev).",
            error.Message);

        var asked = Assert.Throws<DistributedException>(() => Communicators.Open(DistributedMode.Mpi, NoLauncher, ["libmpi-gpunet-missing.so.40"]));
        Assert.Equal("Open MPI's libmpi-gpunet-missing.so.40 was not found; install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev).", asked.Message);

        var launched = Assert.Throws<DistributedException>(() => Communicators.Open(DistributedMode.Auto, UnderMpirun, ["libmpi-gpunet-missing.so.40"]));
        Assert.Equal(
            "Started by mpirun (OMPI_COMM_WORLD_SIZE=2), but: Open MPI's libmpi-gpunet-missing.so.40 was not found; " +
            "install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev).",
            launched.Message);
        Assert.All(new[] { error, asked, launched }, e => Assert.DoesNotContain('\n', e.Message));
    }

    [Fact]
    public void ALibraryThatIsNotOpenMpisIsNamed()
    {
        var error = Assert.Throws<DistributedException>(() => MpiCommunicator.Open(["libc.so.6"]));
        Assert.Equal(
            "libc.so.6 is not Open MPI's MPI library (it has no ompi_mpi_comm_world); install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev).",
            error.Message);
    }
}
