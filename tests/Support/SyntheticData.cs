using System.Buffers.Binary;
using System.IO.Compression;

namespace GpuNet.Tests.Support;

/// <summary>Small data sets written by the tests: IDX (MNIST layout) and CIFAR-10 binary files with learnable classes.</summary>
public static class SyntheticData
{
    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string NewDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gpunet-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>An image of class <paramref name="label"/>: a bright 6x6 block whose position depends on the class, plus noise.</summary>
    public static byte[] Image(Random random, int label, int channels, int side)
    {
        var pixels = new byte[channels * side * side];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)random.Next(0, 60);
        }

        int row = 2 + ((label / 5) * (side / 2)), column = 1 + ((label % 5) * (side - 8) / 4);
        for (int c = 0; c < channels; c++)
        {
            for (int h = row; h < row + 6 && h < side; h++)
            {
                for (int w = column; w < column + 6 && w < side; w++)
                {
                    pixels[(c * side * side) + (h * side) + w] = (byte)random.Next(180, 256);
                }
            }
        }

        return pixels;
    }

    public static byte[] IdxImages(byte[][] images, int rows, int cols)
    {
        var data = new byte[16 + (images.Length * rows * cols)];
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(0), 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(4), images.Length);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(12), cols);
        for (int i = 0; i < images.Length; i++)
        {
            images[i].CopyTo(data, 16 + (i * rows * cols));
        }

        return data;
    }

    public static byte[] IdxLabels(int[] labels)
    {
        var data = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(0), 0x00000801);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(4), labels.Length);
        for (int i = 0; i < labels.Length; i++)
        {
            data[8 + i] = (byte)labels[i];
        }

        return data;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Writes an MNIST-layout data set (28x28, 10 classes) into a new directory; returns it.</summary>
    public static string WriteMnistLike(int train, int test, bool gzip = true, int seed = 7)
    {
        string dir = NewDirectory();
        var random = new Random(seed);
        foreach (var (name, count) in new[] { ("train", train), ("t10k", test) })
        {
            var labels = Enumerable.Range(0, count).Select(i => i % 10).ToArray();
            var images = labels.Select(l => Image(random, l, 1, 28)).ToArray();
            Write(Path.Combine(dir, $"{name}-images-idx3-ubyte"), IdxImages(images, 28, 28), gzip);
            Write(Path.Combine(dir, $"{name}-labels-idx1-ubyte"), IdxLabels(labels), gzip);
        }

        return dir;
    }

    /// <summary>Writes CIFAR-10 binary batches (records of a label byte and 3 x 32 x 32 pixels) into a new directory.</summary>
    public static string WriteCifarLike(int perBatch, int test, int seed = 8)
    {
        string dir = NewDirectory();
        var random = new Random(seed);
        for (int b = 1; b <= 6; b++)
        {
            int count = b == 6 ? test : perBatch;
            using var file = File.Create(Path.Combine(dir, b == 6 ? "test_batch.bin" : $"data_batch_{b}.bin"));
            for (int i = 0; i < count; i++)
            {
                int label = (i + b) % 10;
                file.WriteByte((byte)label);
                file.Write(Image(random, label, 3, 32));
            }
        }

        return dir;
    }

    private static void Write(string path, byte[] data, bool gzip) => File.WriteAllBytes(gzip ? path + ".gz" : path, gzip ? Gzip(data) : data);
}
