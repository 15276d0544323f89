// GELU: y = x * Phi(x), Phi the standard normal distribution function (PyTorch's nn.GELU(), the exact erf form), any
// shape. Backward: dx = dy * (Phi(x) + x * phi(x)) from the saved input (overwritten).
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>The Gaussian error linear unit, exact form.</summary>
public sealed class Gelu : Layer
{
    private readonly Tensor<float> output;
    private readonly Tensor<float>? dInput;
    private TensorView<float> input;

    /// <summary>Builds GELU for samples of <paramref name="inputShape"/>.</summary>
    public Gelu(LayerContext context, Shape inputShape)
        : base(context, inputShape, inputShape)
    {
        output = AllocateBatch(inputShape);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "GELU";

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        this.input = input;
        var y = output.ViewFor(input.Shape[0]);
        Kernels.Elementwise.GeluForward(y, input);
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
        Kernels.Elementwise.GeluBackward(dx, dOutput, input);
        return dx;
    }
}
