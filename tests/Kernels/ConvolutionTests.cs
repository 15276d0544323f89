using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class ConvolutionTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    // (N, C, H, W, Cout, K, stride, padding): the VGG's 3x3/1/1, a 1x1 input under a 3x3 kernel with padding wider
    // than the border, strides 2 and 3, a 1x1 kernel, an even kernel, non-square inputs, primes.
    private static readonly (int N, int C, int H, int W, int Cout, int K, int S, int P)[] Cases =
    [
        (2, 3, 5, 5, 4, 3, 1, 1), (1, 1, 1, 1, 2, 3, 1, 1), (2, 2, 7, 6, 3, 3, 2, 0), (1, 2, 4, 4, 5, 1, 1, 0),
        (3, 1, 5, 5, 2, 5, 3, 2), (1, 3, 6, 5, 2, 2, 2, 1), (1, 2, 3, 7, 1, 3, 1, 2),
    ];

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ForwardAndBackwardMatchReferenceAndFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(10);
        foreach (var ((n, c, h, w, cout, k, s, p), index) in Cases.Select((shape, index) => (shape, index)))
        {
            // Every other case has no bias (a bias-free convolution: no bias added, no bias gradient).
            bool hasBias = index % 2 == 0;
            string what = $"conv N{n} C{c} {h}x{w} -> {cout}, k{k} s{s} p{p}{(hasBias ? "" : " without bias")} on {accelerator}";
            var window = new Window(k, s, p);
            var inputShape = new Shape(n, c, h, w);
            var weightShape = new Shape(cout, c, k, k);
            var outputShape = Convolution.OutputShape(inputShape, weightShape, window);
            float[] x = Numerics.Normal(random, inputShape.Length), wt = Numerics.Normal(random, weightShape.Length);
            float[] b = hasBias ? Numerics.Normal(random, cout) : new float[cout], r = Numerics.Normal(random, outputShape.Length);

            var input = buffers.Upload(x, n, c, h, w);
            var weight = buffers.Upload(wt, cout, c, k, k);
            TensorView<float>? bias = hasBias ? buffers.Upload(b, cout) : null;
            var output = buffers.Garbage(outputShape[0], outputShape[1], outputShape[2], outputShape[3]);
            var columns = buffers.Garbage(Convolution.ColumnsLength(inputShape, weightShape, window));
            var scratch = buffers.Garbage(Convolution.ScratchLength(inputShape, weightShape, window));
            library.Convolution.Forward(output, input, weight, bias, window, columns, scratch);

            double[] xd = Numerics.ToDouble(x), wd = Numerics.ToDouble(wt), bd = Numerics.ToDouble(b);
            var expected = Reference.Conv2d(xd, wd, bd, n, c, h, w, cout, k, s, p);
            Numerics.AssertClose(expected, buffers.Read(output), 1e-4, 1e-4, what + " forward");

            // The same forward adding a tensor of the output's shape in its output pass (a residual block's sum).
            float[] addend = Numerics.Normal(random, outputShape.Length);
            var summed = buffers.Garbage(outputShape[0], outputShape[1], outputShape[2], outputShape[3]);
            library.Convolution.Forward(
                summed, input, weight, bias, window, columns, scratch, addend: buffers.Upload(addend, outputShape[0], outputShape[1], outputShape[2], outputShape[3]));
            Numerics.AssertClose(expected.Select((v, i) => v + addend[i]).ToArray(), buffers.Read(summed), 1e-4, 1e-4, what + " forward + addend");

            // Parameter gradients start non-zero and must accumulate; dInput must be overwritten (it starts as NaN).
            float[] dWeight0 = Numerics.Normal(random, weightShape.Length), dBias0 = Numerics.Normal(random, cout);
            var dWeight = buffers.Upload(dWeight0, cout, c, k, k);
            TensorView<float>? dBias = hasBias ? buffers.Upload(dBias0, cout) : null;
            var dInput = buffers.Garbage(n, c, h, w);
            var dOutput = buffers.Upload(r, outputShape[0], outputShape[1], outputShape[2], outputShape[3]);
            library.Convolution.Backward(dInput, dWeight, dBias, dOutput, input, weight, window, columns, scratch);

            double Loss(double[] xs, double[] ws, double[] bs) => Reference.Dot(Reference.Conv2d(xs, ws, bs, n, c, h, w, cout, k, s, p), r);
            var gx = Reference.Gradient(v => Loss(v, wd, bd), xd);
            var gw = Reference.Gradient(v => Loss(xd, v, bd), wd);
            var gb = Reference.Gradient(v => Loss(xd, wd, v), bd);
            Numerics.AssertClose(gx, buffers.Read(dInput), 1e-4, 1e-4, what + " dInput");
            Numerics.AssertClose(gw.Select((g, i) => g + dWeight0[i]).ToArray(), buffers.Read(dWeight), 1e-4, 1e-4, what + " dWeight");
            if (dBias is { } db)
            {
                Numerics.AssertClose(gb.Select((g, i) => g + dBias0[i]).ToArray(), buffers.Read(db), 1e-4, 1e-4, what + " dBias");
            }
        }
    });

    // TF32 cases: the VGG's 3x3/1/1, strides 2 with and without padding, a 1x1 kernel, and one each of the three GEMMs
    // long enough in K to be split on a 132-SM GPU (the OpenCL device is launched as one).
    private static readonly (int N, int C, int H, int W, int Cout, int K, int S, int P)[] Tf32Cases =
    [
        (2, 3, 9, 9, 5, 3, 1, 1), (3, 4, 8, 7, 6, 3, 2, 1), (2, 5, 7, 7, 3, 3, 2, 0), (2, 6, 5, 5, 4, 1, 1, 0), (8, 64, 8, 8, 16, 3, 1, 1),
        (32, 16, 14, 14, 8, 3, 1, 1),
    ];

    /// <summary>
    /// The convolution's three GEMMs in TF32 (forward, dWeight, dInput) against a double reference of what they compute:
    /// each GEMM operand (weight, input, dOutput) rounded to TF32, products exact, fp32 sums; the tolerance of each
    /// element is the TF32 GEMM tests' (4 u √(Σ partial sums²) + 2 u |value|), tight enough that unrounded operands fail
    /// (checked). The bias gradient is no GEMM: plain fp32.
    /// </summary>
    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Tf32PassesMatchTheTf32Reference(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        using var pinned = Support.Accelerators.PinTensorTile(library);
        var random = new Random(17);
        foreach (var (n, c, h, w, cout, k, s, p) in Tf32Cases)
        {
            string what = $"TF32 conv N{n} C{c} {h}x{w} -> {cout}, k{k} s{s} p{p} on {accelerator}";
            var window = new Window(k, s, p);
            var inputShape = new Shape(n, c, h, w);
            var weightShape = new Shape(cout, c, k, k);
            var outputShape = Convolution.OutputShape(inputShape, weightShape, window);
            library.Convolution.Reserve(inputShape, weightShape, window, GemmPrecision.Tf32);
            float[] x = Numerics.Normal(random, inputShape.Length), wt = Numerics.Normal(random, weightShape.Length);
            float[] b = Numerics.Normal(random, cout), r = Numerics.Normal(random, outputShape.Length);
            float[] dWeight0 = Numerics.Normal(random, weightShape.Length), dBias0 = Numerics.Normal(random, cout);
            var input = buffers.Upload(x, n, c, h, w);
            var weight = buffers.Upload(wt, cout, c, k, k);
            var output = buffers.Garbage(outputShape[0], outputShape[1], outputShape[2], outputShape[3]);
            var columns = buffers.Garbage(library.Convolution.ColumnsWorkspace(inputShape, weightShape, window) + 1);
            var scratch = buffers.Garbage(library.Convolution.ScratchWorkspace(inputShape, weightShape, window) + 1);
            library.Convolution.Forward(output, input, weight, buffers.Upload(b, cout), window, columns, scratch, GemmPrecision.Tf32);
            var dWeight = buffers.Upload(dWeight0, cout, c, k, k);
            var dBias = buffers.Upload(dBias0, cout);
            var dInput = buffers.Garbage(n, c, h, w);
            var dOutput = buffers.Upload(r, outputShape[0], outputShape[1], outputShape[2], outputShape[3]);
            library.Convolution.Backward(dInput, dWeight, dBias, dOutput, input, weight, window, columns, scratch, GemmPrecision.Tf32);

            var rounded = Tf32Reference(x, wt, b, r, dWeight0, n, c, h, w, cout, k, s, p, round: true);
            var plain = Tf32Reference(x, wt, b, r, dWeight0, n, c, h, w, cout, k, s, p, round: false);
            Tf32GemmTests.AssertWithin(rounded.Output.Value, rounded.Output.Tolerance, buffers.Read(output), what + " forward", plain.Output.Value);
            Tf32GemmTests.AssertWithin(rounded.DInput.Value, rounded.DInput.Tolerance, buffers.Read(dInput), what + " dInput", plain.DInput.Value);
            Tf32GemmTests.AssertWithin(rounded.DWeight.Value, rounded.DWeight.Tolerance, buffers.Read(dWeight), what + " dWeight", plain.DWeight.Value);
            var (_, _, gb) = BackwardReference(Numerics.ToDouble(x), Numerics.ToDouble(wt), Numerics.ToDouble(r), n, c, h, w, cout, k, s, p);
            Numerics.AssertClose(gb.Select((g, i) => g + dBias0[i]).ToArray(), buffers.Read(dBias), 1e-4, 1e-4, what + " dBias");
        }
    });

    /// <summary>Sums in double that also keep Σ (partial sum)² per element, for the TF32 tolerance.</summary>
    private sealed class Sums(int length)
    {
        private readonly double[] sum = new double[length], squares = new double[length];

        public void Add(int i, double term)
        {
            sum[i] += term;
            squares[i] += sum[i] * sum[i];
        }

        /// <summary>Each element plus <paramref name="offset"/>, and its tolerance (4 u √(Σ partial²) + 2 u |value|).</summary>
        public (double[] Value, double[] Tolerance) Result(Func<int, double> offset)
        {
            const double U = 1.0 / (1 << 24);
            var value = sum.Select((v, i) => v + offset(i)).ToArray();
            return (value, [.. value.Select((v, i) => (4 * U * Math.Sqrt(squares[i])) + (2 * U * Math.Abs(v)) + 1e-30)]);
        }
    }

    /// <summary>
    /// Forward (+ bias), dInput and dWeight (+ its starting value) with every GEMM operand rounded to TF32 when
    /// <paramref name="round"/> (the weight, the input, dOutput), each with its tolerance.
    /// </summary>
    private static ((double[] Value, double[] Tolerance) Output, (double[] Value, double[] Tolerance) DInput, (double[] Value, double[] Tolerance) DWeight) Tf32Reference(
        float[] x, float[] w, float[] b, float[] dOut, float[] dWeight0, int n, int c, int h, int wd, int cout, int k, int s, int p, bool round)
    {
        float R(float v) => round ? Tf32.Round(v) : v;
        int oh = ((h + (2 * p) - k) / s) + 1, ow = ((wd + (2 * p) - k) / s) + 1;
        var output = new Sums(n * cout * oh * ow);
        var dInput = new Sums(x.Length);
        var dWeight = new Sums(w.Length);
        foreach (var (yi, xi, wj) in Taps(n, c, h, wd, cout, k, s, p))
        {
            output.Add(yi, (double)R(x[xi]) * R(w[wj]));
            dInput.Add(xi, (double)R(dOut[yi]) * R(w[wj]));
            dWeight.Add(wj, (double)R(dOut[yi]) * R(x[xi]));
        }

        int plane = oh * ow;
        return (output.Result(i => b[i / plane % cout]), dInput.Result(_ => 0), dWeight.Result(i => dWeight0[i]));
    }

    /// <summary>
    /// Every (output, input, weight) index triple of a convolution's multiply-adds inside the image, in the order
    /// (n, cout, oh, ow, c, kh, kw).
    /// </summary>
    private static IEnumerable<(int Y, int X, int W)> Taps(int n, int c, int h, int wd, int cout, int k, int s, int p)
    {
        int oh = ((h + (2 * p) - k) / s) + 1, ow = ((wd + (2 * p) - k) / s) + 1;
        for (int ni = 0; ni < n; ni++)
        {
            for (int o = 0; o < cout; o++)
            {
                for (int i = 0; i < oh; i++)
                {
                    for (int j = 0; j < ow; j++)
                    {
                        int yi = (((((ni * cout) + o) * oh) + i) * ow) + j;
                        for (int ci = 0; ci < c; ci++)
                        {
                            for (int kh = 0; kh < k; kh++)
                            {
                                for (int kw = 0; kw < k; kw++)
                                {
                                    int hi = (i * s) - p + kh, wi = (j * s) - p + kw;
                                    if (hi >= 0 && hi < h && wi >= 0 && wi < wd)
                                    {
                                        yield return (yi, (((((ni * c) + ci) * h) + hi) * wd) + wi, (((((o * c) + ci) * k) + kh) * k) + kw);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>dInput, dWeight, dBias of sum(conv(x, w, b) * dOut), by direct loops in double.</summary>
    private static (double[] DInput, double[] DWeight, double[] DBias) BackwardReference(
        double[] x, double[] w, double[] dOut, int n, int c, int h, int wd, int cout, int k, int s, int p)
    {
        int oh = ((h + (2 * p) - k) / s) + 1, ow = ((wd + (2 * p) - k) / s) + 1;
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[cout];
        for (int yi = 0; yi < dOut.Length; yi++)
        {
            db[yi / (oh * ow) % cout] += dOut[yi];
        }

        foreach (var (yi, xi, wj) in Taps(n, c, h, wd, cout, k, s, p))
        {
            dx[xi] += dOut[yi] * w[wj];
            dw[wj] += dOut[yi] * x[xi];
        }

        return (dx, dw, db);
    }

    // Shapes whose GEMMs a 132-SM GPU splits along K (the OpenCL device is launched as one): the forward's K = C * 9, the
    // weight gradient's K = N * OH * OW and the input gradient's K = Cout * 9 are long, the outputs small. Stride 2 on
    // the second.
    private static readonly (int N, int C, int H, int W, int Cout, int K, int S, int P)[] SplitCases =
    [
        (8, 64, 8, 8, 16, 3, 1, 1), (32, 32, 14, 14, 16, 3, 2, 1), (32, 16, 14, 14, 8, 3, 1, 1), (8, 64, 4, 4, 64, 3, 1, 1),
    ];

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void SplitKConvolutionsMatchTheReference(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(12);
        foreach (var (n, c, h, w, cout, k, s, p) in SplitCases)
        {
            string what = $"conv N{n} C{c} {h}x{w} -> {cout}, k{k} s{s} p{p} on {accelerator}";
            var window = new Window(k, s, p);
            var inputShape = new Shape(n, c, h, w);
            var weightShape = new Shape(cout, c, k, k);
            var outputShape = Convolution.OutputShape(inputShape, weightShape, window);
            int np = n * outputShape[2] * outputShape[3];
            if (!library.Policy.IsCpu)
            {
                bool split = Splits(library, cout, np, c * k * k) > 1 || Splits(library, cout, c * k * k, np) > 1 || Splits(library, c, n * h * w, cout * k * k) > 1;
                Assert.True(split, $"{what}: none of the three GEMMs is split");
            }

            // Reserved, so the launches get the plans asked about above whatever the shared library reserved before.
            library.Convolution.Reserve(inputShape, weightShape, window);
            float[] x = Numerics.Normal(random, inputShape.Length), wt = Numerics.Normal(random, weightShape.Length);
            float[] b = Numerics.Normal(random, cout), r = Numerics.Normal(random, outputShape.Length);
            var input = buffers.Upload(x, n, c, h, w);
            var weight = buffers.Upload(wt, cout, c, k, k);
            var output = buffers.Garbage(outputShape[0], outputShape[1], outputShape[2], outputShape[3]);
            var columns = buffers.Garbage(library.Convolution.ColumnsWorkspace(inputShape, weightShape, window) + 1);
            var scratch = buffers.Garbage(library.Convolution.ScratchWorkspace(inputShape, weightShape, window) + 1);
            float[] addend = Numerics.Normal(random, outputShape.Length);
            var addendView = buffers.Upload(addend, outputShape[0], outputShape[1], outputShape[2], outputShape[3]);
            library.Convolution.Forward(output, input, weight, buffers.Upload(b, cout), window, columns, scratch, addend: addendView);
            double[] xd = Numerics.ToDouble(x), wd = Numerics.ToDouble(wt);
            var expected = Reference.Conv2d(xd, wd, Numerics.ToDouble(b), n, c, h, w, cout, k, s, p).Select((v, i) => v + addend[i]).ToArray();
            Numerics.AssertClose(expected, buffers.Read(output), 1e-4, 1e-4, what + " forward (with an addend, summed in the split-K reduction's output pass)");

            var dWeight = buffers.Upload(new float[weightShape.Length], cout, c, k, k);
            var dBias = buffers.Upload(new float[cout], cout);
            var dInput = buffers.Garbage(n, c, h, w);
            library.Convolution.Backward(dInput, dWeight, dBias, buffers.Upload(r, outputShape[0], outputShape[1], outputShape[2], outputShape[3]), input, weight, window, columns, scratch);
            var (gx, gw, gb) = BackwardReference(xd, wd, Numerics.ToDouble(r), n, c, h, w, cout, k, s, p);
            Numerics.AssertClose(gx, buffers.Read(dInput), 1e-4, 1e-4, what + " dInput");
            Numerics.AssertClose(gw, buffers.Read(dWeight), 1e-3, 1e-4, what + " dWeight");
            Numerics.AssertClose(gb, buffers.Read(dBias), 1e-3, 1e-4, what + " dBias");
        }
    });

    private static int Splits(KernelLibrary library, int m, int n, int k) => library.Policy.PlanGemm(m, n, k, GemmPrecision.Fp32, long.MaxValue).Splits;

    [Fact]
    public void BackwardWithoutInputGradientStillGivesParameterGradients() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var random = new Random(11);
        var window = new Window(3, 1, 1);
        var inputShape = new Shape(2, 1, 4, 4);
        var weightShape = new Shape(2, 1, 3, 3);
        var x = Numerics.Normal(random, inputShape.Length);
        var columns = buffers.Garbage(Convolution.ColumnsLength(inputShape, weightShape, window));
        var scratch = buffers.Garbage(Convolution.ScratchLength(inputShape, weightShape, window));
        var weight = buffers.Upload(Numerics.Normal(random, weightShape.Length), 2, 1, 3, 3);
        var output = buffers.Garbage(2, 2, 4, 4);
        var input = buffers.Upload(x, 2, 1, 4, 4);
        library.Convolution.Forward(output, input, weight, buffers.Upload(new float[2], 2), window, columns, scratch);
        var dBias = buffers.Upload(new float[2], 2);
        var dWeight = buffers.Upload(new float[weightShape.Length], 2, 1, 3, 3);
        var ones = Enumerable.Repeat(1f, output.Length).ToArray();
        library.Convolution.Backward(null, dWeight, dBias, buffers.Upload(ones, 2, 2, 4, 4), input, weight, window, columns, scratch);
        Numerics.AssertClose(new double[] { 32, 32 }, buffers.Read(dBias), 0, 1e-6, "dBias = number of output positions");
        var centre = buffers.Read(dWeight)[4];
        Assert.Equal(x.Sum(), centre, 1e-3);
    });

    [Fact]
    public void MismatchedWeightNamesBothShapes() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var input = buffers.Garbage(1, 3, 5, 5);
        var weight = buffers.Garbage(4, 2, 3, 3);
        var error = Assert.Throws<ArgumentException>(() => library.Convolution.Forward(
            buffers.Garbage(1, 4, 5, 5), input, weight, buffers.Garbage(4), new Window(3, 1, 1), buffers.Garbage(1000), buffers.Garbage(1000)));
        Assert.Contains("(4, 2, 3, 3)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(1, 3, 5, 5)", error.Message, StringComparison.Ordinal);
    });
}
