using System.Diagnostics;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;

namespace GpuNet.Tests.Support;

/// <summary>
/// Runs the gpunet executable that sits beside the tests as a child process (for signals and kills). Waits are for
/// events (a printed line, a checkpoint at a given step, the exit), never for a time; their timeouts are hang guards.
/// </summary>
public sealed class GpunetProcess : IDisposable
{
    /// <summary>How long a wait may take before the test calls it a hang: far beyond any correct run on a busy machine.</summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How often a wait looks again for what no event announces (a file the process writes). Only the latency of
    /// noticing depends on it, never the outcome; a printed line or the exit wakes the wait at once.
    /// </summary>
    private static readonly TimeSpan Recheck = TimeSpan.FromMilliseconds(20);

    private readonly Process process;
    private readonly List<string> lines = [];
    private readonly Lock gate = new();
    private readonly object wake = new(); // pulsed at each printed line and at the exit
    private long changes;

    public GpunetProcess(params string[] args)
    {
        string apphost = Path.Combine(AppContext.BaseDirectory, "gpunet");
        var start = new ProcessStartInfo(apphost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.Exited += (_, _) => Notify();
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException("gpunet did not start");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => process.Id;

    /// <summary>Everything the process printed so far, stdout and stderr interleaved.</summary>
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

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, looking again whenever the process prints a line or exits and
    /// every <see cref="Recheck"/>; false if the process exits without it holding or <see cref="HangGuard"/> passes.
    /// </summary>
    public bool WaitUntil(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            long seen = Interlocked.Read(ref changes);
            if (condition())
            {
                return true;
            }

            if (process.HasExited)
            {
                process.WaitForExit(); // the last lines have arrived
                return condition();
            }

            if (watch.Elapsed > HangGuard)
            {
                return false;
            }

            lock (wake)
            {
                if (changes == seen)
                {
                    Monitor.Wait(wake, Recheck);
                }
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="directory"/>'s checkpoint is at step <paramref name="atLeast"/> or later and returns
    /// the step it read; fails the test, with the output, if the process exits first or hangs. A checkpoint that is
    /// absent or cannot be read yet counts as not there.
    /// </summary>
    public int WaitForCheckpoint(string directory, int atLeast)
    {
        string path = Path.Combine(directory, Checkpoint.FileName);
        int step = -1;
        bool reached = WaitUntil(
            () =>
            {
                try
                {
                    step = Math.Max(step, Checkpoint.Read(path).State.Step);
                }
                catch (Exception e) when (e is GpuNetException or IOException or UnauthorizedAccessException)
                {
                    // not written yet; the writer renames whole files into place, so this is only the first one's absence
                }

                return step >= atLeast;
            });
        Assert.True(reached, $"no checkpoint at step {atLeast} or later in {directory} (last read: step {step}); exit {(process.HasExited ? process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}; output:\n{Output}");
        return step;
    }

    /// <summary>Sends <paramref name="signal"/> (INT, TERM, ...) with kill(1).</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>SIGKILL, sent at once from this process.</summary>
    public void Kill() => process.Kill(entireProcessTree: false);

    /// <summary>Waits for the exit and returns its code (128 + the signal for a process a signal ended).</summary>
    public int WaitForExit()
    {
        if (!process.WaitForExit(HangGuard))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"gpunet did not exit within the hang guard of {HangGuard}; output:\n{Output}");
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
        if (line is not null)
        {
            lock (gate)
            {
                lines.Add(line);
            }

            Notify();
        }
    }

    private void Notify()
    {
        lock (wake)
        {
            changes++;
            Monitor.PulseAll(wake);
        }
    }
}
