using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;

namespace GpuNet.Tests.Support;

/// <summary>Cancels its token once a given step has finished.</summary>
public sealed class CancelAt(int stopAfter, CancellationTokenSource source) : ITrainingObserver
{
    public void Started(TrainConfig config, string accelerator, long parameters, long deviceBytes, int firstStep)
    {
    }

    public void Step(int step, int steps, double imagesPerSecond, double elapsedSeconds)
    {
        if (step == stopAfter)
        {
            source.Cancel();
        }
    }

    public void Evaluated(MetricsRow row, int steps)
    {
    }

    public void Skipped(int step, string reason)
    {
    }
}
