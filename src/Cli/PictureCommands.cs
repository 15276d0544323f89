using System.CommandLine;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;

namespace GpuNet.Cli;

/// <summary>gpunet data preview and gpunet compare: pictures of a data set and of several runs.</summary>
internal static class PictureCommands
{
    public static Command Data(TextWriter output)
    {
        var dataset = new Option<string>("--dataset") { Description = "fashion-mnist (embedded), mnist or cifar10.", DefaultValueFactory = _ => "fashion-mnist" };
        dataset.AcceptOnlyFromAmong([.. DataSets.Names]);
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory holding the data set's files." };
        var count = new Option<int>("--count") { Description = "Images in the grid.", DefaultValueFactory = _ => 40 };
        var columns = new Option<int>("--columns") { Description = "Images per row.", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "Which images: the seed of their random draw.", DefaultValueFactory = _ => 1 };
        var outFile = new Option<string>("--out") { Description = "The PNG to write.", DefaultValueFactory = _ => "grid.png" };
        var preview = new Command("preview", "Write a grid of sample training images with their class names, to check a data set loads as intended.")
        {
            dataset, dataDir, count, columns, seed, outFile, Program.VerboseOption(),
        };
        preview.SetAction(parse =>
        {
            int n = parse.GetValue(count), perRow = parse.GetValue(columns);
            if (n < 1 || perRow < 1)
            {
                throw new ConfigurationException($"--count and --columns must be at least 1, got {n} and {perRow}.");
            }

            var data = DataSets.Load(parse.GetValue(dataset)!, parse.GetValue(dataDir));
            var (png, labels) = Pictures.PreviewGrid(data, n, perRow, parse.GetValue(seed));
            string path = parse.GetValue(outFile)!;
            AtomicFile.WriteAllBytes(path, png);
            output.WriteLine($"{path}: {labels.Count} {data.Name} training images ({data.SampleShape}), classes {string.Join(", ", labels.Distinct().Order().Select(l => data.ClassNames[l]))}");
            return 0;
        });
        var command = new Command("data", "Look at a data set.");
        command.Subcommands.Add(preview);
        return command;
    }

    public static Command Compare(TextWriter output)
    {
        var runs = new Argument<string[]>("RUN_DIR") { Description = "Run directories written by gpunet train.", Arity = ArgumentArity.OneOrMore };
        var outFile = new Option<string>("--out") { Description = "The PNG to write; a Markdown table goes beside it (.md) and to the output.", DefaultValueFactory = _ => "compare.png" };
        var command = new Command("compare", "Overlay several runs' curves in one figure and tabulate their settings and results.")
        {
            runs, outFile, Program.VerboseOption(),
        };
        command.SetAction(parse =>
        {
            var records = parse.GetValue(runs)!.Select(RunRecord.Read).ToList();
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
