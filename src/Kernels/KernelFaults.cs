// ILGPU's CPU accelerator runs a kernel as .NET code in which every view access is checked by Trace.Assert. An index
// out of range then fails an assertion on one of ILGPU's worker threads; with the default trace listener the process
// is killed (no message of ours), and under a test runner whose listener throws, the worker dies and the next launch
// waits forever for it. KernelFaults wraps the trace listeners so that an assertion on an ILGPU worker thread is
// recorded and the worker carries on; the launch policy checks the record before every launch and at every wait (CPU
// launches are synchronous, so the failed kernel is the one launched last) and throws a KernelFaultException naming it.
using System.Diagnostics;

namespace GpuNet.Kernels;

/// <summary>A kernel read or wrote outside its buffers on ILGPU's CPU accelerator: a bug in GpuNet, reported, not hung on.</summary>
public sealed class KernelFaultException : Exception
{
    /// <summary>Creates the error with its one-line message.</summary>
    public KernelFaultException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error with its one-line message.</summary>
    public KernelFaultException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the error.</summary>
    public KernelFaultException()
    {
    }
}

/// <summary>
/// Records assertion failures of kernels on ILGPU's CPU accelerator instead of letting them kill or wedge the process,
/// per accelerator (ILGPU names a worker thread ILGPU_{accelerator instance}_CPU_...).
/// </summary>
public static class KernelFaults
{
    private static readonly Lock Gate = new();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<long, Record> Records = new();

    /// <summary>Assertion failures on the worker threads of accelerator <paramref name="instance"/> so far.</summary>
    public static long Count(long instance) => Records.TryGetValue(instance, out var record) ? Interlocked.Read(ref record.Count) : 0;

    /// <summary>
    /// Wraps the trace listeners present now, so that a failed assertion on an ILGPU worker thread is recorded (and the
    /// worker goes on) while every other assertion reaches them as before. Install after any listener a host adds (a
    /// test runner's); installing twice does nothing.
    /// </summary>
    public static void Install()
    {
        lock (Gate)
        {
            var listeners = Trace.Listeners.Cast<TraceListener>().ToList();
            if (listeners.Count == 1 && listeners[0] is Listener)
            {
                return;
            }

            Trace.Listeners.Clear();
            Trace.Listeners.Add(new Listener([.. listeners.Where(l => l is not Listener)]));
        }
    }

    /// <summary>
    /// Throws if accelerator <paramref name="instance"/> recorded a fault since <paramref name="seen"/> faults, blaming
    /// <paramref name="kernel"/>; updates <paramref name="seen"/>.
    /// </summary>
    internal static void ThrowIfNew(long instance, ref long seen, string? kernel)
    {
        long now = Count(instance);
        if (now == seen)
        {
            return;
        }

        long failed = now - seen;
        seen = now;
        string? first = Records.TryGetValue(instance, out var record) ? Interlocked.Exchange(ref record.First, null) : null;
        throw new KernelFaultException(
            $"kernel {kernel ?? "(unknown)"} accessed memory outside its buffers on the CPU accelerator ({failed} failed bounds checks; first: {first?.ReplaceLineEndings(" ")}); this is a bug in GpuNet.");
    }

    /// <summary>The accelerator instance in an ILGPU worker thread's name (ILGPU_{instance}_CPU_...), or null.</summary>
    private static long? Instance(string? threadName)
    {
        if (threadName is null || !threadName.StartsWith("ILGPU_", StringComparison.Ordinal))
        {
            return null;
        }

        int end = threadName.IndexOf('_', 6);
        return end > 6 && long.TryParse(threadName.AsSpan(6, end - 6), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long id) ? id : null;
    }

    private sealed class Record
    {
        public long Count;
        public string? First;
    }

    private sealed class Listener(TraceListener[] inner) : TraceListener("GpuNet kernel faults")
    {
        public override void Fail(string? message) => Fail(message, null);

        public override void Fail(string? message, string? detailMessage)
        {
            if (Instance(Thread.CurrentThread.Name) is { } instance)
            {
                var record = Records.GetOrAdd(instance, _ => new Record());
                Interlocked.Increment(ref record.Count);
                Interlocked.CompareExchange(ref record.First, $"{message} {detailMessage}".Trim(), null);
                return;
            }

            foreach (var listener in inner)
            {
                listener.Fail(message, detailMessage);
            }
        }

        public override void Write(string? message)
        {
            foreach (var listener in inner)
            {
                listener.Write(message);
            }
        }

        public override void WriteLine(string? message)
        {
            foreach (var listener in inner)
            {
                listener.WriteLine(message);
            }
        }
    }
}
