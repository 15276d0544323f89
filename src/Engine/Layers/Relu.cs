// ReLU: y = max(x, 0), any shape. Backward: dx = dy where y > 0, else 0 (overwritten).
// When the layer before applies it in its own kernels (fused), Forward passes that output on; Backward then masks the
// gradient itself unless the producer or the consumer already does. Fusing frees the buffers the fused parts would use.
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>Rectified linear unit.</summary>
public sealed class Relu : Layer
{
    private readonly Tensor<float> output;
    private readonly Tensor<float>? dInput;
    private TensorView<float> y;
    private bool forwardFused, backwardFused;

    /// <summary>Builds a ReLU for samples of <paramref name="inputShape"/>.</summary>
    public Relu(LayerContext context, Shape inputShape)
        : base(context, inputShape, inputShape)
    {
        output = AllocateBatch(inputShape);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "ReLU";

    /// <summary>The layer before applies the ReLU (and, with <paramref name="backward"/>, its backward) itself.</summary>
    internal void Fuse(bool backward)
    {
        forwardFused = true;
        backwardFused = backward;
        Release(output);
        if (backward)
        {
            Release(dInput);
        }
    }

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        if (forwardFused)
        {
            y = input;
            return y;
        }

        y = output.ViewFor(input.Shape[0]);
        Kernels.Elementwise.ReluForward(y, input);
        return y;
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        if (dInput is null)
        {
            return null;
        }

        if (backwardFused)
        {
            return dOutput;
        }

        var dx = dInput.ViewFor(dOutput.Shape[0]);
        Kernels.Elementwise.ReluBackward(dx, dOutput, y);
        return dx;
    }
}
