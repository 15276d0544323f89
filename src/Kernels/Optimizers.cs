// Optimizer updates, one launch per parameter tensor; each also zeroes the gradient it consumed (gradients
// accumulate with += between updates).
// SGD (PyTorch semantics, no dampening): g = grad + weightDecay * w; v = momentum * v + g (when momentum != 0, and
//   then g = v); w -= lr * g.
// Adam (L2 weight decay added to the gradient, as PyTorch's Adam): g = grad + weightDecay * w;
//   m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>SGD settings.</summary>
public readonly record struct SgdSettings(float LearningRate, float Momentum = 0f, float WeightDecay = 0f);

/// <summary>Adam settings (PyTorch's defaults).</summary>
public readonly record struct AdamSettings(
    float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-8f, float WeightDecay = 0f);

/// <summary>SGD and Adam parameter updates.</summary>
public sealed class Optimizers
{
    private readonly ItemKernel<SgdOp> sgd;
    private readonly ItemKernel<AdamOp> adam;

    internal Optimizers(Accelerator accelerator, LaunchPolicy policy)
    {
        sgd = new(accelerator, policy);
        adam = new(accelerator, policy);
    }

    /// <summary>One SGD update of <paramref name="parameter"/>; zeroes <paramref name="gradient"/>.</summary>
    public void SgdStep(TensorView<float> parameter, TensorView<float> gradient, TensorView<float> velocity, SgdSettings settings)
    {
        Check.SameShape(gradient, nameof(gradient), parameter, nameof(parameter));
        Check.SameShape(velocity, nameof(velocity), parameter, nameof(parameter));
        sgd.Launch(new SgdOp(parameter.Data, gradient.Data, velocity.Data, settings), parameter.Length);
    }

    /// <summary>Adam update number <paramref name="step"/> (1 for the first) of <paramref name="parameter"/>; zeroes <paramref name="gradient"/>.</summary>
    public void AdamStep(
        TensorView<float> parameter, TensorView<float> gradient, TensorView<float> firstMoment, TensorView<float> secondMoment, AdamSettings settings, long step)
    {
        Check.SameShape(gradient, nameof(gradient), parameter, nameof(parameter));
        Check.SameShape(firstMoment, nameof(firstMoment), parameter, nameof(parameter));
        Check.SameShape(secondMoment, nameof(secondMoment), parameter, nameof(parameter));
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        float correction1 = (float)(1.0 - Math.Pow(settings.Beta1, step));
        float correction2 = (float)(1.0 - Math.Pow(settings.Beta2, step));
        var op = new AdamOp(parameter.Data, gradient.Data, firstMoment.Data, secondMoment.Data, settings, correction1, correction2);
        adam.Launch(op, parameter.Length);
    }

    internal readonly record struct SgdOp(ArrayView<float> Parameter, ArrayView<float> Gradient, ArrayView<float> Velocity, SgdSettings S) : IItemOp
    {
        public void Apply(int index)
        {
            float w = Parameter[index];
            float g = Gradient[index] + (S.WeightDecay * w);
            if (S.Momentum != 0f)
            {
                g += S.Momentum * Velocity[index];
                Velocity[index] = g;
            }

            Parameter[index] = w - (S.LearningRate * g);
            Gradient[index] = 0f;
        }
    }

    internal readonly record struct AdamOp(
        ArrayView<float> Parameter,
        ArrayView<float> Gradient,
        ArrayView<float> FirstMoment,
        ArrayView<float> SecondMoment,
        AdamSettings S,
        float Correction1,
        float Correction2) : IItemOp
    {
        public void Apply(int index)
        {
            float w = Parameter[index];
            float g = Gradient[index] + (S.WeightDecay * w);
            float m = (S.Beta1 * FirstMoment[index]) + ((1f - S.Beta1) * g);
            float v = (S.Beta2 * SecondMoment[index]) + ((1f - S.Beta2) * g * g);
            FirstMoment[index] = m;
            SecondMoment[index] = v;
            Parameter[index] = w - (S.LearningRate * (m / Correction1) / (MathF.Sqrt(v / Correction2) + S.Epsilon));
            Gradient[index] = 0f;
        }
    }
}
