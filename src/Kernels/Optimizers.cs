// The end of a training step, over flat arenas: one launch checks every gradient (and the batch loss) for NaN or
// infinity, one launch updates every parameter (a multi-tensor update: all of a model's tensors lie in one arena).
// The update reads the check's verdict on the device, so the host never waits for it; it also zeroes the gradient it
// consumed (gradients accumulate with += between updates), whether the step was applied or not.
// SGD (PyTorch semantics, no dampening): g = grad + weightDecay * w; v = momentum * v + g (when momentum != 0, and
//   then g = v); w -= lr * g.
// Adam (L2 weight decay added to the gradient, as PyTorch's Adam): g = grad + weightDecay * w;
//   m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), with t the
//   updates applied so far including this one, counted on the device and looked up in a table of corrections made
//   on the host in double.
// Status (int, StepStatus.Length(tensors)): the first and the last step whose check failed, the steps skipped, the
// applied-update count in two slots by step parity (the update of step s reads slot s % 2 and writes the other, so no
// thread reads what another writes in the same launch), the two carried counts (flags that rode in the ranks'
// gradient sum: the check records the sum and puts this rank's next flags in their place) and, per tensor, the last
// step it held a non-finite value.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>SGD settings.</summary>
public readonly record struct SgdSettings(float LearningRate, float Momentum = 0f, float WeightDecay = 0f);

/// <summary>Adam settings (PyTorch's defaults).</summary>
public readonly record struct AdamSettings(
    float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-8f, float WeightDecay = 0f);

/// <summary>What a step whose loss or gradient is not finite does to the parameters.</summary>
public enum NonFiniteAction
{
    /// <summary>Freeze: this and every later update is withheld (the run stops at the host's next read).</summary>
    Stop = 0,

    /// <summary>Withhold this step's update only and count it.</summary>
    Skip = 1,
}

/// <summary>The slots of the device-side step status.</summary>
public static class StepStatus
{
    /// <summary>The first step whose check failed (0: none yet).</summary>
    public const int FirstBadStep = 0;

    /// <summary>The latest step whose check failed (0: none yet).</summary>
    public const int LastBadStep = 1;

    /// <summary>Steps whose update was withheld under <see cref="NonFiniteAction.Skip"/>.</summary>
    public const int SkippedSteps = 2;

    /// <summary>The first of the two applied-update counters (by step parity).</summary>
    public const int AppliedUpdates = 3;

    /// <summary>
    /// The first of the two carried counts: what the last checked step's two carried slots held (each rank's 0 or 1
    /// summed over the ranks with the gradients), 0 when the check carries nothing.
    /// </summary>
    public const int Carried = 5;

    /// <summary>The first per-tensor slot: the last step at which tensor t held a non-finite gradient.</summary>
    public const int TensorSteps = 7;

    /// <summary>Slots for a model of <paramref name="tensors"/> parameter tensors.</summary>
    public static int Length(int tensors) => TensorSteps + tensors;

    /// <summary>The slot holding the updates applied before step <paramref name="step"/>.</summary>
    public static int AppliedBefore(long step) => AppliedUpdates + (int)(step & 1);
}

/// <summary>The non-finite check and the SGD and Adam updates over flat arenas.</summary>
public sealed class Optimizers
{
    private readonly ItemKernel<CheckFiniteOp> checkFinite;
    private readonly ItemKernel<SgdOp> sgd;
    private readonly ItemKernel<AdamOp> adam;

    /// <summary>The carried flags <see cref="CheckFinite"/> records and resets: two.</summary>
    public const int CarriedFlags = 2;

    internal Optimizers(Accelerator accelerator, LaunchPolicy policy)
    {
        checkFinite = new(accelerator, policy);
        sgd = new(accelerator, policy);
        adam = new(accelerator, policy);
    }

    /// <summary>
    /// Marks step <paramref name="step"/> bad in <paramref name="status"/> if <paramref name="loss"/> (the batch loss,
    /// one value, or none) or any gradient is NaN or infinite: sets the last bad step, the first bad step if none was
    /// set, and the step in the slot of every tensor holding such a value. Tensor t spans
    /// <c>offsets[t] .. offsets[t + 1] - 1</c> of <paramref name="gradients"/>. Under <see cref="NonFiniteAction.Stop"/>
    /// nothing is written once an earlier step failed, so the status keeps the first failure's tensors.
    /// <paramref name="stepMark"/> (one value, or none) is set to the step when it fails, so a per-step record on the
    /// device says which steps were bad, and <paramref name="lossRecord"/> (one value, or none) receives the loss. Every
    /// writer of a slot writes the same value, so the result does not depend on the order of the threads.
    /// <paramref name="carried"/> (two values after the loss in the reduction arena, or none; only with a loss) holds two
    /// flags summed over the ranks with the gradients: their sums go to <see cref="StepStatus.Carried"/> and this rank's
    /// next flags (bit i of <paramref name="nextFlags"/> into value i, 1 or 0) take their place, for the next sum.
    /// </summary>
    public void CheckFinite(
        TensorView<int> status,
        TensorView<float> gradients,
        TensorView<int> offsets,
        TensorView<float> loss,
        TensorView<int> stepMark,
        int step,
        NonFiniteAction action,
        TensorView<float> lossRecord = default,
        TensorView<float> carried = default,
        int nextFlags = 0)
    {
        Check.Rank(offsets, 1, nameof(offsets));
        int tensors = offsets.Length - 1;
        if (tensors < 0 || status.Length < StepStatus.Length(tensors))
        {
            throw new ArgumentException($"status has shape {status.Shape} but {StepStatus.Length(Math.Max(0, tensors))} slots are required for offsets of shape {offsets.Shape}.", nameof(status));
        }

        if (loss.Length > 1 || stepMark.Length > 1 || lossRecord.Length > loss.Length)
        {
            throw new ArgumentException(
                $"loss has shape {loss.Shape}, stepMark {stepMark.Shape} and lossRecord {lossRecord.Shape}; each is one value or none, the record only with a loss.", nameof(loss));
        }

        if (carried.Length is not (0 or CarriedFlags) || (carried.Length > 0 && loss.Length == 0))
        {
            throw new ArgumentException($"carried has shape {carried.Shape}; it is {CarriedFlags} values, with a loss, or none.", nameof(carried));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        var op = new CheckFiniteOp(
            gradients.Data, loss.Data, status.Data, offsets.Data, stepMark.Data, lossRecord.Data, carried.Data, nextFlags, tensors, step, (int)action);
        checkFinite.Launch(op, gradients.Length + loss.Length);
    }

    /// <summary>
    /// SGD update of step <paramref name="step"/> of every parameter in <paramref name="parameters"/>, withheld when
    /// <paramref name="status"/> says so; zeroes <paramref name="gradients"/>.
    /// </summary>
    public void SgdStep(
        TensorView<float> parameters, TensorView<float> gradients, TensorView<float> velocity, SgdSettings settings, TensorView<int> status, int step, NonFiniteAction action)
    {
        Check.SameShape(gradients, nameof(gradients), parameters, nameof(parameters));
        Check.SameShape(velocity, nameof(velocity), parameters, nameof(parameters));
        CheckStatus(status, step);
        sgd.Launch(new SgdOp(parameters.Data, gradients.Data, velocity.Data, settings, status.Data, step, (int)action), parameters.Length);
    }

    /// <summary>
    /// Adam update of step <paramref name="step"/> of every parameter, withheld when <paramref name="status"/> says so;
    /// zeroes <paramref name="gradients"/>. <paramref name="corrections"/> is <see cref="AdamCorrections"/>' table.
    /// </summary>
    public void AdamStep(
        TensorView<float> parameters,
        TensorView<float> gradients,
        TensorView<float> firstMoment,
        TensorView<float> secondMoment,
        AdamSettings settings,
        TensorView<float> corrections,
        TensorView<int> status,
        int step,
        NonFiniteAction action)
    {
        Check.SameShape(gradients, nameof(gradients), parameters, nameof(parameters));
        Check.SameShape(firstMoment, nameof(firstMoment), parameters, nameof(parameters));
        Check.SameShape(secondMoment, nameof(secondMoment), parameters, nameof(parameters));
        CheckStatus(status, step);
        if (corrections.Length < 2 * (step + 1))
        {
            throw new ArgumentException($"corrections has shape {corrections.Shape}; step {step} needs at least {2 * (step + 1)} values.", nameof(corrections));
        }

        var op = new AdamOp(parameters.Data, gradients.Data, firstMoment.Data, secondMoment.Data, settings, corrections.Data, status.Data, step, (int)action);
        adam.Launch(op, parameters.Length);
    }

    /// <summary>
    /// Adam's bias corrections for t = 0 .. <paramref name="maxUpdates"/>, computed in double: element 2t is
    /// 1 - beta1^t and element 2t + 1 is 1 - beta2^t.
    /// </summary>
    public static float[] AdamCorrections(AdamSettings settings, int maxUpdates)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxUpdates);
        var table = new float[2 * (maxUpdates + 1)];
        for (int t = 0; t <= maxUpdates; t++)
        {
            table[2 * t] = (float)(1.0 - Math.Pow(settings.Beta1, t));
            table[(2 * t) + 1] = (float)(1.0 - Math.Pow(settings.Beta2, t));
        }

        return table;
    }

    private static void CheckStatus(TensorView<int> status, int step)
    {
        if (status.Length < StepStatus.TensorSteps)
        {
            throw new ArgumentException($"status has shape {status.Shape}; at least {StepStatus.TensorSteps} slots are required.", nameof(status));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
    }

    /// <summary>Whether step <paramref name="step"/>'s update is withheld, and the bookkeeping of thread 0.</summary>
    private static bool Withheld(ArrayView<int> status, int index, int step, int action)
    {
        bool bad = status[StepStatus.LastBadStep] == step;
        bool withheld = bad || (action == (int)NonFiniteAction.Stop && status[StepStatus.FirstBadStep] != 0);
        if (index == 0)
        {
            int applied = status[StepStatus.AppliedBefore(step)];
            status[StepStatus.AppliedBefore(step + 1)] = withheld ? applied : applied + 1;
            if (bad && action == (int)NonFiniteAction.Skip)
            {
                status[StepStatus.SkippedSteps] += 1;
            }
        }

        return withheld;
    }

    internal readonly record struct CheckFiniteOp(
        ArrayView<float> Gradients,
        ArrayView<float> Loss,
        ArrayView<int> Status,
        ArrayView<int> Offsets,
        ArrayView<int> StepMark,
        ArrayView<float> LossRecord,
        ArrayView<float> Carried,
        int NextFlags,
        int Tensors,
        int Step,
        int Action) : IItemOp
    {
        public void Apply(int index)
        {
            bool isLoss = index >= Gradients.Length;
            float v = isLoss ? Loss[0] : Gradients[index];
            if (isLoss && LossRecord.Length > 0)
            {
                LossRecord[0] = v;
            }

            // One thread (the loss's) records the carried sums and puts this rank's next flags in their place.
            if (isLoss && Carried.Length > 0)
            {
                Status[StepStatus.Carried] = (int)Carried[0];
                Status[StepStatus.Carried + 1] = (int)Carried[1];
                Carried[0] = NextFlags & 1;
                Carried[1] = (NextFlags >> 1) & 1;
            }

            if (float.IsFinite(v))
            {
                return;
            }

            if (StepMark.Length > 0)
            {
                StepMark[0] = Step;
            }

            int first = Status[StepStatus.FirstBadStep];
            if (Action == (int)NonFiniteAction.Stop && first != 0 && first != Step)
            {
                return;
            }

            if (first == 0)
            {
                Status[StepStatus.FirstBadStep] = Step;
            }

            Status[StepStatus.LastBadStep] = Step;
            if (!isLoss)
            {
                int tensor = 0;
                for (int t = 1; t < Tensors; t++)
                {
                    if (Offsets[t] <= index)
                    {
                        tensor = t;
                    }
                }

                Status[StepStatus.TensorSteps + tensor] = Step;
            }
        }
    }

    internal readonly record struct SgdOp(
        ArrayView<float> Parameter, ArrayView<float> Gradient, ArrayView<float> Velocity, SgdSettings S, ArrayView<int> Status, int Step, int Action) : IItemOp
    {
        public void Apply(int index)
        {
            if (!Withheld(Status, index, Step, Action))
            {
                float w = Parameter[index];
                float g = Gradient[index] + (S.WeightDecay * w);
                if (S.Momentum != 0f)
                {
                    g += S.Momentum * Velocity[index];
                    Velocity[index] = g;
                }

                Parameter[index] = w - (S.LearningRate * g);
            }

            Gradient[index] = 0f;
        }
    }

    internal readonly record struct AdamOp(
        ArrayView<float> Parameter,
        ArrayView<float> Gradient,
        ArrayView<float> FirstMoment,
        ArrayView<float> SecondMoment,
        AdamSettings S,
        ArrayView<float> Corrections,
        ArrayView<int> Status,
        int Step,
        int Action) : IItemOp
    {
        public void Apply(int index)
        {
            if (!Withheld(Status, index, Step, Action))
            {
                int t = Status[StepStatus.AppliedBefore(Step)] + 1;
                float correction1 = Corrections[2 * t], correction2 = Corrections[(2 * t) + 1];
                float w = Parameter[index];
                float g = Gradient[index] + (S.WeightDecay * w);
                float m = (S.Beta1 * FirstMoment[index]) + ((1f - S.Beta1) * g);
                float v = (S.Beta2 * SecondMoment[index]) + ((1f - S.Beta2) * g * g);
                FirstMoment[index] = m;
                SecondMoment[index] = v;
                Parameter[index] = w - (S.LearningRate * (m / correction1) / (MathF.Sqrt(v / correction2) + S.Epsilon));
            }

            Gradient[index] = 0f;
        }
    }
}
