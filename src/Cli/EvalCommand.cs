using System.CommandLine;
using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Runs;
using GpuNet.Engine.Training;

namespace GpuNet.Cli;

/// <summary>gpunet eval: loads a model file and reports test loss and accuracy.</summary>
internal static class EvalCommand
{
    public static Command Create(TextWriter output)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A model.safetensors written by gpunet train.", Required = true };
        var dataset = new Option<string?>("--dataset") { Description = "Data set to evaluate on (default: the one the model was trained on)." };
        dataset.AcceptOnlyFromAmong([.. Choices.Datasets]);
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory holding the data set's files." };
        var batchSize = new Option<int>("--batch-size") { Description = "Evaluation batch size.", DefaultValueFactory = _ => 500 };
        var perClass = new Option<bool>("--per-class") { Description = "Also print each class's accuracy, by the class names the model file records." };
        var accelerator = Program.AcceleratorOption();
        var command = new Command("eval", "Evaluate a trained model on a data set's test split.")
        {
            checkpoint, dataset, dataDir, batchSize, perClass, accelerator, Program.VerboseOption(),
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(checkpoint)!;
            int batch = parse.GetValue(batchSize);
            if (batch < 1)
            {
                throw new ConfigurationException($"--batch-size must be at least 1, got {batch}.");
            }

            var (info, tensors) = ModelFile.Read(path);
            var kind = parse.GetValue(dataset) is { } given ? Choices.Parse<DatasetKind>(given) : DataSets.Find(info.Dataset) ?? DatasetKind.FashionMnist;
            string name = DataSets.Name(kind);
            var input = info.Spec.InputShape;
            var data = DataSets.Load(kind, parse.GetValue(dataDir), new FolderOptions(input[0], input[1], input[2]));
            if (data.Test.Count == 0)
            {
                throw new DataException($"{parse.GetValue(dataDir)}: no test images to evaluate on (an image folder needs test/<class>/...).");
            }

            var sample = data.SampleShape;
            if (!info.Spec.InputShape.SequenceEqual([sample[0], sample[1], sample[2]]) || info.Spec.Classes != data.Classes)
            {
                throw new CheckpointException(
                    $"{path}: the model takes ({string.Join(", ", info.Spec.InputShape)}) inputs and {info.Spec.Classes} classes but {name} has {sample} samples and {data.Classes} classes.");
            }

            using var device = Device.Open(Program.ParseAccelerator(parse.GetValue(accelerator)));
            var (loss, accuracy) = Evaluation.Run(device, info, tensors, path, data, batch);
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"test loss {loss:F4}, accuracy {accuracy:F4} on {data.Test.Count} {name} test images ({DeviceSelector.Describe(device.Info.Kind)})"));
            if (parse.GetValue(perClass))
            {
                var probabilities = Evaluation.Predict(device, info, tensors, path, data.Test.Pixels, data.Test.Count, batch);
                var names = info.ClassNames;
                int classes = names.Count;
                var right = new int[classes];
                var seen = new int[classes];
                for (int n = 0; n < data.Test.Count; n++)
                {
                    var row = probabilities.AsSpan(n * classes, classes);
                    int label = data.Test.Labels[n], best = 0;
                    for (int j = 1; j < classes; j++)
                    {
                        best = row[j] > row[best] ? j : best;
                    }

                    seen[label]++;
                    right[label] += best == label ? 1 : 0;
                }

                for (int j = 0; j < classes; j++)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {names[j]}: {(seen[j] == 0 ? double.NaN : (double)right[j] / seen[j]):F4} of {seen[j]}"));
                }
            }

            return 0;
        });
        return command;
    }
}
