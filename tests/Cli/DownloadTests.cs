using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Cli;

/// <summary>gpunet data download against a file server on 127.0.0.1: resume, verification, unpacking, each failure.</summary>
public sealed class DownloadTests
{
    private static byte[] Bytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

#pragma warning disable CA5351 // The published checksums these tests stand in for are MD5.
    private static string Md5(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));
#pragma warning restore CA5351

    [Fact]
    public void ADroppedTransferIsResumedByTheNextCallAndVerified()
    {
        using var server = new FileServer();
        byte[] a = Bytes(3000, 1), b = Bytes(200_000, 2);
        server.Add("a.gz", a);
        server.Add("b.gz", b);
        server.DropOnce("b.gz", 70_000);
        var source = new DownloadSource(server.Url, [new("a.gz", Md5(a)), new("b.gz", Md5(b), b.Length)]);
        string target = SyntheticData.NewDirectory();

        var error = Assert.Throws<DataException>(() => Downloads.Run(source, target));
        Assert.StartsWith("b.gz: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("run the same command again to resume", error.Message, StringComparison.Ordinal);
        Assert.Equal(a, File.ReadAllBytes(Path.Combine(target, "a.gz")));
        Assert.False(File.Exists(Path.Combine(target, "b.gz")));
        long kept = new FileInfo(Path.Combine(target, ".b.gz.partial")).Length;
        Assert.InRange(kept, 1, b.Length - 1);

        // The next call keeps the verified a.gz and asks only for the rest of b.gz.
        Assert.Equal(1, Downloads.Run(source, target));
        Assert.Equal(b, File.ReadAllBytes(Path.Combine(target, "b.gz")));
        Assert.Equal(["a.gz", "b.gz", $"b.gz bytes={kept}-"], server.Requests);
        Assert.False(File.Exists(Path.Combine(target, ".b.gz.partial")));
        Assert.Equal(0, Downloads.Run(source, target));
    }

    [Fact]
    public void AnArchiveIsUnpackedIntoPlaceOnlyWhenVerified()
    {
        string folder = SyntheticData.NewDirectory();
        Directory.CreateDirectory(Path.Combine(folder, "batches"));
        byte[] inner = Bytes(5000, 3);
        File.WriteAllBytes(Path.Combine(folder, "batches", "test_batch.bin"), inner);
        using var archive = new MemoryStream();
        using (var gz = new GZipStream(archive, CompressionLevel.Fastest, leaveOpen: true))
        {
            TarFile.CreateFromDirectory(Path.Combine(folder, "batches"), gz, includeBaseDirectory: true);
        }

        byte[] tgz = archive.ToArray();
        using var server = new FileServer();
        server.Add("data.tar.gz", tgz);
        string target = SyntheticData.NewDirectory();

        // A wrong checksum leaves nothing; the right one unpacks.
        var wrong = new DownloadSource(server.Url, [new("data.tar.gz", new string('0', 32))], Unpacks: true);
        Assert.Contains("is not the published", Assert.Throws<DataException>(() => Downloads.Run(wrong, target)).Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(target));
        Assert.Equal(1, Downloads.Run(new DownloadSource(server.Url, [new("data.tar.gz", Md5(tgz), tgz.Length)], Unpacks: true), target));
        Assert.Equal(inner, File.ReadAllBytes(Path.Combine(target, "batches", "test_batch.bin")));
        Assert.False(File.Exists(Path.Combine(target, ".data.tar.gz.partial")));
    }

    /// <summary>
    /// The published table against a server whose files are not the published ones (the embedded Fashion-MNIST is
    /// re-compressed; the first file is served truncated): exit 1, one line naming the file and both checksums, no
    /// data file in the target.
    /// </summary>
    [Fact]
    public void FilesThatAreNotThePublishedOnesAreRefusedWithOneLine()
    {
        using var server = new FileServer();
        foreach (string file in Directory.GetFiles(DataSets.EmbeddedFashionMnist, "*.gz"))
        {
            server.Add(Path.GetFileName(file), File.ReadAllBytes(file));
        }

        string first = Path.Combine(DataSets.EmbeddedFashionMnist, "train-images-idx3-ubyte.gz");
        server.Add("train-images-idx3-ubyte.gz", File.ReadAllBytes(first)[..100_000]);
        string target = SyntheticData.NewDirectory();
        var (code, _, error) = Support.Cli.Run("data", "download", "fashion-mnist", "--to", target, "--mirror", server.Url);
        Assert.Equal(GpuNet.Cli.Program.Failure, code);
        Assert.Matches(@"^gpunet: train-images-idx3-ubyte\.gz: MD5 [0-9a-f]{32} \(100000 bytes\) is not the published 8d4fb7e6c68d591d4c3dfef9ec88bf0d", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Empty(Directory.GetFileSystemEntries(target));

        // Whole but re-compressed: refused the same way, nothing kept.
        server.Add("train-images-idx3-ubyte.gz", File.ReadAllBytes(first));
        (code, _, error) = Support.Cli.Run("data", "download", "fashion-mnist", "--to", target, "--mirror", server.Url);
        Assert.Equal(GpuNet.Cli.Program.Failure, code);
        Assert.Contains("train-images-idx3-ubyte.gz: MD5", error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    /// <summary>Without --data-dir, train reads MNIST from where data download puts it (the tests' cache folder).</summary>
    [Fact]
    public void TrainFindsADownloadInTheDefaultFolder()
    {
        string folder = Downloads.DefaultFolder(DatasetKind.Mnist);
        Directory.CreateDirectory(folder);
        foreach (string file in Directory.GetFiles(SyntheticData.WriteMnistLike(100, 40, seed: 31)))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)), overwrite: true);
        }

        string run = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, output, error) = Support.Cli.Run("train", "--dataset", "mnist", "--hidden", "8", "--batch-size", "20", "--steps", "5", "--eval-every", "5", "--accelerator", "cpu", "--out", run);
        Assert.True(code == 0, error);
        Assert.Contains("on 40 mnist test images", Support.Cli.Run("eval", "--checkpoint", Path.Combine(run, "model.safetensors"), "--accelerator", "cpu").Output, StringComparison.Ordinal);
        Assert.Contains("final_test_accuracy", output, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnreachableHostAndABadMirrorEndWithOneLine()
    {
        string target = SyntheticData.NewDirectory();
        using var closed = new FileServer();
        string url = closed.Url;
        closed.Dispose();
        var (code, _, error) = Support.Cli.Run("data", "download", "mnist", "--to", target, "--mirror", url);
        Assert.Equal(GpuNet.Cli.Program.Failure, code);
        Assert.Contains("train-images-idx3-ubyte.gz: cannot download", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));

        (code, _, error) = Support.Cli.Run("data", "download", "mnist", "--to", target, "--mirror", "ftp://example");
        Assert.Equal(GpuNet.Cli.Program.UsageError, code);
        Assert.Contains("--mirror must be an http or https URL", error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(target));
    }
}
