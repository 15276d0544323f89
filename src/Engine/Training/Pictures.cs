using System.Globalization;
using System.Text;
using System.Text.Json;
using GpuNet.Engine.Data;
using GpuNet.Engine.Models;
using GpuNet.Engine.Runs;
using SkiaSharp;

namespace GpuNet.Engine.Training;

/// <summary>A run directory's settings and results, as compare reads them.</summary>
public sealed record RunRecord(string Name, IReadOnlyList<MetricsRow> Rows, JsonElement Summary)
{
    /// <summary>Reads metrics.csv and summary.json from <paramref name="directory"/>.</summary>
    /// <exception cref="DataException">A file is missing or malformed.</exception>
    public static RunRecord Read(string directory)
    {
        string metrics = Path.Combine(directory, RunFiles.MetricsFile), summary = Path.Combine(directory, RunFiles.SummaryFile);
        if (!File.Exists(metrics) || !File.Exists(summary))
        {
            throw new DataException($"{directory}: not a run directory (it needs {RunFiles.MetricsFile} and {RunFiles.SummaryFile}).");
        }

        try
        {
            var rows = RunFiles.ParseMetrics(File.ReadAllText(metrics));
            using var document = JsonDocument.Parse(File.ReadAllText(summary));
            return new RunRecord(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))), rows, document.RootElement.Clone());
        }
        catch (Exception e) when (e is FormatException or JsonException or IndexOutOfRangeException)
        {
            throw new DataException($"{directory}: {RunFiles.MetricsFile} or {RunFiles.SummaryFile} is malformed ({GpuNetException.OneLine(e.Message)}).", e);
        }
    }

    internal string Setting(string key) =>
        Summary.TryGetProperty("config", out var config) && config.TryGetProperty(key, out var value) ? value.ToString() : "";

    internal double Number(string key) =>
        Summary.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : double.NaN;
}

/// <summary>Pictures people would rather look at than read: several runs' curves overlaid, and a grid of sample images.</summary>
public static class Pictures
{
    /// <summary>
    /// Renders the runs' test accuracy (solid, left axis), validation accuracy where a run has it (dotted, left axis) and
    /// mean training loss (dashed, right axis) against step; returns the PNG and its legend entries in order.
    /// </summary>
    public static (byte[] Png, IReadOnlyList<string> Legend) CompareRuns(IReadOnlyList<RunRecord> runs, int width = 1100, int height = 650)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var plot = new ScottPlot.Plot();
        var legend = new List<string>();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < runs.Count; i++)
        {
            var run = runs[i];
            double[] steps = run.Rows.Select(r => (double)r.Step).ToArray();
            var color = palette.GetColor(i);
            var accuracy = plot.Add.Scatter(steps, run.Rows.Select(r => r.TestAccuracy).ToArray(), color);
            accuracy.LegendText = $"{run.Name}: test accuracy";
            var loss = plot.Add.Scatter(steps, run.Rows.Select(r => r.TrainLoss).ToArray(), color);
            loss.LinePattern = ScottPlot.LinePattern.Dashed;
            loss.Axes.YAxis = plot.Axes.Right;
            loss.LegendText = $"{run.Name}: training loss";
            legend.Add(accuracy.LegendText);
            legend.Add(loss.LegendText);
            if (run.Rows.Any(r => !double.IsNaN(r.ValAccuracy)))
            {
                var validation = plot.Add.Scatter(steps, run.Rows.Select(r => r.ValAccuracy).ToArray(), color);
                validation.LinePattern = ScottPlot.LinePattern.Dotted;
                validation.LegendText = $"{run.Name}: validation accuracy";
                legend.Add(validation.LegendText);
            }
        }

        plot.Axes.Bottom.Label.Text = "step";
        plot.Axes.Left.Label.Text = "test accuracy (solid), validation accuracy (dotted)";
        plot.Axes.Right.Label.Text = "training loss (dashed)";
        plot.Title($"{runs.Count} GpuNet runs compared");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        return (plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png), legend);
    }

    /// <summary>A Markdown table of the runs' settings, final and best accuracy, wall time and images/s.</summary>
    public static string CompareTable(IReadOnlyList<RunRecord> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var text = new StringBuilder("| run | model | dataset | optimizer | lr | batch | steps | final accuracy | best accuracy | wall s | images/s |\n");
        text.Append("|---|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var r in runs)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {r.Name} | {r.Setting("model")} | {r.Setting("dataset")} | {r.Setting("optimizer")} | {r.Setting("learning_rate")} | ");
            text.Append(CultureInfo.InvariantCulture, $"{r.Setting("batch_size")} | {r.Setting("steps")} | {r.Number("final_test_accuracy"):F4} | {r.Number("best_test_accuracy"):F4} | ");
            text.Append(CultureInfo.InvariantCulture, $"{r.Number("wall_seconds"):F1} | {r.Number("train_images_per_second"):F0} |\n");
        }

        return text.ToString();
    }

    /// <summary>The file name of test image <paramref name="index"/>: NNNNN_labelK_class.png, the class name made file-safe.</summary>
    public static string ExportName(int index, int label, string className)
    {
        var safe = new StringBuilder();
        foreach (char ch in className)
        {
            safe.Append(char.IsAsciiLetterOrDigit(ch) || ch == '-' ? ch : '-');
        }

        return string.Create(CultureInfo.InvariantCulture, $"{index:D5}_label{label}_{safe}.png");
    }

    /// <summary>Settings that never change what a run computes, left out of run names.</summary>
    private static readonly HashSet<string> Incidental = ["accelerator", "data_dir", "checkpoint_every", "eval_every", "on_nan", "keep"];

    /// <summary>
    /// Names each run by its model, its learning rate and every other setting in which the runs differ, where its value
    /// is not the model's default ("mlp-deep, lr 2e-4" against "mlp-deep, lr 2e-4, cosine, dropout 0.2"); runs that
    /// would share a name keep their directory's name after it.
    /// </summary>
    public static List<RunRecord> NameByDifferences(IReadOnlyList<RunRecord> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var configs = runs.Select(r => r.Summary.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object ? c : default).ToList();
        var keys = new List<string>();
        foreach (var config in configs.Where(c => c.ValueKind == JsonValueKind.Object))
        {
            foreach (var property in config.EnumerateObject())
            {
                if (!keys.Contains(property.Name) && property.Name is not ("model" or "learning_rate") && !Incidental.Contains(property.Name))
                {
                    keys.Add(property.Name);
                }
            }
        }

        string Raw(JsonElement config, string key) =>
            config.ValueKind == JsonValueKind.Object && config.TryGetProperty(key, out var v) ? v.GetRawText() : "";
        var differing = keys.Where(k => configs.Select(c => Raw(c, k)).Distinct().Count() > 1).ToList();
        var names = new List<string>();
        for (int i = 0; i < runs.Count; i++)
        {
            var config = configs[i];
            string model = runs[i].Setting("model");
            var parts = new List<string> { model.Length > 0 ? model : runs[i].Name };
            if (config.ValueKind == JsonValueKind.Object && config.TryGetProperty("learning_rate", out var lr) && lr.ValueKind == JsonValueKind.Number)
            {
                parts.Add($"lr {Compact(lr.GetDouble())}");
            }

            var defaults = BuiltinModels.Find(model) is { } builtin ? JsonSerializer.SerializeToElement(TrainConfig.DefaultsFor(builtin), RunJson.Options) : default;

            foreach (string key in differing)
            {
                if (config.ValueKind == JsonValueKind.Object && config.TryGetProperty(key, out var value) && Raw(defaults, key) != value.GetRawText())
                {
                    parts.Add(Describe(key, value));
                }
            }

            names.Add(string.Join(", ", parts.Where(p => p.Length > 0)));
        }

        return runs.Select((r, i) => r with { Name = names.Count(n => n == names[i]) > 1 ? $"{names[i]} ({r.Name})" : names[i] }).ToList();
    }

    /// <summary>A setting as a run's name shows it.</summary>
    private static string Describe(string key, JsonElement value)
    {
        string text = value.ValueKind switch
        {
            JsonValueKind.Number => Compact(value.GetDouble()),
            JsonValueKind.Array => string.Join(value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number) ? "-" : "+", value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number ? Compact(e.GetDouble()) : e.ToString())),
            JsonValueKind.True => "",
            JsonValueKind.False => "no",
            _ => value.ToString(),
        };
        return key switch
        {
            "lr_schedule" or "optimizer" or "init" or "dataset" => text,
            "batch_norm" => text.Length == 0 ? "batch norm" : "no batch norm",
            "steps" => $"{text} steps",
            "batch_size" => $"batch {text}",
            "label_smoothing" => $"smoothing {text}",
            "warmup_steps" => $"warm-up {text}",
            "weight_decay" => $"weight decay {text}",
            "augment" => text.Length == 0 ? "no augmentation" : text,
            _ => $"{key.Replace('_', ' ')} {text}".TrimEnd(),
        };
    }

    /// <summary>A number as short as it reads: 2e-4, 0.2, 400.</summary>
    private static string Compact(double value) =>
        value != 0 && Math.Abs(value) < 0.01 ? value.ToString("0.###e-0", CultureInfo.InvariantCulture) : value.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>Pixels per image side in the preview grid, and the caption height under each.</summary>
    public const int Cell = 84;
    /// <summary>Pixels under each preview image for its class name.</summary>
    public const int Caption = 18;

    /// <summary>
    /// A grid of <paramref name="count"/> training images (drawn with a seeded generator) with their class names, to
    /// check that a data set loads as intended: channel order, orientation, labels; with <paramref name="augmentation"/>,
    /// each image as the batch gather would augment it in row i of a batch. Returns the PNG and the labels drawn.
    /// </summary>
    public static (byte[] Png, IReadOnlyList<int> Labels) PreviewGrid(Dataset data, int count, int columns, int seed, GpuNet.Kernels.GatherAugmentation augmentation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        count = Math.Clamp(count, 1, data.Train.Count);
        columns = Math.Clamp(columns, 1, count);
        int rows = (count + columns - 1) / columns;
        int channels = data.SampleShape[0], height = data.SampleShape[1], width = data.SampleShape[2], size = data.SampleShape.Length;
        var random = new Random(seed);
        var picks = Enumerable.Range(0, count).Select(_ => random.Next(data.Train.Count)).ToArray();
        using var bitmap = new SKBitmap(columns * Cell, rows * (Cell + Caption));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var font = new SKFont(SKTypeface.Default, 12);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        float scale = (float)(Cell - 4) / Math.Max(height, width);
        for (int i = 0; i < count; i++)
        {
            int n = picks[i], x0 = (i % columns) * Cell, y0 = (i / columns) * (Cell + Caption);
            var pixels = data.Train.Pixels.AsSpan(n * size, size);
            using var image = new SKBitmap(width, height);
            uint key = augmentation.Key;
            for (int h = 0; h < height; h++)
            {
                for (int w = 0; w < width; w++)
                {
                    // Planes are C, H, W: one gray plane, or R, G and B planes; an augmented pixel comes from (sh, sw),
                    // padding is black.
                    int sh = h, sw = w;
                    bool inside = !augmentation.Active || GpuNet.Kernels.GatherAugmentation.Source(
                        key, augmentation.FirstRow + i, h, w, height, width, augmentation.Flip ? 1 : 0, augmentation.CropPadding, out sh, out sw);
                    int p = (sh * width) + sw;
                    byte r = inside ? pixels[p] : (byte)0;
                    byte g = inside && channels >= 3 ? pixels[(height * width) + p] : r;
                    byte b = inside && channels >= 3 ? pixels[(2 * height * width) + p] : r;
                    image.SetPixel(w, h, new SKColor(r, g, b));
                }
            }

            var target = SKRect.Create(x0 + 2, y0 + 2, width * scale, height * scale);
            using (var sampled = SKImage.FromBitmap(image))
            {
                canvas.DrawImage(sampled, target, new SKSamplingOptions(SKFilterMode.Nearest));
            }

            string label = data.ClassNames[data.Train.Labels[n]];
            canvas.DrawText(label, x0 + (Cell / 2f), y0 + Cell + Caption - 5, SKTextAlign.Center, font, ink);
        }

        using var encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return (encoded.ToArray(), picks.Select(n => data.Train.Labels[n]).ToList());
    }
}
