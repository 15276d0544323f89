// Inverted dropout, any shape: in training y = x / (1 - p) where the layer's draw for the step keeps the element (a
// draw below p drops it), else 0; at evaluation y = x. Backward: dx = dy / (1 - p) where kept, else 0 (the same draws,
// recomputed from the seed, the step and the layer's index: no mask is stored).
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>Inverted dropout (PyTorch's nn.Dropout): identity at evaluation.</summary>
public sealed class Dropout : Layer
{
    private readonly Tensor<float> output;
    private readonly Tensor<float>? dInput;
    private readonly float probability;
    private bool lastTraining;

    /// <summary>Builds dropout with drop probability <paramref name="probability"/> for samples of <paramref name="inputShape"/>.</summary>
    public Dropout(LayerContext context, Shape inputShape, double probability)
        : base(context, inputShape, inputShape)
    {
        if (!(probability >= 0 && probability < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), $"Dropout probability must be in [0, 1), got {probability}.");
        }

        this.probability = (float)probability;
        output = AllocateBatch(inputShape);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "Dropout";

    /// <summary>The drop probability.</summary>
    public double Probability => probability;

    private DropoutDraw Draw => new(Context.Seed, Context.Clock?.Step ?? 0, Context.Index, (Context.Clock?.FirstRow ?? 0) * InputShape.Length);

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        lastTraining = training;
        if (!training || probability == 0f)
        {
            return input;
        }

        var y = output.ViewFor(input.Shape[0]);
        Kernels.Elementwise.Dropout(y, input, probability, Draw);
        return y;
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        if (dInput is null)
        {
            return null;
        }

        if (!lastTraining || probability == 0f)
        {
            return dOutput;
        }

        var dx = dInput.ViewFor(dOutput.Shape[0]);
        Kernels.Elementwise.Dropout(dx, dOutput, probability, Draw);
        return dx;
    }
}
