using System.Globalization;

namespace GpuNet.Engine.Distributed;

/// <summary>Whether a run is distributed (<c>--distributed auto|none|mpi</c>).</summary>
public enum DistributedMode
{
    /// <summary>MPI when a launcher started several processes (<see cref="LaunchEnvironment.IsDistributed"/>), else one process.</summary>
    Auto,

    /// <summary>One process, whatever the environment says.</summary>
    None,

    /// <summary>MPI, also for a single process; a missing Open MPI is an error.</summary>
    Mpi,
}

/// <summary>What the environment says about the launcher that started this process.</summary>
/// <param name="Launcher">
/// The launcher and the variable that revealed it, e.g. <c>mpirun (OMPI_COMM_WORLD_SIZE=2)</c>; null when no
/// launcher's variables are set.
/// </param>
/// <param name="WorldSize">How many processes it started, when it says.</param>
/// <param name="Rank">This process's rank, when it says.</param>
public sealed record LaunchEnvironment(string? Launcher, int? WorldSize, int? Rank)
{
    /// <summary>A launcher started this process, and either more than one process or an unknown number of them.</summary>
    public bool IsDistributed => Launcher is not null && (WorldSize is null || WorldSize > 1);
}

/// <summary>The one place that decides how a run communicates: one process, or MPI under a launcher.</summary>
public static class Communicators
{
    /// <summary>Reads this process's environment for a launcher's variables (see <see cref="Detect(Func{string, string})"/>).</summary>
    public static LaunchEnvironment Detect() => Detect(Environment.GetEnvironmentVariable);

    /// <summary>
    /// Reads a launcher's variables from <paramref name="environment"/>: Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE
    /// and OMPI_COMM_WORLD_RANK; a PMIx launcher (Slurm's srun --mpi=pmix, Open MPI 5's prterun) sets PMIX_RANK, with
    /// the size in SLURM_NTASKS under Slurm; a PMI launcher (MPICH's hydra, srun --mpi=pmi2) sets PMI_SIZE and PMI_RANK.
    /// </summary>
    public static LaunchEnvironment Detect(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (environment("OMPI_COMM_WORLD_SIZE") is { } ompiSize)
        {
            return new LaunchEnvironment(
                $"mpirun (OMPI_COMM_WORLD_SIZE={ompiSize})", Parse(ompiSize), Parse(environment("OMPI_COMM_WORLD_RANK")));
        }

        if (environment("PMIX_RANK") is { } pmixRank)
        {
            return new LaunchEnvironment(
                $"a PMIx launcher (PMIX_RANK={pmixRank})", Parse(environment("SLURM_NTASKS")), Parse(pmixRank));
        }

        if (environment("PMI_SIZE") is { } pmiSize)
        {
            return new LaunchEnvironment(
                $"a PMI launcher (PMI_SIZE={pmiSize})", Parse(pmiSize), Parse(environment("PMI_RANK")));
        }

        return new LaunchEnvironment(null, null, null);
    }

    /// <summary>
    /// The communicator for <paramref name="mode"/>: <see cref="MpiCommunicator"/> when asked for MPI or, under
    /// <see cref="DistributedMode.Auto"/>, when <see cref="Detect()"/> finds a launcher that started several
    /// processes; otherwise <see cref="SingleProcess"/>.
    /// </summary>
    /// <exception cref="DistributedException">
    /// MPI is needed and Open MPI is missing (one line naming the package), MPI failed to start, or MPI sees another
    /// number of processes than the launcher started (a launcher of another MPI).
    /// </exception>
    public static ICommunicator Open(DistributedMode mode) => Open(mode, Detect(), OpenMpiLibrary.DefaultNames);

    /// <summary><see cref="Open(DistributedMode)"/> with the environment and the library names given.</summary>
    internal static ICommunicator Open(DistributedMode mode, LaunchEnvironment launch, IReadOnlyList<string> libraryNames)
    {
        bool useMpi = mode == DistributedMode.Mpi || (mode == DistributedMode.Auto && launch.IsDistributed);
        if (!useMpi)
        {
            return new SingleProcess();
        }

        MpiCommunicator communicator;
        try
        {
            communicator = MpiCommunicator.Open(libraryNames);
        }
        catch (DistributedException e) when (mode == DistributedMode.Auto)
        {
            throw new DistributedException($"Started by {launch.Launcher}, but: {e.Message}", e);
        }

        if (launch.WorldSize is { } expected && expected != communicator.Size)
        {
            communicator.Dispose();
            throw new DistributedException(
                $"Started by {launch.Launcher} as one of {expected} processes, but Open MPI sees {communicator.Size}; " +
                "start GpuNet with Open MPI's mpirun.");
        }

        return communicator;
    }

    private static int? Parse(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int number) ? number : null;
}
