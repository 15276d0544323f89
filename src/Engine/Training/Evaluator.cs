using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Layers;

namespace GpuNet.Engine.Training;

/// <summary>
/// A model with its loss and the device-resident test data, for evaluation. Data-parallel ranks each evaluate a
/// contiguous share of the split and sum their losses and correct counts, so the accuracy is exactly one process's.
/// </summary>
public sealed class Evaluator(Sequential model, SoftmaxCrossEntropyLoss loss, BatchBuffers batches, DeviceSplit test, LossTotals totals, DataParallel? parallel = null)
{
    /// <summary>Mean loss and accuracy over the whole split, in evaluation mode (running BatchNorm statistics).</summary>
    public (double Loss, double Accuracy) Evaluate()
    {
        ArgumentNullException.ThrowIfNull(model);
        var ranks = parallel ?? DataParallel.OneProcess;
        int first = (int)((long)test.Count * ranks.Rank / ranks.Size), end = (int)((long)test.Count * (ranks.Rank + 1) / ranks.Size);
        for (int offset = first; offset < end; offset += model.BatchCapacity)
        {
            int rows = Math.Min(model.BatchCapacity, end - offset);
            var (input, labels) = batches.Gather(test, offset, rows);
            loss.Compute(model.Forward(input, training: false), labels, totals);
        }

        var (lossSum, correct, samples) = totals.ReadSums();
        (lossSum, correct, samples) = ranks.SumEvaluation(lossSum, correct, samples);
        return samples == 0 ? (double.NaN, double.NaN) : (lossSum / samples, (double)correct / samples);
    }
}
