// Pooling layers over (N, C, H, W): max pooling saves the argmax of each window for its backward; average pooling
// counts padding as zeros (divisor K * K). dInput is overwritten. Flatten views (N, C, H, W) as (N, C * H * W).
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>Max pooling over square windows.</summary>
public sealed class MaxPool2d : Layer
{
    private readonly Tensor<float> output;
    private readonly Tensor<int> argmax;
    private readonly Tensor<float>? dInput;
    private readonly Window window;

    /// <summary>Builds max pooling of (C, H, W) samples with <paramref name="window"/>.</summary>
    public MaxPool2d(LayerContext context, Shape inputShape, Window window)
        : base(context, inputShape, PoolOutput(inputShape, window))
    {
        this.window = window;
        output = AllocateBatch(OutputShape);
        argmax = Allocate<int>(Batched(OutputShape, context.BatchCapacity));
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "MaxPool2d";

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        var y = output.ViewFor(input.Shape[0]);
        Kernels.Pooling.MaxForward(y, argmax.ViewFor(input.Shape[0]), input, window);
        return y;
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        if (dInput is null)
        {
            return null;
        }

        var dx = dInput.ViewFor(dOutput.Shape[0]);
        Kernels.Pooling.MaxBackward(dx, dOutput, argmax.ViewFor(dOutput.Shape[0]), window);
        return dx;
    }

    internal static Shape PoolOutput(Shape input, Window window)
    {
        if (input.Rank != 3)
        {
            throw new ArgumentException($"Pooling needs (C, H, W) samples, got {input}.", nameof(input));
        }

        var output = Pooling.OutputShape(new Shape(1, input[0], input[1], input[2]), window);
        return new Shape(output[1], output[2], output[3]);
    }
}

/// <summary>Average pooling over square windows.</summary>
public sealed class AvgPool2d : Layer
{
    private readonly Tensor<float> output;
    private readonly Tensor<float>? dInput;
    private readonly Window window;

    /// <summary>Builds average pooling of (C, H, W) samples with <paramref name="window"/>.</summary>
    public AvgPool2d(LayerContext context, Shape inputShape, Window window)
        : base(context, inputShape, MaxPool2d.PoolOutput(inputShape, window))
    {
        this.window = window;
        output = AllocateBatch(OutputShape);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "AvgPool2d";

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        var y = output.ViewFor(input.Shape[0]);
        Kernels.Pooling.AverageForward(y, input, window);
        return y;
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        if (dInput is null)
        {
            return null;
        }

        var dx = dInput.ViewFor(dOutput.Shape[0]);
        Kernels.Pooling.AverageBackward(dx, dOutput, window);
        return dx;
    }
}

/// <summary>Global average pooling (PyTorch's nn.AdaptiveAvgPool2d(1)): (C, H, W) samples to (C, 1, 1).</summary>
public sealed class GlobalAvgPool : Layer
{
    private readonly Tensor<float> output;
    private readonly Tensor<float>? dInput;

    /// <summary>Builds global average pooling of (C, H, W) samples.</summary>
    public GlobalAvgPool(LayerContext context, Shape inputShape)
        : base(context, inputShape, inputShape.Rank == 3
            ? new Shape(inputShape[0], 1, 1)
            : throw new ArgumentException($"Global average pooling needs (C, H, W) samples, got {inputShape}.", nameof(inputShape)))
    {
        output = AllocateBatch(OutputShape);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "AdaptiveAvgPool2d";

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        var y = output.ViewFor(input.Shape[0]);
        Kernels.Pooling.GlobalAverageForward(y, input);
        return y;
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        if (dInput is null)
        {
            return null;
        }

        var dx = dInput.ViewFor(dOutput.Shape[0]);
        Kernels.Pooling.GlobalAverageBackward(dx, dOutput);
        return dx;
    }
}

/// <summary>Views each sample as a vector: (N, C, H, W) to (N, C * H * W). Allocates nothing.</summary>
public sealed class Flatten : Layer
{
    private Shape inputBatchShape;

    /// <summary>Builds a flatten of samples of <paramref name="inputShape"/>.</summary>
    public Flatten(LayerContext context, Shape inputShape)
        : base(context, inputShape, new Shape(inputShape.Length))
    {
    }

    /// <inheritdoc/>
    public override string Kind => "Flatten";

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        inputBatchShape = input.Shape;
        return input.Reshape(new Shape(input.Shape[0], OutputShape[0]));
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput) =>
        Context.NeedsInputGradient ? dOutput.Reshape(inputBatchShape) : null;
}
