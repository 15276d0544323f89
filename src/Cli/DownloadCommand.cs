using System.CommandLine;
using System.Globalization;
using GpuNet.Engine.Data;
using GpuNet.Engine.Runs;

namespace GpuNet.Cli;

/// <summary>gpunet data download: a data set's official files, verified against their published checksums.</summary>
internal static class DownloadCommand
{
    public static Command Create(TextWriter output, bool interactive)
    {
        var name = new Argument<string>("dataset") { Description = "fashion-mnist, mnist or cifar10." };
        name.AcceptOnlyFromAmong([.. Downloads.Sources.Keys.Select(DataSets.Name)]);
        var to = new Option<string?>("--to") { Description = "The folder to download into (default: the per-user cache's datasets/NAME, where train looks without --data-dir)." };
        var mirror = new Option<string?>("--mirror") { Description = "A base URL to fetch the files from instead of the official one (they must still match the published checksums)." };
        var command = new Command("download", "Download a data set's official files, resuming a partial download, verify each against its published MD5, unpack CIFAR-10's archive.")
        {
            name, to, mirror, Program.VerboseOption(),
        };
        command.SetAction(parse =>
        {
            var kind = Choices.Parse<DatasetKind>(parse.GetValue(name)!);
            string target = parse.GetValue(to) ?? Downloads.DefaultFolder(kind);
            var source = Downloads.Sources[kind];
            string? url = parse.GetValue(mirror);
            if (url is not null && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            {
                throw new GpuNet.Engine.ConfigurationException($"--mirror must be an http or https URL, got '{url}'.");
            }

            int fetched = Downloads.Run(source, target, url, interactive ? Show(output) : null);
            output.WriteLine($"{DataSets.Name(kind)}: {source.Files.Count} file(s) verified in {Path.GetFullPath(target)} ({fetched} downloaded); train with --dataset {DataSets.Name(kind)}{(parse.GetValue(to) is null ? "" : $" --data-dir {target}")}");
            return 0;
        });
        return command;
    }

    /// <summary>A progress line rewritten in place: the file, bytes, rate and time left.</summary>
    private static Action<DownloadProgress> Show(TextWriter output) => p =>
    {
        double seconds = Math.Max(p.Elapsed.TotalSeconds, 1e-3), rate = p.Bytes / seconds;
        string total = p.Total is { } t ? string.Create(CultureInfo.InvariantCulture, $"/{t / 1e6:F1}") : "";
        string left = p.Total is { } all && rate > 0 ? string.Create(CultureInfo.InvariantCulture, $", {Math.Max(0, all - p.Bytes) / rate:F0} s left") : "";
        output.Write(string.Create(CultureInfo.InvariantCulture, $"\r{p.File}: {p.Bytes / 1e6:F1}{total} MB, {rate / 1e6:F1} MB/s{left}   "));
        if (p.Total is { } whole && p.Bytes >= whole)
        {
            output.WriteLine();
        }
    };
}
