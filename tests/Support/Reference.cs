namespace GpuNet.Tests.Support;

/// <summary>Plain C# references in double for every kernel family, and central finite differences.</summary>
public static class Reference
{
    /// <summary>Central differences of <paramref name="f"/> at <paramref name="x"/> with step <paramref name="h"/>.</summary>
    public static double[] Gradient(Func<double[], double> f, double[] x, double h = 1e-5)
    {
        var gradient = new double[x.Length];
        var probe = (double[])x.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            probe[i] = x[i] + h;
            double plus = f(probe);
            probe[i] = x[i] - h;
            double minus = f(probe);
            probe[i] = x[i];
            gradient[i] = (plus - minus) / (2 * h);
        }

        return gradient;
    }

    /// <summary>sum_i a[i] * b[i].</summary>
    public static double Dot(double[] a, float[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    /// <summary>y (n, out) = x (n, in) W^T + b, with W (out, in).</summary>
    public static double[] Linear(double[] x, double[] w, double[] b, int n, int inFeatures, int outFeatures)
    {
        var y = new double[n * outFeatures];
        for (int r = 0; r < n; r++)
        {
            for (int o = 0; o < outFeatures; o++)
            {
                double sum = b[o];
                for (int i = 0; i < inFeatures; i++)
                {
                    sum += x[(r * inFeatures) + i] * w[(o * inFeatures) + i];
                }

                y[(r * outFeatures) + o] = sum;
            }
        }

        return y;
    }

    public static double[] Conv2d(double[] x, double[] w, double[] b, int n, int c, int h, int wd, int cout, int k, int s, int p)
    {
        int oh = ((h + (2 * p) - k) / s) + 1, ow = ((wd + (2 * p) - k) / s) + 1;
        var y = new double[n * cout * oh * ow];
        for (int ni = 0; ni < n; ni++)
        {
            for (int o = 0; o < cout; o++)
            {
                for (int i = 0; i < oh; i++)
                {
                    for (int j = 0; j < ow; j++)
                    {
                        double sum = b[o];
                        for (int ci = 0; ci < c; ci++)
                        {
                            for (int kh = 0; kh < k; kh++)
                            {
                                for (int kw = 0; kw < k; kw++)
                                {
                                    int hi = (i * s) - p + kh, wi = (j * s) - p + kw;
                                    if (hi >= 0 && hi < h && wi >= 0 && wi < wd)
                                    {
                                        sum += x[(((((ni * c) + ci) * h) + hi) * wd) + wi] * w[(((((o * c) + ci) * k) + kh) * k) + kw];
                                    }
                                }
                            }
                        }

                        y[(((((ni * cout) + o) * oh) + i) * ow) + j] = sum;
                    }
                }
            }
        }

        return y;
    }

    /// <summary>Max pooling; argmax is h * W + w of the first maximum in the window.</summary>
    public static (double[] Output, int[] Argmax) MaxPool(double[] x, int n, int c, int h, int w, int k, int s, int p)
    {
        int oh = ((h + (2 * p) - k) / s) + 1, ow = ((w + (2 * p) - k) / s) + 1;
        var y = new double[n * c * oh * ow];
        var arg = new int[y.Length];
        for (int plane = 0; plane < n * c; plane++)
        {
            for (int i = 0; i < oh; i++)
            {
                for (int j = 0; j < ow; j++)
                {
                    double best = double.NegativeInfinity;
                    int bestIndex = -1;
                    for (int kh = 0; kh < k; kh++)
                    {
                        for (int kw = 0; kw < k; kw++)
                        {
                            int hi = (i * s) - p + kh, wi = (j * s) - p + kw;
                            if (hi >= 0 && hi < h && wi >= 0 && wi < w && x[(plane * h * w) + (hi * w) + wi] > best)
                            {
                                best = x[(plane * h * w) + (hi * w) + wi];
                                bestIndex = (hi * w) + wi;
                            }
                        }
                    }

                    int o = (((plane * oh) + i) * ow) + j;
                    y[o] = best;
                    arg[o] = bestIndex;
                }
            }
        }

        return (y, arg);
    }

    /// <summary>Average pooling with padding counted as zeros (divisor k * k).</summary>
    public static double[] AvgPool(double[] x, int n, int c, int h, int w, int k, int s, int p)
    {
        int oh = ((h + (2 * p) - k) / s) + 1, ow = ((w + (2 * p) - k) / s) + 1;
        var y = new double[n * c * oh * ow];
        for (int plane = 0; plane < n * c; plane++)
        {
            for (int i = 0; i < oh; i++)
            {
                for (int j = 0; j < ow; j++)
                {
                    double sum = 0;
                    for (int kh = 0; kh < k; kh++)
                    {
                        for (int kw = 0; kw < k; kw++)
                        {
                            int hi = (i * s) - p + kh, wi = (j * s) - p + kw;
                            if (hi >= 0 && hi < h && wi >= 0 && wi < w)
                            {
                                sum += x[(plane * h * w) + (hi * w) + wi];
                            }
                        }
                    }

                    y[(((plane * oh) + i) * ow) + j] = sum / (k * k);
                }
            }
        }

        return y;
    }

    /// <summary>erf(x) to about 1e-15: its Maclaurin series below |x| = 3, 1 - erfc(x) by erfc's continued fraction above.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }

        double z = Math.Abs(x);
        if (z < 3)
        {
            // erf(z) = 2 / sqrt(pi) * sum (-1)^k z^(2k+1) / (k! (2k+1)).
            double term = z, sum = z;
            for (int k = 1; k < 100 && Math.Abs(term) > 1e-18 * Math.Abs(sum); k++)
            {
                term *= -z * z / k;
                sum += term / ((2 * k) + 1);
            }

            return Math.CopySign(2 / Math.Sqrt(Math.PI) * sum, x);
        }

        // erfc(z) = exp(-z^2) / sqrt(pi) * 1 / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...)))), evaluated from the tail.
        double fraction = z;
        for (int k = 60; k >= 1; k--)
        {
            fraction = z + (k / 2.0 / fraction);
        }

        return Math.CopySign(1 - (Math.Exp(-z * z) / Math.Sqrt(Math.PI) / fraction), x);
    }

    /// <summary>GELU, exact: x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2.</summary>
    public static double Gelu(double x) => x * 0.5 * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>The mean of each of <paramref name="planes"/> consecutive planes of <paramref name="plane"/> elements.</summary>
    public static double[] GlobalAvgPool(double[] x, int planes, int plane)
    {
        var y = new double[planes];
        for (int i = 0; i < planes; i++)
        {
            double sum = 0;
            for (int j = 0; j < plane; j++)
            {
                sum += x[(i * plane) + j];
            }

            y[i] = sum / plane;
        }

        return y;
    }

    /// <summary>Training batch norm over layout (outer, channels, inner); returns y, mean, biased variance.</summary>
    public static (double[] Output, double[] Mean, double[] Variance) BatchNorm(
        double[] x, double[] gamma, double[] beta, int outer, int channels, int inner, double eps)
    {
        var y = new double[x.Length];
        var mean = new double[channels];
        var variance = new double[channels];
        int m = outer * inner;
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    sum += x[(((o * channels) + c) * inner) + i];
                }
            }

            mean[c] = sum / m;
            double squares = 0;
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    double d = x[(((o * channels) + c) * inner) + i] - mean[c];
                    squares += d * d;
                }
            }

            variance[c] = squares / m;
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    int index = (((o * channels) + c) * inner) + i;
                    y[index] = (gamma[c] * (x[index] - mean[c]) / Math.Sqrt(variance[c] + eps)) + beta[c];
                }
            }
        }

        return (y, mean, variance);
    }

    /// <summary>Per-row cross-entropy of softmax(logits) and the count of first-argmax hits.</summary>
    public static (double[] Losses, int Correct, double[] Probabilities) SoftmaxCrossEntropy(double[] logits, int[] labels, int classes)
    {
        int rows = labels.Length;
        var losses = new double[rows];
        var probabilities = new double[logits.Length];
        int correct = 0;
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            int argmax = 0;
            for (int j = 0; j < classes; j++)
            {
                if (logits[(r * classes) + j] > max)
                {
                    max = logits[(r * classes) + j];
                    argmax = j;
                }
            }

            double sum = 0;
            for (int j = 0; j < classes; j++)
            {
                sum += Math.Exp(logits[(r * classes) + j] - max);
            }

            for (int j = 0; j < classes; j++)
            {
                probabilities[(r * classes) + j] = Math.Exp(logits[(r * classes) + j] - max) / sum;
            }

            losses[r] = Math.Log(sum) - (logits[(r * classes) + labels[r]] - max);
            correct += argmax == labels[r] ? 1 : 0;
        }

        return (losses, correct, probabilities);
    }
}
