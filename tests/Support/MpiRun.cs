using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace GpuNet.Tests.Support;

/// <summary>
/// An mpirun job of this test executable's hidden MPI worker command (<c>GpuNet.Tests --mpi-worker NAME ...</c>), with
/// its output collected line by line. Waiting is for events (a line printed, the process exited), never for time; the
/// timeouts are hang guards only.
/// </summary>
public sealed partial class MpiRun : IDisposable
{
    /// <summary>How long a job may take before it is taken for hung and killed.</summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(300);

    private readonly Process process;
    private readonly List<string> lines = [];
    private readonly object gate = new();
    private int streamsEnded;

    private MpiRun(string[] mpirunOptions, int ranks, string[] workerArgs)
        : this(mpirunOptions, ranks, [Path.Combine(AppContext.BaseDirectory, "GpuNet.Tests"), Distributed.MpiWorker.Command, .. workerArgs], program: true)
    {
    }

    private MpiRun(string[] mpirunOptions, int ranks, string[] command, bool program)
    {
        _ = program;
        var start = new ProcessStartInfo(MpirunPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Environment.UserName == "root")
        {
            start.ArgumentList.Add("--allow-run-as-root");
        }

        foreach (string arg in (string[])[.. mpirunOptions, "--oversubscribe", "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), .. command])
        {
            start.ArgumentList.Add(arg);
        }

        process = Process.Start(start) ?? throw new InvalidOperationException("mpirun did not start");
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>mpirun's path on PATH, or null.</summary>
    public static string? MpirunPath { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, "mpirun"))
        .FirstOrDefault(File.Exists);

    /// <summary>mpirun's process id.</summary>
    public int Id => process.Id;

    /// <summary>Everything printed so far, stdout and stderr of mpirun and the ranks, interleaved.</summary>
    public string Output
    {
        get
        {
            lock (gate)
            {
                return string.Join("\n", lines);
            }
        }
    }

    /// <summary>Starts <paramref name="ranks"/> ranks of worker <paramref name="workerArgs"/>, or skips the test with the reason.</summary>
    public static MpiRun Start(int ranks, params string[] workerArgs) => StartWith([], ranks, workerArgs);

    /// <summary>As <see cref="Start"/>, with options for mpirun itself (e.g. <c>--mca NAME VALUE</c>).</summary>
    public static MpiRun StartWith(string[] mpirunOptions, int ranks, params string[] workerArgs)
    {
        SkipUnlessOpenMpi();
        return new MpiRun(mpirunOptions, ranks, workerArgs);
    }

    /// <summary>Starts <paramref name="ranks"/> ranks of the gpunet executable beside the tests with <paramref name="args"/>, or skips.</summary>
    public static MpiRun Gpunet(int ranks, params string[] args)
    {
        SkipUnlessOpenMpi();
        return new MpiRun([], ranks, [Path.Combine(AppContext.BaseDirectory, "gpunet"), .. args], program: true);
    }

    /// <summary>The process ids of the ranks (mpirun's children).</summary>
    public IReadOnlyList<int> RankProcesses()
    {
        var children = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == process.Id)
                {
                    children.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }

        return children;
    }

    /// <summary>Skips the test, with the reason printed, unless mpirun and Open MPI's libmpi.so.40 are present.</summary>
    public static void SkipUnlessOpenMpi()
    {
        if (MpirunPath is null)
        {
            Assert.Skip("mpirun is not on PATH (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)");
        }

        if (!NativeLibrary.TryLoad("libmpi.so.40", out _))
        {
            Assert.Skip("Open MPI's libmpi.so.40 is not on the loader's path (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)");
        }
    }

    /// <summary>Waits until <paramref name="count"/> printed lines satisfy <paramref name="match"/>, or the output ends.</summary>
    /// <returns>The matching lines; fewer than <paramref name="count"/> when the output ended first.</returns>
    public IReadOnlyList<string> WaitForLines(Func<string, bool> match, int count)
    {
        var deadline = Stopwatch.StartNew();
        lock (gate)
        {
            while (true)
            {
                var found = lines.Where(match).ToList();
                if (found.Count >= count || streamsEnded == 2)
                {
                    return found;
                }

                var left = HangGuard - deadline.Elapsed;
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException($"mpirun printed {found.Count} of {count} expected lines within {HangGuard}; output:\n{string.Join("\n", lines)}");
                }

                // Woken by every new line and by the end of the output.
                Monitor.Wait(gate, left);
            }
        }
    }

    /// <summary>
    /// Requires that a job printed nothing but <paramref name="expected"/> (compared trimmed) and blank lines: no
    /// MPI_ABORT banner from Open MPI, no half-sent help message (an ORTE_ERROR_LOG line), no mpirun notice that a
    /// process exited non-zero.
    /// </summary>
    public static void PrintedOnly(string printed, params string[] expected)
    {
        var allowed = expected.Select(line => line.Trim()).ToHashSet();
        var others = printed.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0 && !allowed.Contains(line)).ToList();
        Assert.True(others.Count == 0, $"the job printed more than its lines:\n{string.Join("\n", others)}");
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. KILL, TERM) to process <paramref name="pid"/>.</summary>
    public static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>
    /// Waits for mpirun to exit (and its output to end); kills the job and fails after <paramref name="guard"/> (by
    /// default <see cref="HangGuard"/>).
    /// </summary>
    public int WaitForExit(TimeSpan? guard = null)
    {
        var limit = guard ?? HangGuard;
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"mpirun did not exit within {limit}; output:\n{Output}");
        }

        process.WaitForExit();
        return process.ExitCode;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        process.Dispose();
    }

    private void Add(string? line)
    {
        lock (gate)
        {
            if (line is not null)
            {
                lines.Add(TerminalControl().Replace(line, ""));
            }
            else
            {
                streamsEnded++;
            }

            Monitor.PulseAll(gate);
        }
    }

    /// <summary>
    /// Terminal control sequences: mpirun gives each rank a pseudo-terminal as stdout, so .NET's console starts it with
    /// "keypad transmit" (ESC [?1h ESC =).
    /// </summary>
    [GeneratedRegex(@"\x1b(\[[0-9;?]*[A-Za-z]|[=>])")]
    private static partial Regex TerminalControl();
}
