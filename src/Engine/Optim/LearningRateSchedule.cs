// The learning rate in force at each step, a function of the step alone (so a resumed run continues it exactly):
//   warm-up (warmupSteps > 0): lr * step / warmupSteps for step <= warmupSteps (linear from 0);
//   then constant: lr; step: lr * factor^floor((step - warmupSteps - 1) / every);
//   cosine: lr * (1 + cos(pi * (step - warmupSteps - 1) / (steps - warmupSteps))) / 2, from lr at the first step after
//   warm-up towards 0 at the last.
namespace GpuNet.Engine.Optim;

/// <summary>How the learning rate changes over a run.</summary>
public enum LearningRateKind
{
    /// <summary>The same rate at every step.</summary>
    Constant,

    /// <summary>Half a cosine from the rate down to 0 over the steps after the warm-up.</summary>
    Cosine,

    /// <summary>Multiplied by a factor every N steps after the warm-up.</summary>
    Step,
}

/// <summary>The learning rate of every step of a run.</summary>
/// <param name="Kind">The schedule's shape.</param>
/// <param name="LearningRate">The base rate.</param>
/// <param name="Steps">The run's length.</param>
/// <param name="WarmupSteps">Steps of linear warm-up from 0 (0: none).</param>
/// <param name="StepEvery">For <see cref="LearningRateKind.Step"/>: steps between decays.</param>
/// <param name="StepFactor">For <see cref="LearningRateKind.Step"/>: the factor of each decay.</param>
public sealed record LearningRateSchedule(LearningRateKind Kind, double LearningRate, int Steps, int WarmupSteps = 0, int StepEvery = 1000, double StepFactor = 0.1)
{
    /// <summary>The rate in force at step <paramref name="step"/> (1 for the first).</summary>
    public double At(int step)
    {
        if (WarmupSteps > 0 && step <= WarmupSteps)
        {
            return LearningRate * step / WarmupSteps;
        }

        int after = step - WarmupSteps - 1;
        return Kind switch
        {
            LearningRateKind.Cosine => LearningRate * (1 + Math.Cos(Math.PI * after / Math.Max(1, Steps - WarmupSteps))) / 2,
            LearningRateKind.Step => LearningRate * Math.Pow(StepFactor, after / Math.Max(1, StepEvery)),
            _ => LearningRate,
        };
    }

    /// <summary>One line for a plot's legend: "learning rate: cosine from 0.0002, 100 warm-up steps".</summary>
    public string Describe()
    {
        string rate = LearningRate.ToString("G4", System.Globalization.CultureInfo.InvariantCulture);
        string shape = Kind switch
        {
            LearningRateKind.Cosine => $"cosine from {rate} to 0",
            LearningRateKind.Step => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{rate}, times {StepFactor:G4} every {StepEvery} steps"),
            _ => $"constant {rate}",
        };
        return WarmupSteps > 0 ? $"learning rate: {shape}, {WarmupSteps} warm-up steps" : $"learning rate: {shape}";
    }
}
