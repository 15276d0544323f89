using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace GpuNet.Benchmarks;

/// <summary>One measured row: a kernel at a shape, its timing and throughput and its ratio to the yardstick.</summary>
public sealed record BenchRow(
    string Kernel,
    string Shape,
    string Accelerator,
    double MedianMs,
    double MinMs,
    double MaxMs,
    double? Gflops,
    double? Gbps,
    double? YardstickRatio,
    long? LaunchesPerStep = null,
    long? HostWaitsPerStep = null)
{
    public const string CsvHeader = "kernel,shape,accelerator,median_ms,min_ms,max_ms,gflops,gbps,yardstick_ratio,launches_per_step,host_waits_per_step";

    public string ToCsv() => string.Join(
        ',',
        Kernel,
        Shape,
        Accelerator,
        MedianMs.ToString("F4", CultureInfo.InvariantCulture),
        MinMs.ToString("F4", CultureInfo.InvariantCulture),
        MaxMs.ToString("F4", CultureInfo.InvariantCulture),
        Format(Gflops),
        Format(Gbps),
        Format(YardstickRatio),
        LaunchesPerStep?.ToString(CultureInfo.InvariantCulture) ?? "",
        HostWaitsPerStep?.ToString(CultureInfo.InvariantCulture) ?? "");

    public override string ToString()
    {
        string text = FormattableString.Invariant($"{Kernel,-22} {Shape,-22} median {MedianMs,9:F3} ms (min {MinMs:F3}, max {MaxMs:F3})");
        if (Gflops is { } g)
        {
            text += FormattableString.Invariant($"  {g,8:F2} GFLOP/s");
        }

        if (Gbps is { } b)
        {
            text += FormattableString.Invariant($"  {b,8:F2} GB/s");
        }

        text += YardstickRatio is { } r ? FormattableString.Invariant($"  ratio to yardstick {r:F2}") : "  (no yardstick)";
        return LaunchesPerStep is { } launches
            ? text + FormattableString.Invariant($"  launches_per_step {launches}  host_waits_per_step {HostWaitsPerStep}")
            : text;
    }

    private static string Format(double? value) => value is { } v ? v.ToString("G5", CultureInfo.InvariantCulture) : "";
}

/// <summary>
/// Timing: warm-up runs, then repeated runs, each ending with the device synchronized. The CPU accelerator runs
/// kernels as .NET code, which the runtime first compiles quickly and recompiles optimized after about 30 calls (and
/// a short delay), so one warm-up run would time unoptimized code; the warm-up goes on for 30 runs or 1.5 s.
/// </summary>
public static class Timer
{
    private const int WarmUpRuns = 30;
    private static readonly TimeSpan WarmUpTime = TimeSpan.FromSeconds(1.5);

    public static (double MedianMs, double MinMs, double MaxMs) Measure(int repeats, Action run)
    {
        ArgumentNullException.ThrowIfNull(run);
        WarmUp(run);
        var times = new double[Math.Max(1, repeats)];
        for (int i = 0; i < times.Length; i++)
        {
            var watch = Stopwatch.StartNew();
            run();
            times[i] = watch.Elapsed.TotalMilliseconds;
        }

        Array.Sort(times);
        return (times[times.Length / 2], times[0], times[^1]);
    }

    /// <summary>Runs <paramref name="run"/> at least once, then until 30 runs or 1.5 s.</summary>
    public static void WarmUp(Action run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var warmUp = Stopwatch.StartNew();
        for (int i = 0; i < WarmUpRuns && (i == 0 || warmUp.Elapsed < WarmUpTime); i++)
        {
            run();
        }
    }
}

/// <summary>bench.csv and the bar chart of yardstick ratios.</summary>
public static class BenchFiles
{
    public static void Write(string directory, IReadOnlyList<BenchRow> rows, string accelerator)
    {
        Directory.CreateDirectory(directory);
        var csv = new StringBuilder(BenchRow.CsvHeader).Append('\n');
        foreach (var row in rows)
        {
            csv.Append(row.ToCsv()).Append('\n');
        }

        GpuNet.Engine.Runs.AtomicFile.WriteAllText(Path.Combine(directory, "bench.csv"), csv.ToString());
        var ratios = rows.Where(r => r.YardstickRatio is not null).ToList();
        var plot = new ScottPlot.Plot();
        var bars = plot.Add.Bars(ratios.Select(r => r.YardstickRatio!.Value).ToArray());
        bars.Horizontal = true;
        plot.Axes.Left.SetTicks(
            Enumerable.Range(0, ratios.Count).Select(i => (double)i).ToArray(),
            ratios.Select(r => $"{r.Kernel} {r.Shape}").ToArray());
        plot.Add.VerticalLine(1.0);
        plot.Axes.Bottom.Label.Text = "speed relative to the yardstick (higher is faster)";
        plot.Title($"GpuNet kernels on {accelerator}");
        plot.Axes.Margins(left: 0);
        GpuNet.Engine.Runs.AtomicFile.WriteAllBytes(
            Path.Combine(directory, "bench.png"), plot.GetImageBytes(1100, Math.Max(400, 40 + (ratios.Count * 22)), ScottPlot.ImageFormat.Png));
    }
}
