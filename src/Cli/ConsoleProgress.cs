using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;

namespace GpuNet.Cli;

/// <summary>Progress on the console: a live line on a terminal, plain lines at each evaluation otherwise.</summary>
internal sealed class ConsoleProgress(TextWriter output, bool interactive) : ITrainingObserver
{
    private MetricsRow? last;
    private long lastDraw;
    private bool lineOpen;

    public void Started(TrainConfig config, string accelerator, long parameters, long deviceBytes, int firstStep) =>
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"training {config.Model} ({parameters:N0} parameters) on {DataSets.Name(config.Dataset)} with {accelerator}{(firstStep > 1 ? $" from step {firstStep}" : "")}; device memory held: {DeviceMemoryException.Format(deviceBytes)}"));

    public void Skipped(int step, string reason)
    {
        if (lineOpen)
        {
            output.WriteLine();
            lineOpen = false;
        }

        output.WriteLine($"{reason}; skipped (--on-nan skip)");
    }

    public void Step(int step, int steps, double imagesPerSecond, double elapsedSeconds)
    {
        if (!interactive)
        {
            return;
        }

        long now = Environment.TickCount64;
        if (now - lastDraw < 250 && step != steps)
        {
            return;
        }

        lastDraw = now;
        double eta = step > 0 ? elapsedSeconds / step * (steps - step) : 0;
        string metrics = last is null ? "" : string.Create(CultureInfo.InvariantCulture, $"  loss {last.TrainLoss:F4}  test acc {last.TestAccuracy:F4}");
        output.Write(string.Create(
            CultureInfo.InvariantCulture,
            $"\rstep {step}/{steps}{metrics}  {imagesPerSecond:F0} img/s  ETA {TimeSpan.FromSeconds(Math.Round(eta)):hh\\:mm\\:ss}   "));
        lineOpen = true;
    }

    public void Evaluated(MetricsRow row, int steps)
    {
        last = row;
        if (lineOpen)
        {
            output.WriteLine();
            lineOpen = false;
        }

        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"step {row.Step,6}/{steps}  train loss {row.TrainLoss:F4}  test loss {row.TestLoss:F4}  test accuracy {row.TestAccuracy:F4}{(double.IsNaN(row.ValAccuracy) ? "" : $"  val accuracy {row.ValAccuracy:F4}")}  {row.ElapsedSeconds:F1} s"));
    }

    public void Finish()
    {
        if (lineOpen)
        {
            output.WriteLine();
        }
    }
}
