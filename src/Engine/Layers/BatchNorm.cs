// BatchNorm over (N, C) (BatchNorm1d) or (N, C, H, W) (BatchNorm2d): training normalizes with the batch's mean and
// biased variance and updates running statistics (momentum 0.1, unbiased variance); evaluation uses the running
// statistics. Backward (hand-derived, in the kernel): dx overwritten, dGamma and dBeta accumulate. A following ReLU is
// fused into both kernels.
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>Batch normalization with learnable scale (weight) and shift (bias).</summary>
public sealed class BatchNorm : Layer
{
    private readonly Parameter gamma, beta;
    private readonly Tensor<float> runningMean, runningVar, mean, invStd, output;
    private readonly Tensor<float> dInput;
    private TensorView<float> input, y;
    private bool relu;

    /// <summary>Builds batch normalization for (C) or (C, H, W) samples: gamma 1, beta 0, running mean 0 and variance 1.</summary>
    public BatchNorm(LayerContext context, Shape inputShape)
        : base(context, inputShape, inputShape)
    {
        if (inputShape.Rank is not (1 or 3))
        {
            throw new ArgumentException($"BatchNorm needs (C) or (C, H, W) samples, got {inputShape}.", nameof(inputShape));
        }

        int channels = inputShape[0];
        var channelShape = new Shape(channels);
        gamma = AllocateParameter("weight", channelShape, Enumerable.Repeat(1f, channels).ToArray());
        beta = AllocateParameter("bias", channelShape, new float[channels]);
        runningMean = Allocate<float>(channelShape);
        runningVar = Allocate<float>(channelShape);
        runningVar.Upload(Enumerable.Repeat(1f, channels).ToArray());
        mean = Allocate<float>(channelShape);
        invStd = Allocate<float>(channelShape);
        output = AllocateBatch(inputShape);
        // The kernel computes dInput together with the parameter gradients, so even the first layer needs the tensor.
        dInput = AllocateBatch(inputShape);
    }

    /// <inheritdoc/>
    public override string Kind => InputShape.Rank == 1 ? "BatchNorm1d" : "BatchNorm2d";

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> Parameters => [gamma, beta];

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, Tensor<float> Value)> Buffers => [("running_mean", runningMean), ("running_var", runningVar)];

    /// <summary>Training forward passes so far (PyTorch's num_batches_tracked).</summary>
    public long BatchesTracked { get; set; }

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        this.input = input;
        y = output.ViewFor(input.Shape[0]);
        if (training)
        {
            Kernels.BatchNorm.ForwardTraining(
                y, mean.View, invStd.View, runningMean.View, runningVar.View, input, gamma.Value.View, beta.Value.View, relu: relu);
            BatchesTracked++;
        }
        else
        {
            Kernels.BatchNorm.ForwardInference(y, input, gamma.Value.View, beta.Value.View, runningMean.View, runningVar.View, relu: relu);
        }

        return y;
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        var dx = dInput.ViewFor(dOutput.Shape[0]);
        Kernels.BatchNorm.Backward(
            dx, gamma.Gradient.View, beta.Gradient.View, dOutput, input, gamma.Value.View, mean.View, invStd.View, relu ? y : null);
        return Context.NeedsInputGradient ? dx : null;
    }

    /// <inheritdoc/>
    internal override ReluFusion FuseFollowingRelu()
    {
        relu = true;
        return ReluFusion.ForwardAndBackward;
    }
}
