using System.Buffers.Binary;
using System.IO.Compression;

namespace GpuNet.Engine.Data;

/// <summary>
/// Readers for IDX files (MNIST, Fashion-MNIST; gzipped or not) and the CIFAR-10 binary version. Every malformed
/// input is a <see cref="DataException"/> naming the file and what is wrong. No buffer is sized from a header before
/// the header is checked against limits and against what the file can hold: an uncompressed file's size, or for gzip
/// data what deflate can produce from the compressed size; gzip data is read in growing chunks, so a header that
/// announces more than the data holds costs no more memory than the data.
/// </summary>
public static class Readers
{
    /// <summary>The largest sample count a reader accepts (far above any real data set of this kind).</summary>
    public const int MaxSamples = 10_000_000;

    /// <summary>The largest image side a reader accepts.</summary>
    public const int MaxSide = 4096;

    /// <summary>The most bytes of pixels a reader allocates; below the largest .NET byte array (<see cref="Array.MaxLength"/>).</summary>
    public const long MaxPixelBytes = 2_000_000_000;

    /// <summary>
    /// The most bytes one byte of gzip data can decompress to: deflate's maximum ratio is about 1032:1. A gzip file
    /// whose header announces more than its size times this is rejected before anything is read.
    /// </summary>
    public const int MaxDeflateRatio = 1032;

    /// <summary>The first buffer for gzip data; it doubles as the data keeps coming, up to the announced size.</summary>
    private const int FirstChunk = 1 << 20;

    /// <summary>Reads an IDX image file: (count, rows, cols) unsigned bytes.</summary>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadIdxImages(string path)
    {
        using var stream = OpenIdx(path, out var file);
        var dims = ReadIdxHeader(stream, path, expectedRank: 3);
        int count = dims[0], rows = dims[1], cols = dims[2];
        long bytes = (long)count * rows * cols;
        if (count > MaxSamples || rows > MaxSide || cols > MaxSide || bytes > MaxPixelBytes)
        {
            throw new DataException(
                $"{path}: header dimensions {count} x {rows} x {cols} ({bytes} bytes) are too large for an image data set (at most {MaxSamples} images, sides of {MaxSide}, {MaxPixelBytes} bytes).");
        }

        string what = $"{count} images of {rows} x {cols}";
        CheckAnnounced(path, file, 16 + bytes, what);
        var pixels = ReadAnnounced(stream, bytes, file.Gzip, path, what);
        EnsureEnd(stream, path);
        return (pixels, count, rows, cols);
    }

    /// <summary>Reads an IDX label file: (count) unsigned bytes, each below <paramref name="classes"/>.</summary>
    public static int[] ReadIdxLabels(string path, int classes)
    {
        using var stream = OpenIdx(path, out var file);
        int count = ReadIdxHeader(stream, path, expectedRank: 1)[0];
        if (count > MaxSamples)
        {
            throw new DataException($"{path}: header says {count} labels, more than the {MaxSamples} accepted.");
        }

        string what = $"{count} labels";
        CheckAnnounced(path, file, 8 + (long)count, what);
        var bytes = ReadAnnounced(stream, count, file.Gzip, path, what);
        EnsureEnd(stream, path);
        return ToLabels(bytes, classes, path);
    }

    /// <summary>Reads CIFAR-10 binary batch files: records of 1 label byte and 3072 pixel bytes (R, G, B planes of 32 x 32).</summary>
    public static DataSplit ReadCifar10(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        const int record = 1 + (3 * 32 * 32);
        long records = 0;
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

            records += length / record;
        }

        if (records * (record - 1) > MaxPixelBytes)
        {
            throw new DataException(
                $"{string.Join(", ", paths)}: {records} records hold {records * (record - 1)} bytes of pixels, more than the {MaxPixelBytes} accepted.");
        }

        var pixels = new byte[records * (record - 1)];
        var labels = new int[records];
        int index = 0;
        foreach (var path in paths)
        {
            var data = File.ReadAllBytes(path);
            if (data.Length % record != 0 || index + (data.Length / record) > records)
            {
                throw new DataException($"{path}: the file changed while it was read.");
            }

            for (int offset = 0; offset < data.Length; offset += record, index++)
            {
                int label = data[offset];
                if (label > 9)
                {
                    throw new DataException($"{path}: record {offset / record} has label {label}, outside 0..9.");
                }

                labels[index] = label;
                data.AsSpan(offset + 1, record - 1).CopyTo(pixels.AsSpan(index * (record - 1)));
            }
        }

        return new DataSplit(pixels, labels);
    }

    /// <summary>Opens an IDX file, decompressing gzip data; <paramref name="file"/> is its size on disk and whether it is gzip.</summary>
    private static Stream OpenIdx(string path, out (long Length, bool Gzip) file)
    {
        if (!File.Exists(path))
        {
            throw new DataException($"{path}: file not found.");
        }

        var stream = File.OpenRead(path);
        try
        {
            Span<byte> magic = stackalloc byte[2];
            int read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            stream.Position = 0;
            bool gzip = read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
            if (!gzip && path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                throw new DataException($"{path}: the name ends in .gz but the file is not gzip data.");
            }

            file = (stream.Length, gzip);
            return gzip ? new GZipStream(stream, CompressionMode.Decompress) : stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checks that a file can hold the <paramref name="announced"/> bytes (header included) its header gives: exactly,
    /// for an uncompressed file; at most <see cref="MaxDeflateRatio"/> times its size, for gzip data.
    /// </summary>
    private static void CheckAnnounced(string path, (long Length, bool Gzip) file, long announced, string what)
    {
        if (!file.Gzip && file.Length != announced)
        {
            throw new DataException($"{path}: header says {what} ({announced} bytes) but the file has {file.Length} bytes.");
        }

        if (file.Gzip && announced > file.Length * MaxDeflateRatio)
        {
            throw new DataException(
                $"{path}: header says {what} ({announced} bytes) but {file.Length} bytes of gzip data decompress to at most {file.Length * MaxDeflateRatio} bytes.");
        }
    }

    /// <summary>
    /// Reads the <paramref name="length"/> bytes after the header: into one buffer when the file's size was checked,
    /// into a buffer that doubles from <see cref="FirstChunk"/> for gzip data, whose real size shows only as it is read.
    /// </summary>
    private static byte[] ReadAnnounced(Stream stream, long length, bool gzip, string path, string what)
    {
        var buffer = new byte[gzip ? Math.Min(length, FirstChunk) : length];
        int filled = 0;
        while (filled < length)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(length, 2L * buffer.Length));
            }

            int read = Read(stream, buffer.AsSpan(filled), path, what);
            if (read == 0)
            {
                throw new DataException($"{path}: truncated: the header announces {what} ({length} bytes after it) but only {filled} bytes follow.");
            }

            filled += read;
        }

        return buffer;
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
        int total = 0;
        while (total < buffer.Length)
        {
            int read = Read(stream, buffer[total..], path, what);
            if (read == 0)
            {
                throw new DataException($"{path}: truncated: {what} need {buffer.Length} bytes, only {total} remain.");
            }

            total += read;
        }
    }

    /// <summary>One read; corrupt gzip data is a <see cref="DataException"/>.</summary>
    private static int Read(Stream stream, Span<byte> buffer, string path, string what)
    {
        try
        {
            return stream.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw new DataException($"{path}: corrupt gzip data while reading {what}.", e);
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
