// ReLU: y = max(x, 0), any shape. Backward: dx = dy where y > 0, else 0 (overwritten).
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>Rectified linear unit.</summary>
public sealed class Relu : Layer
{
    private readonly Tensor<float> output;
    private readonly Tensor<float>? dInput;
    private TensorView<float> y;

    /// <summary>Builds a ReLU for samples of <paramref name="inputShape"/>.</summary>
    public Relu(LayerContext context, Shape inputShape)
        : base(context, inputShape, inputShape)
    {
        output = AllocateBatch(inputShape);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "ReLU";

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
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

        var dx = dInput.ViewFor(dOutput.Shape[0]);
        Kernels.Elementwise.ReluBackward(dx, dOutput, y);
        return dx;
    }
}
