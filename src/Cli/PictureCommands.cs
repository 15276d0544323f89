using System.CommandLine;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;

namespace GpuNet.Cli;

/// <summary>gpunet data preview and gpunet compare: pictures of a data set and of several runs.</summary>
internal static class PictureCommands
{
    public static Command Data(TextWriter output, bool interactive)
    {
        var dataset = new Option<string>("--dataset") { Description = "fashion-mnist (embedded), mnist or cifar10.", DefaultValueFactory = _ => DataSets.Name(DatasetKind.FashionMnist) };
        dataset.AcceptOnlyFromAmong([.. DataSets.Names]);
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory holding the data set's files." };
        var count = new Option<int>("--count") { Description = "Images in the grid.", DefaultValueFactory = _ => 40 };
        var columns = new Option<int>("--columns") { Description = "Images per row.", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "Which images: the seed of their random draw.", DefaultValueFactory = _ => 1 };
        var outFile = new Option<string>("--out") { Description = "The PNG to write.", DefaultValueFactory = _ => "grid.png" };
        var augment = new Option<string?>("--augment") { Description = "Show the images as training would augment them: flip, crop or flip,crop (as gpunet train --augment)." };
        var cropPadding = new Option<int>("--crop-padding") { Description = "crop augmentation: zero padding of 2 or 4 pixels.", DefaultValueFactory = _ => 4 };
        var preview = new Command("preview", "Write a grid of sample training images with their class names, to check a data set loads as intended.")
        {
            dataset, dataDir, count, columns, seed, outFile, augment, cropPadding, Program.VerboseOption(),
        };
        preview.SetAction(parse =>
        {
            int n = parse.GetValue(count), perRow = parse.GetValue(columns);
            if (n < 1 || perRow < 1)
            {
                throw new ConfigurationException($"--count and --columns must be at least 1, got {n} and {perRow}.");
            }

            var transformations = TrainOptions.ParseAugment(parse.GetValue(augment));
            int padding = parse.GetValue(cropPadding);
            if (padding is not (2 or 4))
            {
                throw new ConfigurationException($"--crop-padding must be 2 or 4, got {padding}.");
            }

            var augmentation = new GpuNet.Kernels.GatherAugmentation(
                transformations.Contains(Augmentation.Flip), transformations.Contains(Augmentation.Crop) ? padding : 0, parse.GetValue(seed), 1, 0);
            var data = DataSets.Load(Choices.Parse<DatasetKind>(parse.GetValue(dataset)!), parse.GetValue(dataDir));
            var (png, labels) = Pictures.PreviewGrid(data, n, perRow, parse.GetValue(seed), augmentation);
            string path = parse.GetValue(outFile)!;
            AtomicFile.WriteAllBytes(path, png);
            string how = augmentation.Active ? $", augmented ({string.Join(",", transformations).ToLowerInvariant()})" : "";
            output.WriteLine($"{path}: {labels.Count} {data.Name} training images ({data.SampleShape}){how}, classes {string.Join(", ", labels.Distinct().Order().Select(l => data.ClassNames[l]))}");
            return 0;
        });
        var command = new Command("data", "Download a data set or look at one.");
        command.Subcommands.Add(DownloadCommand.Create(output, interactive));
        command.Subcommands.Add(preview);
        command.Subcommands.Add(ExportImages(output));
        return command;
    }

    /// <summary>gpunet data export-images: test images as PNG files named NNNNN_labelK_class.png.</summary>
    private static Command ExportImages(TextWriter output)
    {
        var dataset = new Option<string>("--dataset") { Description = "fashion-mnist (embedded), mnist or cifar10.", DefaultValueFactory = _ => DataSets.Name(DatasetKind.FashionMnist) };
        dataset.AcceptOnlyFromAmong([.. DataSets.Names]);
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory holding the data set's files." };
        var count = new Option<int>("--count") { Description = "The first N test images.", DefaultValueFactory = _ => 100 };
        var outDir = new Option<string>("--out") { Description = "Directory to write the PNG files into.", Required = true };
        var command = new Command("export-images", "Write test images as PNG files named NNNNN_labelK_class.png (N the test index, K the label), to try gpunet predict on.")
        {
            dataset, dataDir, count, outDir, Program.VerboseOption(),
        };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n < 1)
            {
                throw new ConfigurationException($"--count must be at least 1, got {n}.");
            }

            var data = DataSets.Load(Choices.Parse<DatasetKind>(parse.GetValue(dataset)!), parse.GetValue(dataDir));
            n = Math.Min(n, data.Test.Count);
            string dir = parse.GetValue(outDir)!;
            Directory.CreateDirectory(dir);
            var shape = data.SampleShape;
            int size = shape.Length;
            for (int i = 0; i < n; i++)
            {
                int label = data.Test.Labels[i];
                ImageFiles.WritePng(Path.Combine(dir, Pictures.ExportName(i, label, data.ClassNames[label])), data.Test.Pixels.AsSpan(i * size, size), shape[0], shape[1], shape[2]);
            }

            output.WriteLine($"{dir}: {n} {data.Name} test images as PNG ({shape[1]} x {shape[2]}, {(shape[0] == 1 ? "gray" : "RGB")})");
            return 0;
        });
        return command;
    }

    public static Command Compare(TextWriter output)
    {
        var runs = new Argument<string[]>("RUN_DIR") { Description = "Run directories written by gpunet train.", Arity = ArgumentArity.OneOrMore };
        var outFile = new Option<string>("--out") { Description = "The PNG to write; a Markdown table goes beside it (.md) and to the output.", DefaultValueFactory = _ => "compare.png" };
        var labels = new Option<string?>("--labels") { Description = "Names for the runs, comma-separated, in order (default: each run's model and the settings in which the runs differ)." };
        var command = new Command("compare", "Overlay several runs' curves in one figure and tabulate their settings and results.")
        {
            runs, outFile, labels, Program.VerboseOption(),
        };
        command.SetAction(parse =>
        {
            var records = parse.GetValue(runs)!.Select(RunRecord.Read).ToList();
            if (parse.GetValue(labels) is { } given)
            {
                var names = given.Split(',', StringSplitOptions.TrimEntries);
                if (names.Length != records.Count || names.Any(string.IsNullOrEmpty))
                {
                    throw new ConfigurationException($"--labels gives {names.Length} names for {records.Count} runs; give one non-empty name per run.");
                }

                records = records.Select((r, i) => r with { Name = names[i] }).ToList();
            }
            else
            {
                records = Pictures.NameByDifferences(records);
            }

            var (png, _) = Pictures.CompareRuns(records);
            string path = parse.GetValue(outFile)!;
            string table = Pictures.CompareTable(records);
            AtomicFile.WriteAllBytes(path, png);
            AtomicFile.WriteAllText(Path.ChangeExtension(path, ".md"), table);
            output.Write(table);
            output.WriteLine($"wrote {path} and {Path.ChangeExtension(path, ".md")}");
            return 0;
        });
        return command;
    }
}
