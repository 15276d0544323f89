using System.Runtime.InteropServices;

namespace GpuNet.Cli;

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
    private readonly bool announce;

    /// <summary>
    /// Handles SIGINT and SIGTERM sent to this process; a second signal ends it with <see cref="Environment.Exit"/>.
    /// With <paramref name="announce"/> false (a rank of several) the first signal prints nothing: it may be the launcher
    /// ending the job because another rank failed, and an agreed stop is reported by rank 0 when it happens.
    /// </summary>
    public Interrupt(bool announce = true)
        : this(Environment.Exit, Console.Error, announce)
    {
        registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    /// <summary>Registers no handler: signals come only through <see cref="Handle"/>, and a second one calls <paramref name="exit"/>.</summary>
    internal Interrupt(Action<int> exit, TextWriter error, bool announce = true)
    {
        this.exit = exit;
        this.error = error;
        this.announce = announce;
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
        if (announce)
        {
            error.WriteLine($"gpunet: stopping after the current step and writing a checkpoint ({(code == 130 ? "Ctrl-C" : "SIGTERM")} again to exit at once)");
        }

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
