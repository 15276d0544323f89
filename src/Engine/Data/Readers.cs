using System.Buffers.Binary;
using System.IO.Compression;

namespace GpuNet.Engine.Data;

/// <summary>
/// Readers for IDX files (MNIST, Fashion-MNIST; gzipped or not) and the CIFAR-10 binary version. Every malformed
/// input is a <see cref="DataException"/> naming the file and what is wrong; no buffer is sized from a header before
/// the header is checked against limits and, for uncompressed files, against the file's size.
/// </summary>
public static class Readers
{
    /// <summary>The largest sample count a reader accepts (far above any real data set of this kind).</summary>
    public const int MaxSamples = 10_000_000;

    /// <summary>The largest image side a reader accepts.</summary>
    public const int MaxSide = 4096;

    /// <summary>The most bytes of pixels a reader allocates.</summary>
    public const long MaxPixelBytes = 1L << 31;

    /// <summary>Reads an IDX image file: (count, rows, cols) unsigned bytes.</summary>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadIdxImages(string path)
    {
        using var stream = OpenIdx(path, out long? rawLength);
        var dims = ReadIdxHeader(stream, path, expectedRank: 3);
        int count = dims[0], rows = dims[1], cols = dims[2];
        if (count > MaxSamples || rows > MaxSide || cols > MaxSide || (long)count * rows * cols > MaxPixelBytes)
        {
            throw new DataException($"{path}: header dimensions {count} x {rows} x {cols} are too large for an image data set.");
        }

        long bytes = (long)count * rows * cols;
        if (rawLength is { } length && length != 16 + bytes)
        {
            throw new DataException($"{path}: header says {count} images of {rows} x {cols} ({16 + bytes} bytes) but the file has {length} bytes.");
        }

        var pixels = new byte[bytes];
        ReadExactly(stream, pixels, path, $"{count} images of {rows} x {cols}");
        EnsureEnd(stream, path);
        return (pixels, count, rows, cols);
    }

    /// <summary>Reads an IDX label file: (count) unsigned bytes, each below <paramref name="classes"/>.</summary>
    public static int[] ReadIdxLabels(string path, int classes)
    {
        using var stream = OpenIdx(path, out long? rawLength);
        int count = ReadIdxHeader(stream, path, expectedRank: 1)[0];
        if (count > MaxSamples)
        {
            throw new DataException($"{path}: header says {count} labels, more than the {MaxSamples} accepted.");
        }

        if (rawLength is { } length && length != 8 + count)
        {
            throw new DataException($"{path}: header says {count} labels ({8 + count} bytes) but the file has {length} bytes.");
        }

        var bytes = new byte[count];
        ReadExactly(stream, bytes, path, $"{count} labels");
        EnsureEnd(stream, path);
        return ToLabels(bytes, classes, path);
    }

    /// <summary>Reads CIFAR-10 binary batch files: records of 1 label byte and 3072 pixel bytes (R, G, B planes of 32 x 32).</summary>
    public static DataSplit ReadCifar10(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        const int record = 1 + (3 * 32 * 32);
        var pixels = new List<byte[]>();
        var labels = new List<int>();
        foreach (var path in paths)
        {
            if (!File.Exists(path))
            {
                throw new DataException($"{path}: file not found.");
            }

            long length = new FileInfo(path).Length;
            if (length == 0 || length % record != 0)
            {
                throw new DataException($"{path}: {length} bytes is not a whole number of {record}-byte CIFAR-10 records (truncated or not a CIFAR-10 binary batch).");
            }

            if (length / record > MaxSamples)
            {
                throw new DataException($"{path}: {length / record} records is more than the {MaxSamples} accepted.");
            }

            var data = File.ReadAllBytes(path);
            for (int offset = 0, index = 0; offset < data.Length; offset += record, index++)
            {
                int label = data[offset];
                if (label > 9)
                {
                    throw new DataException($"{path}: record {index} has label {label}, outside 0..9.");
                }

                labels.Add(label);
                pixels.Add(data.AsSpan(offset + 1, record - 1).ToArray());
            }
        }

        var all = new byte[(long)pixels.Count * (record - 1)];
        for (int i = 0; i < pixels.Count; i++)
        {
            pixels[i].CopyTo(all, (long)i * (record - 1));
        }

        return new DataSplit(all, [.. labels]);
    }

    private static Stream OpenIdx(string path, out long? rawLength)
    {
        if (!File.Exists(path))
        {
            throw new DataException($"{path}: file not found.");
        }

        var file = File.OpenRead(path);
        try
        {
            Span<byte> magic = stackalloc byte[2];
            int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            file.Position = 0;
            bool gzip = read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
            if (!gzip && path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                throw new DataException($"{path}: the name ends in .gz but the file is not gzip data.");
            }

            rawLength = gzip ? null : file.Length;
            return gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static int[] ReadIdxHeader(Stream stream, string path, int expectedRank)
    {
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, path, "the IDX header");
        if (header[0] != 0 || header[1] != 0)
        {
            throw new DataException($"{path}: wrong magic number 0x{header[0]:x2}{header[1]:x2}{header[2]:x2}{header[3]:x2}: not an IDX file.");
        }

        if (header[2] != 0x08)
        {
            throw new DataException($"{path}: IDX element type 0x{header[2]:x2} is not unsigned bytes (0x08).");
        }

        if (header[3] != expectedRank)
        {
            throw new DataException($"{path}: IDX file has {header[3]} dimensions; {expectedRank} expected ({(expectedRank == 1 ? "labels" : "images")}).");
        }

        var dims = new int[expectedRank];
        Span<byte> dim = stackalloc byte[4];
        for (int i = 0; i < expectedRank; i++)
        {
            ReadExactly(stream, dim, path, "the IDX header");
            uint value = BinaryPrimitives.ReadUInt32BigEndian(dim);
            if (value > int.MaxValue)
            {
                throw new DataException($"{path}: IDX dimension {i} is {value}, which overflows.");
            }

            dims[i] = (int)value;
        }

        return dims;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        int total;
        try
        {
            total = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            throw new DataException($"{path}: corrupt gzip data while reading {what}.", e);
        }

        if (total < buffer.Length)
        {
            throw new DataException($"{path}: truncated: {what} need {buffer.Length} bytes, only {total} remain.");
        }
    }

    private static void EnsureEnd(Stream stream, string path)
    {
        Span<byte> one = stackalloc byte[1];
        int extra;
        try
        {
            extra = stream.Read(one);
        }
        catch (InvalidDataException e)
        {
            throw new DataException($"{path}: corrupt gzip data after the last record.", e);
        }

        if (extra != 0)
        {
            throw new DataException($"{path}: the file continues past the size its header gives.");
        }
    }

    private static int[] ToLabels(byte[] bytes, int classes, string path)
    {
        var labels = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] >= classes)
            {
                throw new DataException($"{path}: label {i} is {bytes[i]}, outside 0..{classes - 1}.");
            }

            labels[i] = bytes[i];
        }

        return labels;
    }
}
