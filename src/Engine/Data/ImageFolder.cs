// An image-folder data set in torchvision's ImageFolder convention: DIR/train/<class>/*.png|jpg|jpeg and
// DIR/test/<class>/*, the class index being the class folders sorted by ordinal name. Every image is decoded once, in
// parallel, to the channel count and size of the first image (or those asked for), and the result is cached in one
// binary file named by a hash of the file list, sizes, modification times and those settings: a second run reads the
// cache, a changed folder is decoded again. The cache is written atomically, so a failure leaves no half-written file.
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace GpuNet.Engine.Data;

/// <summary>How an image folder is read: the channel count and size to convert to (0: the first image's), and progress.</summary>
/// <param name="Channels">1 or 3; 0 takes the first image's (1 when all its pixels are gray).</param>
/// <param name="Height">The image height; 0 takes the first image's (every image must then have its size).</param>
/// <param name="Width">The image width; 0 with <paramref name="Height"/> 0.</param>
/// <param name="Progress">Called with (images decoded, images in all) while decoding, from any thread.</param>
/// <param name="Cache">The folder of the decoded images' cache files (null: <see cref="ImageFolder.CacheFolder"/>).</param>
public sealed record FolderOptions(int Channels = 0, int Height = 0, int Width = 0, Action<int, int>? Progress = null, string? Cache = null);

/// <summary>Reads an image folder into a <see cref="Dataset"/>, through a cache.</summary>
public static class ImageFolder
{
    /// <summary>The data set's name in run files and model files.</summary>
    public const string Name = "folder";

    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];
    private static readonly byte[] Magic = "GPUNETIF"u8.ToArray();
    private const int CacheVersion = 1;

    /// <summary>
    /// Reads <paramref name="dir"/>: train/ (required) and test/ (optional: without it the test split is empty). The
    /// class names are train/'s folders; a test folder must be one of them.
    /// </summary>
    /// <exception cref="DataException">No train/, no classes, an empty class folder, an image that does not decode, or sizes that disagree without a size asked for; the message names the file or folder.</exception>
    public static Dataset Load(string dir, FolderOptions? options = null)
    {
        options ??= new FolderOptions();
        if (options.Channels is not (0 or 1 or 3) || options.Height < 0 || options.Width < 0 || (options.Height == 0) != (options.Width == 0))
        {
            throw new ConfigurationException("--channels must be 1 or 3 and --image-size HxW positive.");
        }

        string train = Path.Combine(dir, "train"), test = Path.Combine(dir, "test");
        if (!Directory.Exists(train))
        {
            throw new DataException($"{train}: not found; an image folder holds train/<class>/*.png|jpg|jpeg (and test/<class>/...).");
        }

        var classes = Directory.GetDirectories(train).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        if (classes.Count == 0)
        {
            throw new DataException($"{train}: no class folders; an image folder holds train/<class>/*.png|jpg|jpeg.");
        }

        var trainFiles = List(train, classes, requireEach: true);
        var testFiles = Directory.Exists(test) ? List(test, classes, requireEach: false) : [];
        var all = trainFiles.Concat(testFiles).ToList();

        // The target shape: asked for, or the first image's.
        int channels = options.Channels, height = options.Height, width = options.Width;
        if (channels == 0 || height == 0)
        {
            using var first = ImageFiles.Decode(all[0].Path);
            channels = channels == 0 ? (ImageFiles.IsGray(first) ? 1 : 3) : channels;
            (height, width) = height == 0 ? (first.Height, first.Width) : (height, width);
        }

        if (height > Readers.MaxSide || width > Readers.MaxSide)
        {
            throw new DataException($"{all[0].Path}: {height} x {width} is larger than {Readers.MaxSide} pixels a side; pass --image-size HxW.");
        }

        bool sizeGiven = options.Height > 0;
        string cachePath = Path.Combine(options.Cache ?? CacheFolder(), $"{Key(dir, all, channels, height, width, sizeGiven)}.bin");
        int size = channels * height * width;
        var pixels = ReadCache(cachePath, all.Count * size);
        if (pixels is null)
        {
            pixels = Decode(all, channels, height, width, sizeGiven, options.Progress);
            Directory.CreateDirectory(Path.GetDirectoryName(cachePath)!);
            Runs.AtomicFile.Write(cachePath, stream =>
            {
                stream.Write(Magic);
                Span<byte> header = stackalloc byte[8];
                BinaryPrimitives.WriteInt32LittleEndian(header, CacheVersion);
                BinaryPrimitives.WriteInt32LittleEndian(header[4..], pixels.Length);
                stream.Write(header);
                stream.Write(pixels);
            });
        }

        DataSplit Split(int from, int count) =>
            new(pixels.AsSpan(from * size, count * size).ToArray(), [.. all.Skip(from).Take(count).Select(f => f.Label)]);
        return new Dataset(Name, new GpuNet.Kernels.Shape(channels, height, width), classes, Split(0, trainFiles.Count), Split(trainFiles.Count, testFiles.Count));
    }

    /// <summary>
    /// Where caches go: GPUNET_CACHE, else $XDG_CACHE_HOME/gpunet, else ~/.cache/gpunet (the local application data
    /// folder on Windows).
    /// </summary>
    public static string CacheFolder() => Path.Combine(UserCache(), "image-folders");

    /// <summary>The per-user cache folder (see <see cref="CacheFolder"/>).</summary>
    public static string UserCache() =>
        Environment.GetEnvironmentVariable("GPUNET_CACHE") is { Length: > 0 } given ? given
        : OperatingSystem.IsWindows() ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "gpunet")
        : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "gpunet")
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "gpunet");

    private static List<(string Path, int Label)> List(string root, List<string> classes, bool requireEach)
    {
        var files = new List<(string, int)>();
        foreach (string folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(folder);
            int label = classes.IndexOf(name);
            if (label < 0)
            {
                throw new DataException($"{folder}: class '{name}' is not among the training classes ({string.Join(", ", classes)}).");
            }

            var images = Directory.GetFiles(folder).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).ToList();
            if (images.Count == 0 && requireEach)
            {
                throw new DataException($"{folder}: no .png, .jpg or .jpeg images in this class folder.");
            }

            files.AddRange(images.Select(f => (f, label)));
        }

        return files;
    }

    private static string Key(string dir, List<(string Path, int Label)> files, int channels, int height, int width, bool sizeGiven)
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"v{CacheVersion} {Path.GetFullPath(dir)} {channels}x{height}x{width} {sizeGiven}\n"));
        foreach (var (path, label) in files)
        {
            var info = new FileInfo(path);
            text.Append(CultureInfo.InvariantCulture, $"{Path.GetRelativePath(dir, path)}\t{label}\t{info.Length}\t{info.LastWriteTimeUtc.Ticks}\n");
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>The cached pixels, or null when there is no whole cache of that length.</summary>
    private static byte[]? ReadCache(string path, long length)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            bool whole = bytes.Length == Magic.Length + 8 + length && bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)
                && BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(Magic.Length)) == CacheVersion
                && BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(Magic.Length + 4)) == length;
            return whole ? bytes[(Magic.Length + 8)..] : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static byte[] Decode(List<(string Path, int Label)> files, int channels, int height, int width, bool sizeGiven, Action<int, int>? progress)
    {
        int size = channels * height * width, done = 0, step = Math.Max(1, files.Count / 100);
        var pixels = new byte[(long)files.Count * size];
        var errors = new DataException?[files.Count];
        Parallel.For(0, files.Count, (i, loop) =>
        {
            string path = files[i].Path;
            try
            {
                using var image = ImageFiles.Decode(path);
                if (!sizeGiven && (image.Height != height || image.Width != width))
                {
                    throw new DataException($"{path}: {image.Height} x {image.Width} pixels, but the first image ({files[0].Path}) is {height} x {width}; pass --image-size HxW to resize them all.");
                }

                ImageFiles.ToPixels(image, channels, height, width, path).CopyTo(pixels.AsSpan(i * size, size));
            }
            catch (DataException e)
            {
                errors[i] = e;
                loop.Stop();
                return;
            }

            int now = Interlocked.Increment(ref done);
            if (now % step == 0 || now == files.Count)
            {
                progress?.Invoke(now, files.Count);
            }
        });

        // One bad file (the first in the folders' order of those the threads met before stopping).
        return errors.FirstOrDefault(e => e is not null) is { } error ? throw error : pixels;
    }
}
