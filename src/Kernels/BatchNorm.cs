// Batch normalization over an (N, C) or (N, C, H, W) tensor, per channel c over its m = N * H * W values.
// Training: mean = sum(x) / m, var = sum((x - mean)^2) / m (biased), invStd = 1 / sqrt(var + eps),
//   y = gamma * (x - mean) * invStd + beta; saves mean and invStd; running stats: r = (1 - momentum) r + momentum s,
//   with the unbiased variance var * m / (m - 1) for runningVar (as PyTorch).
// Evaluation: y = gamma * (x - runningMean) / sqrt(runningVar + eps) + beta.
// Backward (hand-derived): xhat = (x - mean) invStd; dBeta += sum(dy); dGamma += sum(dy xhat);
//   dx = gamma invStd / m * (m dy - sum(dy) - xhat sum(dy xhat)). Parameter gradients accumulate, dx is overwritten.
// A ReLU that follows is fused: forward writes max(y, 0), backward takes dy = dOut where the saved output is > 0, else 0.
// Sums run in a fixed order (one group per channel), so results are the same bits on every run.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>The tensors of a training forward pass.</summary>
internal readonly record struct BatchNormForwardViews(
    ArrayView<float> Output,
    ArrayView<float> Mean,
    ArrayView<float> InvStd,
    ArrayView<float> RunningMean,
    ArrayView<float> RunningVar,
    ArrayView<float> Input,
    ArrayView<float> Gamma,
    ArrayView<float> Beta,
    int Relu);

/// <summary>The tensors of a backward pass; Output (the fused ReLU's output) is empty when no ReLU is fused.</summary>
internal readonly record struct BatchNormBackwardViews(
    ArrayView<float> DInput,
    ArrayView<float> DGamma,
    ArrayView<float> DBeta,
    ArrayView<float> DOutput,
    ArrayView<float> Input,
    ArrayView<float> Gamma,
    ArrayView<float> Mean,
    ArrayView<float> InvStd,
    ArrayView<float> Output);

/// <summary>Batch normalization (with an optional fused ReLU after it): training forward, evaluation forward, backward.</summary>
public sealed class BatchNorm
{
    /// <summary>PyTorch's default momentum for the running statistics.</summary>
    public const float DefaultMomentum = 0.1f;

    /// <summary>PyTorch's default epsilon.</summary>
    public const float DefaultEpsilon = 1e-5f;

    private readonly LaunchPolicy policy;
    private readonly Action<KernelConfig, BatchNormForwardViews, ChannelLayout, float, float> trainingForward;
    private readonly Action<KernelConfig, BatchNormBackwardViews, ChannelLayout> backward;
    private readonly ItemKernel<InferenceOp> inference;

    internal BatchNorm(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        trainingForward = accelerator.LoadStreamKernel<BatchNormForwardViews, ChannelLayout, float, float>(TrainingForwardKernel);
        backward = accelerator.LoadStreamKernel<BatchNormBackwardViews, ChannelLayout>(BackwardKernel);
        inference = new(accelerator, policy);
    }

    /// <summary>
    /// Normalizes <paramref name="input"/> with its batch statistics into <paramref name="output"/> (then max(y, 0) when
    /// <paramref name="relu"/>), saves <paramref name="mean"/> and <paramref name="invStd"/> (C) for the backward pass
    /// and updates the running statistics.
    /// </summary>
    public void ForwardTraining(
        TensorView<float> output,
        TensorView<float> mean,
        TensorView<float> invStd,
        TensorView<float> runningMean,
        TensorView<float> runningVar,
        TensorView<float> input,
        TensorView<float> gamma,
        TensorView<float> beta,
        float epsilon = DefaultEpsilon,
        float momentum = DefaultMomentum,
        bool relu = false)
    {
        var layout = Validate(output, input, gamma, beta, [mean, invStd, runningMean, runningVar]);
        if (layout.Channels == 0)
        {
            return;
        }

        if (layout.PerChannel < 2)
        {
            throw new ArgumentException($"Batch norm in training needs more than 1 value per channel, got input shape {input.Shape}.", nameof(input));
        }

        var views = new BatchNormForwardViews(
            output.Data, mean.Data, invStd.Data, runningMean.Data, runningVar.Data, input.Data, gamma.Data, beta.Data, relu ? 1 : 0);
        var config = policy.PerGroup(layout.Channels);
        if (policy.Launch(relu ? "BatchNormReluForward" : "BatchNormForward", config, LaunchPolicy.ReduceSharedBytes))
        {
            trainingForward(config, views, layout, epsilon, momentum);
        }
    }

    /// <summary>Normalizes <paramref name="input"/> with the running statistics (evaluation mode), then max(y, 0) when <paramref name="relu"/>.</summary>
    public void ForwardInference(
        TensorView<float> output,
        TensorView<float> input,
        TensorView<float> gamma,
        TensorView<float> beta,
        TensorView<float> runningMean,
        TensorView<float> runningVar,
        float epsilon = DefaultEpsilon,
        bool relu = false)
    {
        var layout = Validate(output, input, gamma, beta, [runningMean, runningVar]);
        var op = new InferenceOp(output.Data, input.Data, gamma.Data, beta.Data, runningMean.Data, runningVar.Data, layout, epsilon, relu ? 1 : 0);
        inference.Launch(op, output.Length);
    }

    /// <summary>
    /// dInput = dL/dx; dGamma += dL/dgamma; dBeta += dL/dbeta, from the saved mean and invStd. With
    /// <paramref name="reluOutput"/> (the forward's output when a ReLU was fused), <paramref name="dOutput"/> is the
    /// gradient after the ReLU and is masked where that output is not positive.
    /// </summary>
    public void Backward(
        TensorView<float> dInput,
        TensorView<float> dGamma,
        TensorView<float> dBeta,
        TensorView<float> dOutput,
        TensorView<float> input,
        TensorView<float> gamma,
        TensorView<float> mean,
        TensorView<float> invStd,
        TensorView<float>? reluOutput = null)
    {
        Check.SameShape(dInput, nameof(dInput), input, nameof(input));
        var layout = Validate(dOutput, input, gamma, dGamma, [dBeta, mean, invStd]);
        if (reluOutput is { } y)
        {
            Check.SameShape(y, nameof(reluOutput), input, nameof(input));
        }

        if (layout.Channels == 0)
        {
            return;
        }

        var views = new BatchNormBackwardViews(
            dInput.Data, dGamma.Data, dBeta.Data, dOutput.Data, input.Data, gamma.Data, mean.Data, invStd.Data,
            reluOutput is { } mask ? mask.Data : default);
        var config = policy.PerGroup(layout.Channels);
        if (policy.Launch(reluOutput is null ? "BatchNormBackward" : "BatchNormReluBackward", config, LaunchPolicy.ReduceSharedBytes))
        {
            backward(config, views, layout);
        }
    }

    private static ChannelLayout Validate(
        TensorView<float> output, TensorView<float> input, TensorView<float> gamma, TensorView<float> beta, ReadOnlySpan<TensorView<float>> perChannel)
    {
        Check.SameShape(output, nameof(output), input, nameof(input));
        var (outer, channels, inner) = Check.ChannelLayout(input, nameof(input));
        var expected = new Shape(channels);
        Check.Shape(gamma, expected, nameof(gamma));
        Check.Shape(beta, expected, nameof(beta));
        foreach (var view in perChannel)
        {
            Check.Shape(view, expected, "per-channel statistics");
        }

        return new ChannelLayout(outer, channels, inner);
    }

    [GpuKernel]
    internal static void TrainingForwardKernel(BatchNormForwardViews v, ChannelLayout layout, float epsilon, float momentum)
    {
        var scratch = SharedMemory.Allocate<float>(LaunchPolicy.MaxReduceGroupSize);
        int c = Grid.IdxX, m = layout.PerChannel, first = Group.IdxX, stride = Group.DimX;
        float sum = 0f;
        for (int e = first; e < m; e += stride)
        {
            sum += v.Input[layout.Index(c, e)];
        }

        float mean = KernelSupport.GroupSum(scratch, sum) / m;
        float squares = 0f;
        for (int e = first; e < m; e += stride)
        {
            float d = v.Input[layout.Index(c, e)] - mean;
            squares += d * d;
        }

        float variance = KernelSupport.GroupSum(scratch, squares) / m;
        float invStd = 1f / MathF.Sqrt(variance + epsilon);
        if (Group.IdxX == 0)
        {
            v.Mean[c] = mean;
            v.InvStd[c] = invStd;
            v.RunningMean[c] = ((1f - momentum) * v.RunningMean[c]) + (momentum * mean);
            v.RunningVar[c] = ((1f - momentum) * v.RunningVar[c]) + (momentum * variance * m / (m - 1));
        }

        float scale = v.Gamma[c] * invStd, shift = v.Beta[c] - (mean * scale);
        for (int e = first; e < m; e += stride)
        {
            int i = layout.Index(c, e);
            float y = (v.Input[i] * scale) + shift;
            v.Output[i] = v.Relu != 0 && y <= 0f ? 0f : y;
        }
    }

    [GpuKernel]
    internal static void BackwardKernel(BatchNormBackwardViews v, ChannelLayout layout)
    {
        var scratch = SharedMemory.Allocate<float>(LaunchPolicy.MaxReduceGroupSize);
        int c = Grid.IdxX, m = layout.PerChannel, first = Group.IdxX, stride = Group.DimX;
        float mean = v.Mean[c], invStd = v.InvStd[c];
        bool masked = v.Output.Length > 0;
        float sumDy = 0f, sumDyXhat = 0f;
        for (int e = first; e < m; e += stride)
        {
            int i = layout.Index(c, e);
            float dy = masked && !(v.Output[i] > 0f) ? 0f : v.DOutput[i];
            sumDy += dy;
            sumDyXhat += dy * (v.Input[i] - mean) * invStd;
        }

        sumDy = KernelSupport.GroupSum(scratch, sumDy);
        sumDyXhat = KernelSupport.GroupSum(scratch, sumDyXhat);
        if (Group.IdxX == 0)
        {
            v.DGamma[c] += sumDyXhat;
            v.DBeta[c] += sumDy;
        }

        float scale = v.Gamma[c] * invStd / m;
        for (int e = first; e < m; e += stride)
        {
            int i = layout.Index(c, e);
            float xhat = (v.Input[i] - mean) * invStd;
            float dy = masked && !(v.Output[i] > 0f) ? 0f : v.DOutput[i];
            v.DInput[i] = scale * ((m * dy) - sumDy - (xhat * sumDyXhat));
        }
    }

    internal readonly record struct InferenceOp(
        ArrayView<float> Output,
        ArrayView<float> Input,
        ArrayView<float> Gamma,
        ArrayView<float> Beta,
        ArrayView<float> RunningMean,
        ArrayView<float> RunningVar,
        ChannelLayout Layout,
        float Epsilon,
        int Relu) : IItemOp
    {
        public void Apply(int index)
        {
            int c = Layout.ChannelOf(index);
            float y = (Gamma[c] * (Input[index] - RunningMean[c]) / MathF.Sqrt(RunningVar[c] + Epsilon)) + Beta[c];
            Output[index] = Relu != 0 && y <= 0f ? 0f : y;
        }
    }
}
