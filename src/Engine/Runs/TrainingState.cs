using System.Text.Json;

namespace GpuNet.Engine.Runs;

/// <summary>
/// One evaluation: the training loss averaged over the steps since the previous one, the test results, the time, the
/// learning rate in force at that step and the validation results (NaN without a validation split).
/// </summary>
public sealed record MetricsRow(
    int Step, double TrainLoss, double TestLoss, double TestAccuracy, double ElapsedSeconds, double LearningRate = double.NaN, double ValLoss = double.NaN, double ValAccuracy = double.NaN)
{
    /// <summary>The accuracy that picks the best model and stops early: the validation accuracy, else the test accuracy.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double Score => double.IsNaN(ValAccuracy) ? TestAccuracy : ValAccuracy;
}

/// <summary>Where a run stands: everything besides tensors that resuming needs to continue bit for bit.</summary>
public sealed record TrainingState
{
    /// <summary>Steps completed.</summary>
    public int Step { get; init; }

    /// <summary>Optimizer updates applied (steps minus skipped ones).</summary>
    public long OptimizerSteps { get; init; }

    /// <summary>The data order's epoch and the row of the next batch.</summary>
    public int Epoch { get; init; }

    /// <summary>The row of the current order where the next batch starts.</summary>
    public int Offset { get; init; }

    /// <summary>The training loss summed since the last evaluation, and over how many samples.</summary>
    public double TrainLossSum { get; init; }

    /// <summary>Samples behind <see cref="TrainLossSum"/>.</summary>
    public long TrainSamples { get; init; }

    /// <summary>Steps skipped for a non-finite loss or gradient (--on-nan skip).</summary>
    public int SkippedSteps { get; init; }

    /// <summary>Wall time of the run so far, across resumes.</summary>
    public double ElapsedSeconds { get; init; }

    /// <summary>Time spent in training steps so far (evaluation and checkpoints excluded).</summary>
    public double TrainSeconds { get; init; }

    /// <summary>Training images processed so far.</summary>
    public long TrainImages { get; init; }

    /// <summary>The evaluations so far.</summary>
    public IReadOnlyList<MetricsRow> Rows { get; init; } = [];

    /// <summary>The data-parallel ranks the run had (1: one process).</summary>
    public int Ranks { get; init; } = 1;

    /// <summary>The step of the evaluation with the best <see cref="MetricsRow.Score"/> so far (0: none yet).</summary>
    public int BestStep { get; init; }

    /// <summary>Evaluations since the best one.</summary>
    public int EvaluationsSinceBest { get; init; }

    /// <summary>The step at which --early-stop ended the run (0: it did not).</summary>
    public int StoppedEarlyAt { get; init; }
}

/// <summary>How every file GpuNet writes is serialized.</summary>
public static class RunJson
{
    /// <summary>JSON options of every file GpuNet writes: indented, snake_case names.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };
}
