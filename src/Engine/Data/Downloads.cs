// gpunet data download: the data sets' files under their official names with their published MD5 checksums (of the
// files as downloaded), streamed to a hidden partial file beside the target, resumed by an HTTP Range request when a
// partial file is there, verified, unpacked (CIFAR-10's tar.gz), and renamed into place only when whole and verified.
// A mismatch removes the partial file; a dropped transfer keeps it for the next call to resume.
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace GpuNet.Engine.Data;

/// <summary>One file of a download: its official name, published MD5 and, when published, its size in bytes.</summary>
public sealed record DownloadFile(string Name, string Md5, long? Size = null);

/// <summary>Where a data set's files come from and what they must be.</summary>
/// <param name="BaseUrl">The official location; a file's URL is this plus its name (a mirror replaces it).</param>
/// <param name="Files">The files, as published.</param>
/// <param name="Unpacks">The files are tar.gz archives to unpack into the target (their entries' own paths).</param>
public sealed record DownloadSource(string BaseUrl, IReadOnlyList<DownloadFile> Files, bool Unpacks = false);

/// <summary>How far a download is: the file, bytes so far, bytes in all (null: unknown), and the time it has taken.</summary>
public readonly record struct DownloadProgress(string File, long Bytes, long? Total, TimeSpan Elapsed);

/// <summary>Downloads the data sets' files and checks them against their published checksums.</summary>
public static class Downloads
{
    private const string PartialSuffix = ".partial";

    /// <summary>The data sets that download, with their official files and checksums.</summary>
    public static IReadOnlyDictionary<DatasetKind, DownloadSource> Sources { get; } = new Dictionary<DatasetKind, DownloadSource>
    {
        [DatasetKind.FashionMnist] = new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        [
            new("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            new("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
            new("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
            new("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
        ]),
        [DatasetKind.Mnist] = new("https://ossci-datasets.s3.amazonaws.com/mnist/",
        [
            new("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            new("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            new("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            new("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ]),
        [DatasetKind.Cifar10] = new("https://www.cs.toronto.edu/~kriz/",
            [new("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171)], Unpacks: true),
    };

    /// <summary>Where a download goes by default, and where train looks without --data-dir: the user cache's datasets/NAME.</summary>
    public static string DefaultFolder(DatasetKind kind) => Path.Combine(ImageFolder.UserCache(), "datasets", DataSets.Name(kind));

    /// <summary>
    /// Downloads <paramref name="source"/>'s files into <paramref name="target"/> (from <paramref name="mirror"/> when
    /// given), resuming partial files, verifying each and unpacking archives; files already there and verified are
    /// kept. Returns the number of files fetched.
    /// </summary>
    /// <exception cref="DataException">A checksum or size mismatch, a dropped transfer or an unreachable host; the message names the file.</exception>
    public static int Run(DownloadSource source, string target, string? mirror = null, Action<DownloadProgress>? progress = null, HttpClient? client = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        Directory.CreateDirectory(target);
        string baseUrl = mirror is null ? source.BaseUrl : mirror.EndsWith('/') ? mirror : mirror + "/";
        using var owned = client is null ? new HttpClient { Timeout = Timeout.InfiniteTimeSpan } : null;
        var http = client ?? owned!;
        int fetched = 0;
        foreach (var file in source.Files)
        {
            string final = Path.Combine(target, file.Name);
            if (source.Unpacks ? File.Exists(UnpackedMarker(target, file)) : File.Exists(final) && Md5(final) == file.Md5)
            {
                continue;
            }

            string partial = Path.Combine(target, $".{file.Name}{PartialSuffix}");
            Fetch(http, new Uri(baseUrl + file.Name), partial, file, progress);
            Verify(partial, file);
            if (source.Unpacks)
            {
                Unpack(partial, target, file);
                File.Delete(partial);
            }
            else
            {
                File.Move(partial, final, overwrite: true);
            }

            fetched++;
        }

        return fetched;
    }

    /// <summary>The MD5 of <paramref name="path"/>, lower-case hex.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "The data sets publish MD5 checksums; they check a transfer's integrity, not a signature.")]
    public static string Md5(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(stream));
    }

    private static void Fetch(HttpClient http, Uri url, string partial, DownloadFile file, Action<DownloadProgress>? progress)
    {
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0)
        {
            request.Headers.Range = new RangeHeaderValue(have, null);
        }

        var clock = Stopwatch.StartNew();
        try
        {
            using var response = http.Send(request, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
            {
                return;  // The partial file is already whole: verification decides.
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new DataException($"{file.Name}: {url} answered {(int)response.StatusCode} {response.ReasonPhrase}.");
            }

            bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
            long start = resumed ? have : 0;
            long? total = response.Content.Headers.ContentLength is { } length ? start + length : file.Size;
            using var body = response.Content.ReadAsStream();
            using var output = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None);
            var buffer = new byte[1 << 16];
            long bytes = start, reported = 0;
            int read;
            while ((read = body.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, read);
                bytes += read;
                if (bytes - reported >= 1 << 20)
                {
                    reported = bytes;
                    progress?.Invoke(new DownloadProgress(file.Name, bytes, total, clock.Elapsed));
                }
            }

            output.Flush(flushToDisk: true);
            progress?.Invoke(new DownloadProgress(file.Name, bytes, total, clock.Elapsed));
            if (total is { } expected && bytes < expected)
            {
                throw new DataException($"{file.Name}: the transfer ended after {bytes} of {expected} bytes; run the same command again to resume it.");
            }
        }
        catch (HttpRequestException e)
        {
            throw new DataException($"{file.Name}: cannot download {url} ({GpuNetException.OneLine(e.Message)}); a partial file is kept to resume.", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            long now = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            throw new DataException($"{file.Name}: the transfer from {url} broke off after {now} bytes ({GpuNetException.OneLine(e.Message)}); run the same command again to resume it.", e);
        }
    }

    private static void Verify(string partial, DownloadFile file)
    {
        long size = new FileInfo(partial).Length;
        string md5 = Md5(partial);
        if (md5 != file.Md5 || (file.Size is { } expected && size != expected))
        {
            File.Delete(partial);
            throw new DataException(
                $"{file.Name}: MD5 {md5} ({size} bytes) is not the published {file.Md5}{(file.Size is { } s ? $" ({s} bytes)" : "")}; the file was removed, nothing was kept.");
        }
    }

    /// <summary>The file whose presence says an archive was unpacked whole: written last.</summary>
    private static string UnpackedMarker(string target, DownloadFile file) => Path.Combine(target, $".{file.Name}.unpacked");

    /// <summary>Unpacks a verified tar.gz into a hidden folder, then moves each top-level entry into place.</summary>
    private static void Unpack(string archive, string target, DownloadFile file)
    {
        string staging = Path.Combine(target, $".{file.Name}.unpacking");
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging);
        try
        {
            using (var gz = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress))
            {
                TarFile.ExtractToDirectory(gz, staging, overwriteFiles: true);
            }

            foreach (string entry in Directory.GetFileSystemEntries(staging))
            {
                string destination = Path.Combine(target, Path.GetFileName(entry));
                if (Directory.Exists(destination))
                {
                    Directory.Delete(destination, recursive: true);
                }

                if (Directory.Exists(entry))
                {
                    Directory.Move(entry, destination);
                }
                else
                {
                    File.Move(entry, destination, overwrite: true);
                }
            }

            File.WriteAllText(UnpackedMarker(target, file), file.Md5);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new DataException($"{file.Name}: the verified archive does not unpack ({GpuNetException.OneLine(e.Message)}).", e);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }
}
