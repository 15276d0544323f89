using System.Globalization;

namespace GpuNet.Tests.Support;

/// <summary>Seeded data and tolerance comparisons that report the max difference and the first bad index.</summary>
public static class Numerics
{
    public static float[] Normal(Random random, int length, double std = 1.0, double mean = 0.0)
    {
        var data = new float[length];
        for (int i = 0; i < length; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            data[i] = (float)(mean + (std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2)));
        }

        return data;
    }

    /// <summary>Asserts |actual - expected| &lt;= atol + rtol * |expected| everywhere; where NaN or an infinity is expected, exactly that.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double atol, double rtol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}");
        double maxDiff = 0;
        int firstBad = -1, bad = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(actual[i] - expected[i]), tolerance = atol + (rtol * Math.Abs(expected[i]));
            if (!double.IsFinite(expected[i]))
            {
                // NaN or an infinity is expected exactly.
                bool same = double.IsNaN(expected[i]) ? double.IsNaN(actual[i]) : actual[i] == expected[i];
                (diff, tolerance) = (same ? 0 : double.PositiveInfinity, 0);
            }
            else if (double.IsNaN(actual[i]) || double.IsNaN(diff))
            {
                diff = double.PositiveInfinity;
            }

            maxDiff = Math.Max(maxDiff, diff);
            if (diff > tolerance)
            {
                bad++;
                if (firstBad < 0)
                {
                    firstBad = i;
                }
            }
        }

        if (bad > 0)
        {
            Assert.Fail(string.Format(
                CultureInfo.InvariantCulture,
                "{0}: {1} of {2} values out of tolerance (atol {3}, rtol {4}); max |diff| {5:G6}; first bad index {6}: expected {7:G9}, got {8:G9}",
                what, bad, expected.Length, atol, rtol, maxDiff, firstBad, expected[firstBad], actual[firstBad]));
        }
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, string what) =>
        AssertClose(expected, actual, 1e-4, 1e-4, what);

    public static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);
}
