using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Engine;

/// <summary>Image folders: classes, labels and pixels as written, the cache's use and invalidation, and each bad input.</summary>
public sealed class ImageFolderTests
{
    internal static byte[] Image(int seed, int size = 8) => [.. Enumerable.Range(0, size * size).Select(i => (byte)((i * 37) + (seed * 11)))];

    /// <summary>Writes DIR/split/class/NN.png gray images; returns DIR.</summary>
    internal static string Write(params (string Split, string Class, int Count)[] folders)
    {
        string dir = SyntheticData.NewDirectory();
        int seed = 0;
        foreach (var (split, name, count) in folders)
        {
            Directory.CreateDirectory(Path.Combine(dir, split, name));
            for (int i = 0; i < count; i++)
            {
                ImageFiles.WritePng(Path.Combine(dir, split, name, $"{i:D2}.png"), Image(seed++), 1, 8, 8);
            }
        }

        return dir;
    }

    [Fact]
    public void ClassesLabelsAndPixelsAreTheFoldersAndTheCacheIsReadUntilAFileChanges()
    {
        string dir = Write(("train", "zebra", 2), ("train", "Apple", 3), ("train", "mango", 1), ("test", "mango", 2));
        string cache = SyntheticData.NewDirectory();
        var data = ImageFolder.Load(dir, new FolderOptions(Cache: cache));
        Assert.Equal(["Apple", "mango", "zebra"], data.ClassNames);
        Assert.Equal([1, 8, 8], [data.SampleShape[0], data.SampleShape[1], data.SampleShape[2]]);
        Assert.Equal([0, 0, 0, 1, 2, 2], data.Train.Labels);
        Assert.Equal([1, 1], data.Test.Labels);

        // Train in the order train/<class sorted>/<file sorted>: zebra's images were written first (seeds 0, 1).
        Assert.Equal(Image(2), data.Train.Pixels.AsSpan(0, 64).ToArray());
        Assert.Equal(Image(0), data.Train.Pixels.AsSpan(4 * 64, 64).ToArray());
        Assert.Equal(Image(7), data.Test.Pixels.AsSpan(64, 64).ToArray());

        // The second read takes the cache (marked here), and a changed file makes the next one decode again.
        string file = Assert.Single(Directory.GetFiles(cache, "*.bin"));
        var bytes = File.ReadAllBytes(file);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(file, bytes);
        Assert.NotEqual(Image(7), ImageFolder.Load(dir, new FolderOptions(Cache: cache)).Test.Pixels.AsSpan(64, 64).ToArray());
        File.SetLastWriteTimeUtc(Path.Combine(dir, "test", "mango", "01.png"), DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(Image(7), ImageFolder.Load(dir, new FolderOptions(Cache: cache)).Test.Pixels.AsSpan(64, 64).ToArray());
    }

    [Fact]
    public void SizeAndChannelsComeFromTheFirstImageOrAsAsked()
    {
        string dir = Write(("train", "a", 2), ("train", "b", 2));
        ImageFiles.WritePng(Path.Combine(dir, "train", "b", "big.png"), [.. Enumerable.Repeat((byte)200, 3 * 10 * 12)], 3, 10, 12);
        string cache = SyntheticData.NewDirectory();
        var error = Assert.Throws<DataException>(() => ImageFolder.Load(dir, new FolderOptions(Cache: cache)));
        Assert.Contains("big.png: 10 x 12 pixels, but the first image", error.Message, StringComparison.Ordinal);
        Assert.Contains("--image-size", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(cache, "*", SearchOption.AllDirectories));

        var resized = ImageFolder.Load(dir, new FolderOptions(3, 16, 16, Cache: cache));
        Assert.Equal((3, 16, 16), (resized.SampleShape[0], resized.SampleShape[1], resized.SampleShape[2]));
        Assert.Equal(5, resized.Train.Count);
        Assert.Empty(resized.Test.Labels);

        // A colour first image makes three channels.
        string colour = Write(("train", "a", 1));
        ImageFiles.WritePng(Path.Combine(colour, "train", "a", "00.png"), [.. Enumerable.Range(0, 3 * 64).Select(i => (byte)i)], 3, 8, 8);
        Assert.Equal(3, ImageFolder.Load(colour, new FolderOptions(Cache: cache)).SampleShape[0]);
    }

    [Fact]
    public void BadFoldersEndWithOneLineNamingTheFileAndLeaveNoCache()
    {
        string cache = SyntheticData.NewDirectory();
        string Fails(string dir) => Assert.Throws<DataException>(() => ImageFolder.Load(dir, new FolderOptions(Cache: cache))).Message;

        Assert.Contains("train: not found", Fails(SyntheticData.NewDirectory()), StringComparison.Ordinal);

        string noClasses = SyntheticData.NewDirectory();
        Directory.CreateDirectory(Path.Combine(noClasses, "train"));
        Assert.Contains("no class folders", Fails(noClasses), StringComparison.Ordinal);

        string empty = Write(("train", "a", 1));
        Directory.CreateDirectory(Path.Combine(empty, "train", "b"));
        Assert.Contains($"{Path.Combine(empty, "train", "b")}: no .png, .jpg or .jpeg images", Fails(empty), StringComparison.Ordinal);

        string broken = Write(("train", "a", 3));
        File.WriteAllText(Path.Combine(broken, "train", "a", "01.png"), "not an image");
        Assert.Contains($"{Path.Combine(broken, "train", "a", "01.png")}: not a PNG or JPEG image", Fails(broken), StringComparison.Ordinal);

        string stray = Write(("train", "a", 1), ("test", "b", 1));
        Assert.Contains("class 'b' is not among the training classes (a)", Fails(stray), StringComparison.Ordinal);

        Assert.All(new[] { empty, broken, stray }, d => Assert.DoesNotContain('\n', Fails(d)));
        Assert.Empty(Directory.GetFiles(cache, "*", SearchOption.AllDirectories));
    }
}
