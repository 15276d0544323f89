using GpuNet.Kernels;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Kernels;

public sealed class PoolingTests
{
    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    // (N, C, H, W, K, stride, padding): the VGG's 3/2/1 on 28, 7, 2 and 1 pixels, overlapping and disjoint windows,
    // a 1x1 pool, non-square planes.
    private static readonly (int N, int C, int H, int W, int K, int S, int P)[] Cases =
    [
        (2, 3, 7, 7, 3, 2, 1), (1, 2, 1, 1, 3, 2, 1), (1, 1, 2, 2, 3, 2, 1), (2, 2, 6, 5, 2, 2, 0), (1, 3, 4, 4, 1, 1, 0),
        (1, 1, 5, 8, 3, 1, 1), (1, 2, 28, 28, 3, 2, 1),
    ];

    /// <summary>Distinct values in random order, so the maximum of every window is unique and differentiable.</summary>
    private static float[] Distinct(Random random, int length)
    {
        var values = Enumerable.Range(0, length).Select(i => (i * 0.37f) - (length * 0.1f)).ToArray();
        random.Shuffle(values);
        return values;
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void MaxPoolingMatchesReferenceAndFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(20);
        foreach (var (n, c, h, w, k, s, p) in Cases)
        {
            string what = $"max pool N{n} C{c} {h}x{w} k{k} s{s} p{p} on {accelerator}";
            var window = new Window(k, s, p);
            var outShape = Pooling.OutputShape(new Shape(n, c, h, w), window);
            var x = Distinct(random, n * c * h * w);
            var r = Numerics.Normal(random, outShape.Length);
            var output = buffers.Garbage(outShape[0], outShape[1], outShape[2], outShape[3]);
            var argmax = buffers.IntGarbage(outShape[0], outShape[1], outShape[2], outShape[3]);
            library.Pooling.MaxForward(output, argmax, buffers.Upload(x, n, c, h, w), window);
            var (expected, expectedArgmax) = Reference.MaxPool(Numerics.ToDouble(x), n, c, h, w, k, s, p);
            Numerics.AssertClose(expected, buffers.Read(output), 0, 0, what + " forward");
            Assert.Equal(expectedArgmax, buffers.Read(argmax));

            var dInput = buffers.Garbage(n, c, h, w);
            library.Pooling.MaxBackward(dInput, buffers.Upload(r, outShape[0], outShape[1], outShape[2], outShape[3]), argmax, window);
            var fd = Reference.Gradient(v => Reference.Dot(Reference.MaxPool(v, n, c, h, w, k, s, p).Output, r), Numerics.ToDouble(x), 1e-4);
            Numerics.AssertClose(fd, buffers.Read(dInput), 1e-4, 1e-4, what + " backward");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void MaxPoolingTiesGoToTheFirstElementOfTheWindow(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var x = Enumerable.Repeat(1f, 2 * 5 * 5).ToArray();
        var window = new Window(3, 2, 1);
        var output = buffers.Garbage(1, 2, 3, 3);
        var argmax = buffers.IntGarbage(1, 2, 3, 3);
        library.Pooling.MaxForward(output, argmax, buffers.Upload(x, 1, 2, 5, 5), window);
        Assert.Equal(Reference.MaxPool(Numerics.ToDouble(x), 1, 2, 5, 5, 3, 2, 1).Argmax, buffers.Read(argmax));
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AveragePoolingMatchesReferenceAndFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(21);
        foreach (var (n, c, h, w, k, s, p) in Cases)
        {
            string what = $"average pool N{n} C{c} {h}x{w} k{k} s{s} p{p} on {accelerator}";
            var window = new Window(k, s, p);
            var outShape = Pooling.OutputShape(new Shape(n, c, h, w), window);
            var x = Numerics.Normal(random, n * c * h * w);
            var r = Numerics.Normal(random, outShape.Length);
            var output = buffers.Garbage(outShape[0], outShape[1], outShape[2], outShape[3]);
            library.Pooling.AverageForward(output, buffers.Upload(x, n, c, h, w), window);
            Numerics.AssertClose(Reference.AvgPool(Numerics.ToDouble(x), n, c, h, w, k, s, p), buffers.Read(output), 1e-5, 1e-5, what + " forward");

            var dInput = buffers.Garbage(n, c, h, w);
            library.Pooling.AverageBackward(dInput, buffers.Upload(r, outShape[0], outShape[1], outShape[2], outShape[3]), window);
            var fd = Reference.Gradient(v => Reference.Dot(Reference.AvgPool(v, n, c, h, w, k, s, p), r), Numerics.ToDouble(x));
            Numerics.AssertClose(fd, buffers.Read(dInput), 1e-4, 1e-4, what + " backward");
        }
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void MaxPoolingPropagatesNaN(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        // One NaN at (1, 1) of a 4x4 plane: of the 2x2 disjoint windows, the top-left one outputs NaN and points at it;
        // the gradient goes to the NaN's position, as PyTorch's max pooling does.
        var x = Enumerable.Range(0, 16).Select(i => (float)i).ToArray();
        x[5] = float.NaN;
        var window = new Window(2, 2, 0);
        var output = buffers.Garbage(1, 1, 2, 2);
        var argmax = buffers.IntGarbage(1, 1, 2, 2);
        library.Pooling.MaxForward(output, argmax, buffers.Upload(x, 1, 1, 4, 4), window);
        Numerics.AssertClose([double.NaN, 7, 13, 15], buffers.Read(output), 0, 0, $"max pool with a NaN on {accelerator}");
        Assert.Equal([5, 7, 13, 15], buffers.Read(argmax));
        var dInput = buffers.Garbage(1, 1, 4, 4);
        library.Pooling.MaxBackward(dInput, buffers.Upload([1f, 2f, 3f, 4f], 1, 1, 2, 2), argmax, window);
        var expected = new double[16];
        expected[5] = 1;
        expected[7] = 2;
        expected[13] = 3;
        expected[15] = 4;
        Numerics.AssertClose(expected, buffers.Read(dInput), 0, 0, $"max pool backward with a NaN on {accelerator}");
    });

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void GlobalAveragePoolingMatchesReferenceAndFiniteDifferences(string accelerator) => Support.Accelerators.Run(accelerator, (library, buffers) =>
    {
        var random = new Random(22);
        foreach (var (n, c, h, w) in new[] { (1, 1, 1, 1), (2, 3, 7, 7), (3, 2, 1, 5), (1, 4, 28, 28), (5, 1, 2, 3) })
        {
            string what = $"global average pool N{n} C{c} {h}x{w} on {accelerator}";
            var x = Numerics.Normal(random, n * c * h * w);
            var r = Numerics.Normal(random, n * c);
            var output = buffers.Garbage(n, c, 1, 1);
            library.Pooling.GlobalAverageForward(output, buffers.Upload(x, n, c, h, w));
            Numerics.AssertClose(Reference.GlobalAvgPool(Numerics.ToDouble(x), n * c, h * w), buffers.Read(output), 1e-6, 1e-5, what + " forward");

            var dInput = buffers.Garbage(n, c, h, w);
            library.Pooling.GlobalAverageBackward(dInput, buffers.Upload(r, n, c, 1, 1));
            var fd = Reference.Gradient(v => Reference.Dot(Reference.GlobalAvgPool(v, n * c, h * w), r), Numerics.ToDouble(x));
            Numerics.AssertClose(fd, buffers.Read(dInput), 1e-6, 1e-5, what + " backward");
        }
    });

    [Fact]
    public void ShapeErrorsNameTheShapes() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        var input = buffers.Garbage(1, 2, 7, 7);
        var wrong = buffers.Garbage(1, 2, 3, 3);
        var error = Assert.Throws<ArgumentException>(() => library.Pooling.AverageForward(wrong, input, new Window(3, 2, 1)));
        Assert.Contains("(1, 2, 3, 3)", error.Message, StringComparison.Ordinal);
        Assert.Contains("(1, 2, 4, 4)", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Pooling.OutputShape(new Shape(1, 1, 4, 4), new Window(2, 1, 2)));
    });
}
