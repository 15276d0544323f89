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
        using var model = info.Spec.Build(kernels, capacity, seed: 0, info.Precision);
        ModelFile.Apply(model, tensors, source);
        using var loss = new SoftmaxCrossEntropyLoss(kernels, capacity, data.Classes);
        using var batches = new BatchBuffers(kernels, data.SampleShape, capacity, info.Preprocessing);
        using var test = new DeviceSplit(kernels, data.Test, data.SampleShape);
        using var totals = new LossTotals(kernels, device.Reads);
        return new Evaluator(model, loss, batches, test, totals).Evaluate();
    }

    /// <summary>
    /// The class probabilities (count, classes) the model in <paramref name="info"/> gives <paramref name="pixels"/>:
    /// <paramref name="count"/> raw images (count, C, H, W) of the model's input shape, 0..255, preprocessed as the model
    /// was trained.
    /// </summary>
    public static float[] Predict(
        Device device, ModelFileInfo info, IReadOnlyDictionary<string, SafeTensor> tensors, string source, byte[] pixels, int count, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(pixels);
        var sample = new GpuNet.Kernels.Shape(info.Spec.InputShape);
        if (count < 1 || pixels.Length != (long)count * sample.Length)
        {
            throw new ArgumentException($"{count} images of shape {sample} need {(long)count * sample.Length} bytes, got {pixels.Length}.", nameof(pixels));
        }

        var kernels = device.Kernels;
        int capacity = Math.Min(batchSize, count), classes = info.Spec.Classes;
        using var model = info.Spec.Build(kernels, capacity, seed: 0, info.Precision);
        ModelFile.Apply(model, tensors, source);
        using var batches = new BatchBuffers(kernels, sample, capacity, info.Preprocessing);
        using var split = new DeviceSplit(kernels, new DataSplit(pixels, new int[count]), sample);
        var result = new float[count * classes];
        for (int offset = 0; offset < count; offset += capacity)
        {
            int rows = Math.Min(capacity, count - offset);
            var (input, _) = batches.Gather(split, offset, rows);
            var output = model.Forward(input, training: false);
            device.Reads.WaitForDevice();
            DeviceCopy.CopyToHost(output, result.AsSpan(offset * classes, rows * classes));
        }

        for (int n = 0; n < count; n++)
        {
            var row = result.AsSpan(n * classes, classes);
            float max = float.NegativeInfinity;
            foreach (float z in row)
            {
                max = Math.Max(max, z);
            }

            double sum = 0;
            foreach (float z in row)
            {
                sum += Math.Exp(z - max);
            }

            for (int j = 0; j < classes; j++)
            {
                row[j] = (float)(Math.Exp(row[j] - max) / sum);
            }
        }

        return result;
    }
}
