using GpuNet.Kernels;

namespace GpuNet.Engine.Data;

/// <summary>One split of a data set: raw pixel bytes (count, C, H, W), row-major, and a label per sample.</summary>
public sealed record DataSplit(byte[] Pixels, int[] Labels)
{
    /// <summary>The number of samples.</summary>
    public int Count => Labels.Length;

    /// <summary>
    /// Divides the split by a fixed draw (seed 0, whatever the run's seed, so runs compare on the same samples): a share
    /// <paramref name="fraction"/> of the samples (rounded, at least 1) for validation, the rest, in their order, for
    /// training.
    /// </summary>
    /// <exception cref="ConfigurationException">Either part would be empty.</exception>
    public (DataSplit Train, DataSplit Validation) SplitOff(double fraction)
    {
        int held = Math.Max(1, (int)Math.Round(fraction * Count));
        if (!(fraction > 0 && fraction < 1) || held >= Count)
        {
            throw new ConfigurationException($"--val-split {fraction} leaves no training images of {Count}.");
        }

        var order = Enumerable.Range(0, Count).ToArray();
        new Random(0).Shuffle(order);
        var validation = new bool[Count];
        foreach (int i in order.AsSpan(0, held))
        {
            validation[i] = true;
        }

        int size = Pixels.Length / Count;
        DataSplit Take(bool part)
        {
            var rows = Enumerable.Range(0, Count).Where(i => validation[i] == part).ToArray();
            var pixels = new byte[rows.Length * size];
            for (int r = 0; r < rows.Length; r++)
            {
                Pixels.AsSpan(rows[r] * size, size).CopyTo(pixels.AsSpan(r * size));
            }

            return new DataSplit(pixels, [.. rows.Select(i => Labels[i])]);
        }

        return (Take(false), Take(true));
    }
}

/// <summary>An image classification data set: its sample shape (C, H, W), class names and train and test splits.</summary>
public sealed record Dataset(string Name, Shape SampleShape, IReadOnlyList<string> ClassNames, DataSplit Train, DataSplit Test)
{
    /// <summary>The number of classes.</summary>
    public int Classes => ClassNames.Count;
}

/// <summary>How pixels are scaled before the model sees them.</summary>
public enum Normalization
{
    /// <summary>The reference's: subtract the training set's mean image and keep the 0..255 scale.</summary>
    None,

    /// <summary>Per channel: subtract the training set's mean and divide by its standard deviation.</summary>
    Standard,
}

/// <summary>
/// The preprocessing, computed once from the training split: x' = (x - Mean[c, h, w]) * InvStd[c]. For
/// <see cref="Normalization.None"/> Mean is the mean image and InvStd is 1; for <see cref="Normalization.Standard"/>
/// Mean is each channel's mean repeated over the plane and InvStd is 1 / the channel's standard deviation.
/// </summary>
public sealed record Preprocessing(Normalization Normalization, float[] Mean, float[] InvStd)
{
    /// <summary>Computes the preprocessing of <paramref name="train"/> (samples of <paramref name="sample"/>).</summary>
    public static Preprocessing FromTraining(DataSplit train, Shape sample, Normalization normalization)
    {
        ArgumentNullException.ThrowIfNull(train);
        int size = sample.Length, channels = sample[0], plane = size / channels;
        var sums = new double[size];
        for (int n = 0; n < train.Count; n++)
        {
            var row = train.Pixels.AsSpan(n * size, size);
            for (int p = 0; p < size; p++)
            {
                sums[p] += row[p];
            }
        }

        int count = Math.Max(1, train.Count);
        var mean = new float[size];
        var invStd = Enumerable.Repeat(1f, channels).ToArray();
        if (normalization == Normalization.None)
        {
            for (int p = 0; p < size; p++)
            {
                mean[p] = (float)(sums[p] / count);
            }

            return new Preprocessing(normalization, mean, invStd);
        }

        for (int c = 0; c < channels; c++)
        {
            double channelMean = 0;
            for (int p = 0; p < plane; p++)
            {
                channelMean += sums[(c * plane) + p];
            }

            channelMean /= (double)count * plane;
            double squares = 0;
            for (int n = 0; n < train.Count; n++)
            {
                var channel = train.Pixels.AsSpan((n * size) + (c * plane), plane);
                foreach (byte v in channel)
                {
                    squares += (v - channelMean) * (v - channelMean);
                }
            }

            double std = Math.Sqrt(squares / ((double)count * plane));
            invStd[c] = std > 0 ? (float)(1 / std) : 1f;
            Array.Fill(mean, (float)channelMean, c * plane, plane);
        }

        return new Preprocessing(normalization, mean, invStd);
    }
}
