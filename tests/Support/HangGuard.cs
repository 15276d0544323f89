using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using Xunit.v3;

[assembly: GpuNet.Tests.Support.HangGuard]

namespace GpuNet.Tests.Support;

/// <summary>
/// The suite's backstop against hangs: every test is registered when it starts, and a watchdog thread ends the test
/// process with a message naming any test that has run for more than GPUNET_TEST_HANG_MINUTES (default 15) minutes,
/// so a hung kernel, barrier or child process is a failed run that says where, not a run that never ends. (A per-test
/// timeout would abandon the hung thread holding its accelerator's lock, and every later test on that accelerator
/// would hang behind it.) Also installs <see cref="GpuNet.Kernels.KernelFaults"/> after the runner's own trace
/// listener, so a kernel's out-of-range access on the CPU accelerator fails its test instead of wedging the run.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class HangGuardAttribute : BeforeAfterTestAttribute
{
    private static readonly ConcurrentDictionary<string, Stopwatch> Running = new();
    private static readonly Lazy<Thread> Watchdog = new(() =>
    {
        var thread = new Thread(Watch) { IsBackground = true, Name = "GpuNet test hang guard" };
        thread.Start();
        return thread;
    });

    public static TimeSpan Limit { get; } = TimeSpan.FromMinutes(
        double.TryParse(Environment.GetEnvironmentVariable("GPUNET_TEST_HANG_MINUTES"), System.Globalization.CultureInfo.InvariantCulture, out double minutes) && minutes > 0 ? minutes : 15);

    public override void Before(MethodInfo methodUnderTest, IXunitTest test)
    {
        GpuNet.Kernels.KernelFaults.Install();
        _ = Watchdog.Value;
        Running[test.UniqueID] = Stopwatch.StartNew();
        Names[test.UniqueID] = test.TestDisplayName;
    }

    public override void After(MethodInfo methodUnderTest, IXunitTest test)
    {
        Running.TryRemove(test.UniqueID, out _);
        Names.TryRemove(test.UniqueID, out _);
    }

    private static readonly ConcurrentDictionary<string, string> Names = new();

    private static void Watch()
    {
        using var tick = new AutoResetEvent(false);
        while (true)
        {
            // A poll, not a deadline any passing test depends on: nothing waits for this thread.
            tick.WaitOne(TimeSpan.FromSeconds(10));
            foreach (var (id, watch) in Running)
            {
                if (watch.Elapsed > Limit && Names.TryGetValue(id, out string? name))
                {
                    string message = $"HANG GUARD: test '{name}' has run for more than {Limit.TotalMinutes:F0} minutes; ending the test process (exit 3).";
                    Console.Error.WriteLine(message);
                    Console.Out.WriteLine(message);
                    Environment.Exit(3);
                }
            }
        }
    }
}
