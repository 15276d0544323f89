using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;

namespace GpuNet.Engine.Training;

/// <summary>Evaluates a saved model on a data set's test split.</summary>
public static class Evaluation
{
    /// <summary>Rebuilds the model described by <paramref name="info"/>, loads <paramref name="tensors"/> and evaluates it.</summary>
    public static (double Loss, double Accuracy) Run(
        Device device, ModelFileInfo info, IReadOnlyDictionary<string, SafeTensor> tensors, string source, Dataset data, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(data);
        var kernels = device.Kernels;
        int capacity = Math.Min(batchSize, data.Test.Count);
        using var model = info.Spec.Build(kernels, capacity, seed: 0);
        ModelFile.Apply(model, tensors, source);
        using var loss = new SoftmaxCrossEntropyLoss(kernels, capacity, data.Classes);
        using var batches = new BatchBuffers(kernels, data.SampleShape, capacity, info.Preprocessing);
        using var test = new DeviceSplit(kernels, data.Test, data.SampleShape);
        using var totals = new LossTotals(kernels);
        return new Evaluator(model, loss, batches, test, totals).Evaluate();
    }
}
