namespace GpuNet.Kernels;

/// <summary>A square sliding window: kernel size, stride and zero padding on each border (convolution, pooling).</summary>
public readonly record struct Window(int Kernel, int Stride = 1, int Padding = 0)
{
    /// <summary>The output extent along an axis of <paramref name="input"/> elements: (input + 2 padding - kernel) / stride + 1.</summary>
    public int OutputSize(int input) => ((input + (2 * Padding) - Kernel) / Stride) + 1;

    /// <summary>Throws unless the window is valid and yields at least one output for an input of height x width.</summary>
    internal void Validate(int height, int width, string what)
    {
        if (Kernel < 1 || Stride < 1 || Padding < 0)
        {
            throw new ArgumentException($"{what}: kernel {Kernel}, stride {Stride}, padding {Padding} is not a valid window (kernel >= 1, stride >= 1, padding >= 0).");
        }

        if (height + (2 * Padding) < Kernel || width + (2 * Padding) < Kernel)
        {
            throw new ArgumentException($"{what}: a {Kernel}x{Kernel} window with padding {Padding} does not fit an input of {height}x{width}.");
        }
    }
}

/// <summary>Sizes of one windowed op over an (N, C, H, W) input giving (N, C', OH, OW).</summary>
internal readonly record struct WindowShape(
    int Batch, int Channels, int Height, int Width, int Kernel, int Stride, int Padding, int OutHeight, int OutWidth)
{
    public static WindowShape Of(Shape input, Window window) => new(
        input[0], input[1], input[2], input[3], window.Kernel, window.Stride, window.Padding,
        window.OutputSize(input[2]), window.OutputSize(input[3]));

    /// <summary>Output positions per image: OH * OW.</summary>
    public int Plane => OutHeight * OutWidth;

    /// <summary>
    /// The first output index along an axis whose window covers input index <paramref name="x"/>:
    /// the smallest o with o * stride - padding + kernel - 1 &gt;= x.
    /// </summary>
    public int FirstCovering(int x)
    {
        int low = x + Padding - Kernel + 1;
        return low <= 0 ? 0 : (low + Stride - 1) / Stride;
    }

    /// <summary>One past the last output index along an axis of <paramref name="outSize"/> whose window covers <paramref name="x"/>.</summary>
    public int EndCovering(int x, int outSize) => Math.Min(((x + Padding) / Stride) + 1, outSize);
}
