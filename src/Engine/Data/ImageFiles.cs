// Image files in and out of a data set's layout: PNG or JPEG decoded by SkiaSharp into raw (C, H, W) bytes of a
// model's input (gray by luminance or RGB planes, resized, and inverted when the data set's polarity asks), and data
// set images written out as PNG files.
using SkiaSharp;

namespace GpuNet.Engine.Data;

/// <summary>Whether to invert an image's brightness before a model sees it.</summary>
public enum InvertMode
{
    /// <summary>Invert when the data set is light-on-dark and the image's border is mostly light (a dark object on white paper).</summary>
    Auto,

    /// <summary>Always invert.</summary>
    Yes,

    /// <summary>Never invert.</summary>
    No,
}

/// <summary>Reads images into a model's input layout and writes data set images as PNG files.</summary>
public static class ImageFiles
{
    /// <summary>
    /// Decodes <paramref name="path"/> (PNG or JPEG) into <paramref name="channels"/> x <paramref name="height"/> x
    /// <paramref name="width"/> bytes: gray by luminance (0.299 R + 0.587 G + 0.114 B) for one channel or R, G and B
    /// planes for three, resized to the input size, inverted as <paramref name="invert"/> says (Auto: when
    /// <paramref name="lightOnDark"/> and the border's mean is above mid-gray). Returns the bytes and whether it inverted.
    /// </summary>
    /// <exception cref="DataException">The file is missing or not an image SkiaSharp can decode; the message names it.</exception>
    public static (byte[] Pixels, bool Inverted) Load(string path, int channels, int height, int width, InvertMode invert, bool lightOnDark)
    {
        if (channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), $"Images are read as 1 or 3 channels, not {channels}.");
        }

        using var decoded = Decode(path);
        var pixels = ToPixels(decoded, channels, height, width, path);

        bool inverted = invert == InvertMode.Yes || (invert == InvertMode.Auto && lightOnDark && BorderMean(pixels, channels, height, width) > 127.5);
        if (inverted)
        {
            for (int i = 0; i < pixels.Length; i++)
            {
                pixels[i] = (byte)(255 - pixels[i]);
            }
        }

        return (pixels, inverted);
    }

    /// <summary>Decodes <paramref name="path"/> (PNG or JPEG); the caller disposes the bitmap.</summary>
    /// <exception cref="DataException">The file is missing, empty or not an image SkiaSharp can decode; the message names it.</exception>
    internal static SKBitmap Decode(string path)
    {
        if (!File.Exists(path))
        {
            throw new DataException($"{path}: file not found.");
        }

        var decoded = SKBitmap.Decode(path) ?? throw new DataException($"{path}: not a PNG or JPEG image SkiaSharp can decode.");
        if (decoded.Width < 1 || decoded.Height < 1)
        {
            decoded.Dispose();
            throw new DataException($"{path}: the image is empty.");
        }

        return decoded;
    }

    /// <summary>Whether every pixel of <paramref name="image"/> is gray (R = G = B): such an image is read as one channel.</summary>
    internal static bool IsGray(SKBitmap image)
    {
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                var color = image.GetPixel(x, y);
                if (color.Red != color.Green || color.Green != color.Blue)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// <paramref name="decoded"/> as <paramref name="channels"/> x <paramref name="height"/> x <paramref name="width"/>
    /// bytes: gray by luminance or R, G and B planes, resized to that size.
    /// </summary>
    internal static byte[] ToPixels(SKBitmap decoded, int channels, int height, int width, string path)
    {
        using var rgba = decoded.ColorType == SKColorType.Rgba8888 ? null : decoded.Copy(SKColorType.Rgba8888);
        var source = rgba ?? decoded;
        using var resized = source.Width == width && source.Height == height
            ? null
            : source.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888), new SKSamplingOptions(SKCubicResampler.Mitchell));
        var image = resized ?? source;
        if (image is null)
        {
            throw new DataException($"{path}: the image could not be resized to {width} x {height}.");
        }

        var pixels = new byte[channels * height * width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                var color = image.GetPixel(x, y);
                int p = (y * width) + x;
                if (channels == 1)
                {
                    pixels[p] = color.Red == color.Green && color.Green == color.Blue
                        ? color.Red
                        : (byte)Math.Clamp(Math.Round((0.299 * color.Red) + (0.587 * color.Green) + (0.114 * color.Blue)), 0, 255);
                }
                else
                {
                    pixels[p] = color.Red;
                    pixels[(height * width) + p] = color.Green;
                    pixels[(2 * height * width) + p] = color.Blue;
                }
            }
        }

        return pixels;
    }

    /// <summary>Writes one image of (C, H, W) bytes as a PNG (gray for one channel, RGB for three), atomically.</summary>
    public static void WritePng(string path, ReadOnlySpan<byte> pixels, int channels, int height, int width)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int p = (y * width) + x;
                byte r = pixels[p];
                byte g = channels >= 3 ? pixels[(height * width) + p] : r;
                byte b = channels >= 3 ? pixels[(2 * height * width) + p] : r;
                bitmap.SetPixel(x, y, new SKColor(r, g, b));
            }
        }

        using var encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        Runs.AtomicFile.WriteAllBytes(path, encoded.ToArray());
    }

    /// <summary>The mean of the outermost ring of pixels over all channels.</summary>
    private static double BorderMean(byte[] pixels, int channels, int height, int width)
    {
        double sum = 0;
        int count = 0;
        for (int c = 0; c < channels; c++)
        {
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    if (y == 0 || x == 0 || y == height - 1 || x == width - 1)
                    {
                        sum += pixels[(c * height * width) + (y * width) + x];
                        count++;
                    }
                }
            }
        }

        return sum / Math.Max(1, count);
    }
}
