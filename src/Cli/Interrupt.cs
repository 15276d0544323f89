using System.Runtime.InteropServices;

namespace GpuNet.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM: the first asks training to stop after the current step and write a checkpoint (exit
/// 130 or 143); a second exits at once.
/// </summary>
internal sealed class Interrupt : IDisposable
{
    private static Interrupt? handling;
    private readonly CancellationTokenSource source = new();
    private readonly Action<int> exit;
    private readonly TextWriter error;
    private readonly PosixSignalRegistration[] registrations;
    private bool endingJob;

    /// <summary>Handles SIGINT and SIGTERM sent to this process; a second signal ends it with <see cref="Environment.Exit"/>.</summary>
    public Interrupt()
        : this(Environment.Exit, Console.Error)
    {
        registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
        handling = this;
    }

    /// <summary>Registers no handler: signals come only through <see cref="Handle"/>, and a second one calls <paramref name="exit"/>.</summary>
    internal Interrupt(Action<int> exit, TextWriter error)
    {
        this.exit = exit;
        this.error = error;
        registrations = [];
    }

    public CancellationToken Token => source.Token;

    /// <summary>
    /// From now on the process's signal handler (if one is registered) takes signals in silence: this process is ending
    /// its data-parallel job (MPI_Abort), and the launcher's SIGTERM to the ranks is no request to stop after a step.
    /// </summary>
    public static void EndingJob() => Volatile.Read(ref handling)?.EndJob();

    /// <summary>This instance takes signals in silence from now on (see <see cref="EndingJob"/>).</summary>
    internal void EndJob() => Volatile.Write(ref endingJob, true);

    /// <summary>130 after SIGINT, 143 after SIGTERM (128 + the signal number, as shells report).</summary>
    public int ExitCode { get; private set; } = 130;

    public void Dispose()
    {
        Interlocked.CompareExchange(ref handling, null, this);
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
        if (Volatile.Read(ref endingJob))
        {
            // The job is being aborted (this rank's error, already printed, or an agreed exit): the signal is the
            // launcher ending the ranks, and there is no step left to finish.
            context.Cancel = true;
            return;
        }

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
