// The host's view of the steps the device ran: at a read point it waits for the device once (DeviceReads), copies the
// step status and the ring of per-step losses, adds the losses of the good steps since the last read to the running
// training loss (in step order, in double, so the figures equal a run that read after every step), and reports
// divergence and skipped steps.
using System.Globalization;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Layers;
using GpuNet.Kernels;

namespace GpuNet.Engine.Training;

/// <summary>What a read of the device's step record found.</summary>
/// <param name="Step">The last step read.</param>
/// <param name="AppliedUpdates">Optimizer updates applied through <paramref name="Step"/>.</param>
/// <param name="SkippedSteps">Steps skipped so far (--on-nan skip), this run and before a resume.</param>
/// <param name="NewlySkipped">Steps skipped since the previous read.</param>
/// <param name="Divergence">
/// Under --on-nan stop, the message naming the first bad step, its loss and the first layer whose gradient was not
/// finite; under skip, the last skipped step's; null when no step since the previous read was bad.
/// </param>
/// <param name="StopCode">
/// The stop request the last step's gradient sum carried (<see cref="DataParallel.StopCode"/> of the recorded flag sums;
/// 0 for none, and always 0 in one process).
/// </param>
public sealed record StepReport(int Step, long AppliedUpdates, int SkippedSteps, int NewlySkipped, string? Divergence, int StopCode = 0);

/// <summary>Reads the device's record of the steps since the last read, and keeps the running training loss.</summary>
public sealed class StepMonitor
{
    private readonly TrainingStep step;
    private readonly Sequential model;
    private readonly DeviceReads reads;
    private readonly int batchSize;
    private readonly int[] status;
    private readonly float[] losses;
    private readonly int[] marks;
    private readonly int skippedBefore;
    private int accountedThrough;
    private int deviceSkippedSeen;

    /// <summary>
    /// Starts monitoring a run whose steps after <paramref name="lastStep"/> are still to come, with the training loss
    /// summed so far since the last evaluation (<paramref name="lossSum"/> over <paramref name="samples"/>) and
    /// <paramref name="skippedSteps"/> skipped before.
    /// </summary>
    public StepMonitor(TrainingStep step, Sequential model, DeviceReads reads, int batchSize, int lastStep, double lossSum, long samples, int skippedSteps)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(model);
        this.step = step;
        this.model = model;
        this.reads = reads;
        this.batchSize = batchSize;
        status = new int[step.Status.Capacity.Length];
        losses = new float[step.RingSize];
        marks = new int[step.RingSize];
        accountedThrough = lastStep;
        LossSum = lossSum;
        Samples = samples;
        skippedBefore = skippedSteps;
    }

    /// <summary>The training loss summed over the good steps accounted for since the last <see cref="TakeLoss"/>.</summary>
    public double LossSum { get; private set; }

    /// <summary>Samples behind <see cref="LossSum"/>.</summary>
    public long Samples { get; private set; }

    /// <summary>The last step whose loss has been accounted for.</summary>
    public int AccountedThrough => accountedThrough;

    /// <summary>
    /// Waits for the device (one counted wait) and reads the steps after the last read through <paramref name="through"/>,
    /// which must be at most <see cref="TrainingStep.RingSize"/> steps later.
    /// </summary>
    public StepReport Read(int through)
    {
        int count = through - accountedThrough;
        if (count < 0 || count > step.RingSize)
        {
            throw new InvalidOperationException($"Steps {accountedThrough + 1} .. {through} do not fit the device's ring of {step.RingSize} steps.");
        }

        reads.WaitForDevice();
        step.Status.Download(status);
        if (count > 0)
        {
            CopyRing(accountedThrough + 1, count);
        }

        for (int s = accountedThrough + 1; s <= through; s++)
        {
            int slot = step.Slot(s);
            if (marks[slot] != s)
            {
                LossSum += losses[slot];
                Samples += batchSize;
            }
        }

        int first = status[StepStatus.FirstBadStep], last = status[StepStatus.LastBadStep];
        int deviceSkipped = status[StepStatus.SkippedSteps];
        string? divergence = null;
        if (last > accountedThrough)
        {
            int reported = first > accountedThrough ? first : last;
            divergence = Describe(reported);
        }

        int newlySkipped = deviceSkipped - deviceSkippedSeen;
        deviceSkippedSeen = deviceSkipped;
        accountedThrough = through;
        int stopCode = DataParallel.StopCode(status[StepStatus.Carried], status[StepStatus.Carried + 1]);
        return new StepReport(through, status[StepStatus.AppliedBefore(through + 1)], skippedBefore + deviceSkipped, newlySkipped, divergence, stopCode);
    }

    /// <summary>Returns the mean training loss accounted since the last call (NaN if none) and starts over.</summary>
    public double TakeLoss()
    {
        double mean = Samples > 0 ? LossSum / Samples : double.NaN;
        LossSum = 0;
        Samples = 0;
        return mean;
    }

    /// <summary>The ring's entries of steps <paramref name="first"/> .. first + count - 1 into the host copies, by slot.</summary>
    private void CopyRing(int first, int count)
    {
        int start = step.Slot(first);
        int head = Math.Min(count, step.RingSize - start);
        step.Losses.Download(start, losses.AsSpan(start, head));
        step.BadMarks.Download(start, marks.AsSpan(start, head));
        if (count > head)
        {
            step.Losses.Download(0, losses.AsSpan(0, count - head));
            step.BadMarks.Download(0, marks.AsSpan(0, count - head));
        }
    }

    /// <summary>One line naming the step, its loss and the first layer whose gradient was not finite.</summary>
    private string Describe(int badStep)
    {
        string where = "";
        for (int t = 0; t < model.NamedParameters.Count; t++)
        {
            if (status[StepStatus.TensorSteps + t] == badStep)
            {
                string name = model.NamedParameters[t].Name;
                var (path, layer) = model.NamedLayers.First(l => name.StartsWith(l.Path + ".", StringComparison.Ordinal) && name.LastIndexOf('.') == l.Path.Length);
                where = $"; first non-finite gradient in layer {path} ({layer.Kind}, {name})";
                break;
            }
        }

        float loss = losses[step.Slot(badStep)];
        return string.Create(CultureInfo.InvariantCulture, $"Divergence at step {badStep}: the batch loss is {loss}{where}");
    }
}
