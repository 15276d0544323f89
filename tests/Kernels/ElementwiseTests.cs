using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class ElementwiseTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    // Lengths from 1 through several CPU-thread blocks, so every tail path runs.
    private static readonly int[] Lengths = [1, 2, 3, 7, 64, 255, 257, 1000, 40_001];

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ReluForwardMatchesReference(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(1);
        foreach (int length in Lengths)
        {
            var x = Numerics.Normal(random, length);
            var input = buffers.Upload(x, length);
            var output = buffers.Garbage(length);
            library.Elementwise.ReluForward(output, input);
            Numerics.AssertClose(x.Select(v => Math.Max(v, 0.0)).ToArray(), buffers.Read(output), 0, 0, $"ReLU length {length}");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ReluBackwardMatchesFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(2);
        foreach (int length in new[] { 1, 5, 300 })
        {
            // Keep inputs away from the kink at 0, where the derivative is undefined.
            var x = Numerics.Normal(random, length).Select(v => v + (0.1f * MathF.Sign(v))).ToArray();
            var r = Numerics.Normal(random, length);
            var input = buffers.Upload(x, length);
            var output = buffers.Garbage(length);
            library.Elementwise.ReluForward(output, input);
            var dInput = buffers.Garbage(length);
            library.Elementwise.ReluBackward(dInput, buffers.Upload(r, length), output);
            var expected = Reference.Gradient(v => Reference.Dot(v.Select(e => Math.Max(e, 0.0)).ToArray(), r), Numerics.ToDouble(x));
            Numerics.AssertClose(expected, buffers.Read(dInput), 1e-6, 1e-6, $"ReLU backward length {length}");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ReluKeepsNaNAndItsBackwardPassesNothingThroughIt(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        float[] x = [float.NaN, -1f, 0f, 2f, float.NegativeInfinity, float.PositiveInfinity, -0f];
        var output = buffers.Garbage(x.Length);
        library.Elementwise.ReluForward(output, buffers.Upload(x, x.Length));
        Numerics.AssertClose([double.NaN, 0, 0, 2, 0, double.PositiveInfinity, 0], buffers.Read(output), 0, 0, "ReLU of NaN, infinities and zeros (PyTorch: NaN stays NaN)");
        var dInput = buffers.Garbage(x.Length);
        library.Elementwise.ReluBackward(dInput, buffers.Upload(Enumerable.Repeat(3f, x.Length).ToArray(), x.Length), output);
        Numerics.AssertClose([0, 0, 0, 3, 0, 3, 0], buffers.Read(dInput), 0, 0, "ReLU backward passes the gradient where the output is positive");
    });

    /// <summary>GELU inputs: normal values over the curve's bend, the tails, zero, and values where erf's fit changes regime.</summary>
    private static float[] GeluInputs(Random random, int length) =>
        [.. Numerics.Normal(random, length, std: 2.5), 0f, -0f, 1e-6f, -1e-6f, 4f, -4f, 6f, -6f, 9f, -9f, 12f, -12f, 30f, -30f];

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void GeluForwardMatchesTheExactErfForm(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(11);
        foreach (int length in Lengths)
        {
            var x = GeluInputs(random, length);
            var output = buffers.Garbage(x.Length);
            library.Elementwise.GeluForward(output, buffers.Upload(x, x.Length));
            // float's own rounding of x * Phi(x) is 6e-8 relative; erf's fit adds 1.2e-7 of erfc.
            Numerics.AssertClose(x.Select(v => Reference.Gelu(v)).ToArray(), buffers.Read(output), 1e-7, 1e-6, $"GELU length {x.Length} on {accelerator}");
        }

        var nan = buffers.Garbage(3);
        library.Elementwise.GeluForward(nan, buffers.Upload([float.NaN, float.PositiveInfinity, float.NegativeInfinity], 3));
        Numerics.AssertClose([double.NaN, double.PositiveInfinity, double.NaN], buffers.Read(nan), 0, 0, "GELU of NaN and infinities (PyTorch: NaN, inf, NaN)");
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void GeluBackwardMatchesFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(12);
        foreach (int length in new[] { 1, 5, 300, 1000 })
        {
            var x = GeluInputs(random, length);
            var r = Numerics.Normal(random, x.Length);
            var dInput = buffers.Garbage(x.Length);
            library.Elementwise.GeluBackward(dInput, buffers.Upload(r, x.Length), buffers.Upload(x, x.Length));
            var expected = Reference.Gradient(v => Reference.Dot(v.Select(Reference.Gelu).ToArray(), r), Numerics.ToDouble(x), 1e-6);
            Numerics.AssertClose(expected, buffers.Read(dInput), 1e-6, 1e-5, $"GELU backward length {x.Length} on {accelerator}");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AddSumsElementwiseAlsoInPlace(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(13);
        foreach (int length in Lengths)
        {
            float[] a = Numerics.Normal(random, length), b = Numerics.Normal(random, length);
            var expected = a.Select((v, i) => (double)(v + b[i])).ToArray();
            var output = buffers.Garbage(length);
            var bView = buffers.Upload(b, length);
            library.Elementwise.Add(output, buffers.Upload(a, length), bView);
            Numerics.AssertClose(expected, buffers.Read(output), 0, 0, $"add length {length} on {accelerator}");
            library.Elementwise.Add(bView, buffers.Upload(a, length), bView);
            Numerics.AssertClose(expected, buffers.Read(bView), 0, 0, $"add into an operand, length {length} on {accelerator}");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void BiasAddAndGradientMatchReferenceAndFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(3);
        foreach (int[] dims in new[] { new[] { 1, 1 }, new[] { 7, 3 }, new[] { 300, 10 }, new[] { 2, 3, 5, 5 }, new[] { 3, 1, 1, 7 } })
        {
            var shape = new Shape(dims);
            int channels = dims[1], inner = dims.Length == 4 ? dims[2] * dims[3] : 1;
            var x = Numerics.Normal(random, shape.Length);
            var b = Numerics.Normal(random, channels);
            var r = Numerics.Normal(random, shape.Length);
            var output = buffers.Upload(x, dims);
            library.Elementwise.BiasAdd(output, buffers.Upload(b, channels));
            var expected = x.Select((v, i) => v + (double)b[(i / inner) % channels]).ToArray();
            Numerics.AssertClose(expected, buffers.Read(output), 1e-6, 1e-6, $"bias add {shape}");

            // dBias starts non-zero: the gradient must accumulate onto it.
            var initial = Numerics.Normal(random, channels);
            var dBias = buffers.Upload(initial, channels);
            library.Elementwise.BiasGradient(dBias, buffers.Upload(r, dims));
            var fd = Reference.Gradient(
                bias => Reference.Dot(x.Select((v, i) => v + bias[(i / inner) % channels]).ToArray(), r), Numerics.ToDouble(b));
            Numerics.AssertClose(fd.Select((g, c) => g + initial[c]).ToArray(), buffers.Read(dBias), 1e-4, 1e-4, $"bias gradient {shape}");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void FillSetsEveryElement(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        foreach (int length in Lengths)
        {
            var output = buffers.Garbage(length);
            library.Elementwise.Fill(output, 2.5f);
            Numerics.AssertClose(Enumerable.Repeat(2.5, length).ToArray(), buffers.Read(output), 0, 0, $"fill length {length}");
        }
    });

    [Fact]
    public void ShapeMismatchesNameBothShapes() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var a = buffers.Garbage(2, 3);
        var b = buffers.Garbage(3, 2);
        var error = Assert.Throws<ArgumentException>(() => library.Elementwise.ReluForward(a, b));
        Assert.Contains("(2, 3)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(3, 2)", error.Message, StringComparison.Ordinal);
        var bias = buffers.Garbage(2);
        error = Assert.Throws<ArgumentException>(() => library.Elementwise.BiasAdd(a, bias));
        Assert.Contains("(2)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(3)", error.Message, StringComparison.Ordinal);
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void EmptyTensorsLaunchNothing(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var empty = buffers.Upload(Array.Empty<float>(), 0, 4);
        library.Elementwise.ReluForward(empty, empty);
        library.Elementwise.ReluBackward(empty, empty, empty);
        library.Elementwise.Fill(empty, 1f);
        library.Elementwise.BiasAdd(empty, buffers.Upload(new float[4], 4));
        var dBias = buffers.Upload(new float[] { 1, 2, 3, 4 }, 4);
        library.Elementwise.BiasGradient(dBias, empty);
        Numerics.AssertClose(new double[] { 1, 2, 3, 4 }, buffers.Read(dBias), 0, 0, "bias gradient of an empty batch adds nothing");
    });
}
