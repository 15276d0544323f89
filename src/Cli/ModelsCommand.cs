using System.CommandLine;
using System.Globalization;
using GpuNet.Engine.Data;
using GpuNet.Engine.Models;
using GpuNet.Engine.Runs;
using GpuNet.Kernels;

namespace GpuNet.Cli;

/// <summary>gpunet models: the built-in models, a model's file, and a model file's layers checked against a data set.</summary>
internal static class ModelsCommand
{
    public static Command Create(TextWriter output)
    {
        var list = new Command("models", "List the built-in models (each is a model file shipped with gpunet); 'models show' prints one, 'models check' checks a model file.");
        list.SetAction(_ =>
        {
            foreach (var builtin in Enum.GetValues<BuiltinModel>())
            {
                output.WriteLine($"{BuiltinModels.Name(builtin),-9} {BuiltinModels.Descriptions[builtin]}");
            }

            output.WriteLine("Train your own network with --model FILE.json (README: \"Your own network\"); 'gpunet models show vgg' prints a model file.");
            return 0;
        });

        var name = new Argument<string>("model") { Description = "A built-in model (mlp, mlp-deep, vgg) or a model file (NAME.json)." };
        var show = new Command("show", "Print a model file: a built-in's shipped file, or a model file in its canonical form.") { name };
        show.SetAction(parse =>
        {
            string model = parse.GetValue(name)!;
            output.Write(BuiltinModels.Find(model) is { } builtin ? BuiltinModels.ShippedText(builtin) : ModelDefinition.Load(model).ToJson());
            return 0;
        });

        var dataset = new Option<string>("--dataset") { Description = "The data set whose samples and classes the model takes.", DefaultValueFactory = _ => DataSets.Name(DatasetKind.FashionMnist) };
        dataset.AcceptOnlyFromAmong([.. Choices.Datasets.Where(n => DataSets.SampleShape(Choices.Parse<DatasetKind>(n)) is not null)]);
        var check = new Command("check", "Check a model against a data set's samples and classes without allocating anything: each layer's output shape and parameters.") { name, dataset };
        check.SetAction(parse =>
        {
            string model = parse.GetValue(name)!;
            var definition = BuiltinModels.Find(model) is { } builtin ? BuiltinModels.Shipped(builtin) : ModelDefinition.Load(model);
            var set = Choices.Parse<DatasetKind>(parse.GetValue(dataset)!);
            int[] input = DataSets.SampleShape(set)!;
            int classes = DataSets.ClassNames(set)!.Count;
            definition.Check(new Shape(input), classes, model);
            var rows = definition.Summarize(new Shape(input), classes);
            int width = Math.Max(5, rows.Max(r => r.Path.Length));
            output.WriteLine($"{"layer".PadRight(width)}  {"type",-14} {"output",-16} parameters");
            foreach (var (path, type, shape, parameters) in rows)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path.PadRight(width)}  {type,-14} {ModelDefinition.Describe(shape),-16} {parameters:N0}"));
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{definition.Name}: {rows.Sum(r => r.Parameters):N0} parameters, input ({string.Join(", ", input)}), {classes} classes"));
            return 0;
        });
        list.Subcommands.Add(show);
        list.Subcommands.Add(check);
        return list;
    }
}
