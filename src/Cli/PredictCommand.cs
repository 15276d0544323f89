using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Training;

namespace GpuNet.Cli;

/// <summary>gpunet predict: the top-3 classes a trained model gives one's own images.</summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A model.safetensors written by gpunet train.", Required = true };
        var images = new Argument<string[]>("IMAGE") { Description = "PNG or JPEG files.", Arity = ArgumentArity.OneOrMore };
        var invert = new Option<string>("--invert") { Description = "Invert brightness: auto (when the model's data set is light-on-dark, as Fashion-MNIST and MNIST are, and the image's border is light), yes or no.", DefaultValueFactory = _ => "auto" };
        invert.AcceptOnlyFromAmong("auto", "yes", "no");
        var json = new Option<bool>("--json") { Description = "One JSON object per image and line: {\"file\": PATH, \"top\": [{\"index\": 3, \"class\": \"Dress\", \"probability\": 0.91}, ...]}." };
        var top = new Option<int>("--top") { Description = "Classes to show per image.", DefaultValueFactory = _ => 3 };
        var accelerator = Program.AcceleratorOption();
        var command = new Command("predict", "Classify PNG or JPEG images with a trained model: the top classes with their probabilities.")
        {
            checkpoint, images, invert, json, top, accelerator, Program.VerboseOption(),
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(checkpoint)!;
            int k = parse.GetValue(top);
            if (k < 1)
            {
                throw new ConfigurationException($"--top must be at least 1, got {k}.");
            }

            var (info, tensors) = ModelFile.Read(path);
            var known = DataSets.Find(info.Dataset);
            var classNames = info.ClassNames;
            var mode = parse.GetValue(invert) switch { "yes" => InvertMode.Yes, "no" => InvertMode.No, _ => InvertMode.Auto };
            int channels = info.Spec.InputShape[0], height = info.Spec.InputShape[1], width = info.Spec.InputShape[2], size = channels * height * width;

            // Bad images get one line each and the others are still classified; the exit code says whether any failed.
            var files = parse.GetValue(images)!;
            var good = new List<string>();
            var pixels = new List<byte>();
            int failures = 0;
            foreach (string file in files)
            {
                try
                {
                    var (bytes, _) = ImageFiles.Load(file, channels, height, width, mode, known is { } set && DataSets.LightOnDark(set));
                    good.Add(file);
                    pixels.AddRange(bytes);
                }
                catch (DataException e)
                {
                    error.WriteLine($"gpunet: {e.Message}");
                    failures++;
                }
            }

            if (good.Count > 0)
            {
                using var device = Device.Open(Program.ParseAccelerator(parse.GetValue(accelerator)));
                var probabilities = Evaluation.Predict(device, info, tensors, path, [.. pixels], good.Count);
                int classes = info.Spec.Classes;
                for (int n = 0; n < good.Count; n++)
                {
                    var row = probabilities.AsSpan(n * classes, classes).ToArray();
                    var best = Enumerable.Range(0, classes).OrderByDescending(j => row[j]).ThenBy(j => j).Take(Math.Min(k, classes)).ToList();
                    output.WriteLine(parse.GetValue(json)
                        ? JsonSerializer.Serialize(new PredictionLine(good[n], best.Select(j => new ClassProbability(j, classNames[j], Math.Round(row[j], 6))).ToList()), PredictionJson.Default.PredictionLine)
                        : $"{good[n]}: " + string.Join(", ", best.Select(j => string.Create(CultureInfo.InvariantCulture, $"{classNames[j]} {row[j]:F3}"))));
                }
            }

            return failures == 0 ? 0 : Program.Failure;
        });
        return command;
    }
}

/// <summary>One class and its probability, as --json writes it.</summary>
internal sealed record ClassProbability(
    [property: System.Text.Json.Serialization.JsonPropertyName("index")] int Index,
    [property: System.Text.Json.Serialization.JsonPropertyName("class")] string Class,
    [property: System.Text.Json.Serialization.JsonPropertyName("probability")] double Probability);

/// <summary>One image's line of --json output.</summary>
internal sealed record PredictionLine(
    [property: System.Text.Json.Serialization.JsonPropertyName("file")] string File,
    [property: System.Text.Json.Serialization.JsonPropertyName("top")] IReadOnlyList<ClassProbability> Top);

[System.Text.Json.Serialization.JsonSerializable(typeof(PredictionLine))]
internal sealed partial class PredictionJson : System.Text.Json.Serialization.JsonSerializerContext;
