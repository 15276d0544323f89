using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Engine.Runs;

namespace GpuNet.Engine.Training;

/// <summary>The files of a run directory: metrics.csv, summary.json and curves.png, each written atomically.</summary>
public static class RunFiles
{
    /// <summary>The metrics file's name.</summary>
    public const string MetricsFile = "metrics.csv";
    /// <summary>The summary file's name.</summary>
    public const string SummaryFile = "summary.json";
    /// <summary>The plot's file name.</summary>
    public const string CurvesFile = "curves.png";
    /// <summary>The trained model's file name.</summary>
    public const string ModelFile = "model.safetensors";

    /// <summary>The best evaluation's weights (--keep best).</summary>
    public const string BestModelFile = "best.safetensors";
    /// <summary>The header line of metrics.csv.</summary>
    public const string MetricsHeader = "step,train_loss,test_loss,test_accuracy,elapsed_seconds,learning_rate";

    /// <summary>The header of metrics.csv of a run with a validation split.</summary>
    public const string MetricsHeaderWithValidation = MetricsHeader + ",val_loss,val_accuracy";

    /// <summary>The header of metrics.csv before the learning-rate column (still read).</summary>
    public const string MetricsHeaderWithoutRate = "step,train_loss,test_loss,test_accuracy,elapsed_seconds";

    /// <summary>The CSV text of <paramref name="rows"/>, with the header; the validation columns when any row has them.</summary>
    public static string MetricsCsv(IEnumerable<MetricsRow> rows)
    {
        var list = (rows ?? []).ToList();
        bool validation = list.Any(r => !double.IsNaN(r.ValAccuracy));
        var text = new StringBuilder(validation ? MetricsHeaderWithValidation : MetricsHeader).Append('\n');
        foreach (var r in list)
        {
            text.Append(CultureInfo.InvariantCulture, $"{r.Step},{r.TrainLoss:R},{r.TestLoss:R},{r.TestAccuracy:R},{r.ElapsedSeconds:F3},{r.LearningRate:R}");
            text.Append(validation ? string.Create(CultureInfo.InvariantCulture, $",{r.ValLoss:R},{r.ValAccuracy:R}\n") : "\n");
        }

        return text.ToString();
    }

    /// <summary>Parses metrics.csv text.</summary>
    public static IReadOnlyList<MetricsRow> ParseMetrics(string csv)
    {
        ArgumentNullException.ThrowIfNull(csv);
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0 || (lines[0] != MetricsHeader && lines[0] != MetricsHeaderWithoutRate && lines[0] != MetricsHeaderWithValidation))
        {
            throw new FormatException($"metrics.csv must start with the header '{MetricsHeader}'.");
        }

        return lines.Skip(1).Select(line =>
        {
            var f = line.Split(',');
            return new MetricsRow(
                int.Parse(f[0], CultureInfo.InvariantCulture),
                double.Parse(f[1], CultureInfo.InvariantCulture),
                double.Parse(f[2], CultureInfo.InvariantCulture),
                double.Parse(f[3], CultureInfo.InvariantCulture),
                double.Parse(f[4], CultureInfo.InvariantCulture),
                f.Length > 5 ? double.Parse(f[5], CultureInfo.InvariantCulture) : double.NaN,
                f.Length > 7 ? double.Parse(f[6], CultureInfo.InvariantCulture) : double.NaN,
                f.Length > 7 ? double.Parse(f[7], CultureInfo.InvariantCulture) : double.NaN);
        }).ToList();
    }

    /// <summary>Writes metrics.csv and curves.png (with <paramref name="legendNote"/>, e.g. the schedule, in its legend) into <paramref name="directory"/>.</summary>
    public static void WriteProgress(string directory, IReadOnlyList<MetricsRow> rows, string title, string? legendNote = null)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, MetricsFile), MetricsCsv(rows));
        AtomicFile.WriteAllBytes(Path.Combine(directory, CurvesFile), Curves.Render(rows, title, legendNote));
    }

    /// <summary>Writes summary.json into <paramref name="directory"/>.</summary>
    public static void WriteSummary(string directory, JsonObject summary) =>
        AtomicFile.WriteAllText(Path.Combine(directory, SummaryFile), summary.ToJsonString(RunJson.Options) + "\n");
}

/// <summary>
/// The run's figure: training, test and (dashed) validation loss on the left axis, test and validation accuracy on the
/// right, against step.
/// </summary>
public static class Curves
{
    /// <summary>The plot's width in pixels.</summary>
    public const int Width = 1000;
    /// <summary>The plot's height in pixels.</summary>
    public const int Height = 600;

    /// <summary>Renders the figure as PNG bytes; <paramref name="legendNote"/> (the learning-rate schedule) is a line of the legend.</summary>
    public static byte[] Render(IReadOnlyList<MetricsRow> rows, string title, string? legendNote = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var plot = new ScottPlot.Plot();
        double[] steps = rows.Select(r => (double)r.Step).ToArray();
        var train = plot.Add.Scatter(steps, rows.Select(r => r.TrainLoss).ToArray());
        train.LegendText = "training loss (mean since previous evaluation)";
        var test = plot.Add.Scatter(steps, rows.Select(r => r.TestLoss).ToArray());
        test.LegendText = "test loss";
        var accuracy = plot.Add.Scatter(steps, rows.Select(r => r.TestAccuracy).ToArray());
        accuracy.LegendText = "test accuracy";
        accuracy.Axes.YAxis = plot.Axes.Right;
        if (rows.Any(r => !double.IsNaN(r.ValAccuracy)))
        {
            var valLoss = plot.Add.Scatter(steps, rows.Select(r => r.ValLoss).ToArray());
            valLoss.LegendText = "validation loss";
            valLoss.LinePattern = ScottPlot.LinePattern.Dashed;
            var valAccuracy = plot.Add.Scatter(steps, rows.Select(r => r.ValAccuracy).ToArray());
            valAccuracy.LegendText = "validation accuracy";
            valAccuracy.LinePattern = ScottPlot.LinePattern.Dashed;
            valAccuracy.Axes.YAxis = plot.Axes.Right;
        }

        plot.Axes.Bottom.Label.Text = "step";
        plot.Axes.Left.Label.Text = "cross-entropy loss";
        plot.Axes.Right.Label.Text = "accuracy";
        if (legendNote is not null)
        {
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = legendNote });
        }

        plot.Title(title);
        plot.ShowLegend(ScottPlot.Alignment.UpperCenter);
        return plot.GetImageBytes(Width, Height, ScottPlot.ImageFormat.Png);
    }
}
