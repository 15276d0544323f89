// Residual: y = body(x) + shortcut(x), the shortcut the identity when it has no layers. Each branch is a chain of
// layers built for the block's input shape; both must end at the same shape. When the body ends with a layer that adds
// in its output pass (Conv2d, or Linear without a fused ReLU), the shortcut runs first and the sum is made in that
// layer's GEMM epilogue, into its own output: no addition launch and no output buffer of the block's own (same bits,
// since the body's value plus the shortcut's is added in the same order). Backward: dOut goes into both branches
// and dx = dBody(x) + dShortcut(x) (dOut itself for the identity), summed into the block's own buffer. Parameter names
// follow a PyTorch module with the two nn.Sequential children body and shortcut: "body.0.weight", "shortcut.0.weight".
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>A residual block: the sum of a body and a shortcut (identity when empty) over the same input.</summary>
public sealed class Residual : Layer
{
    private readonly IReadOnlyList<Layer> body, shortcut;
    private readonly Tensor<float>? output;
    private readonly Tensor<float>? dInput;
    private TensorView<float> input;

    /// <summary>
    /// Joins <paramref name="body"/> and <paramref name="shortcut"/>, built for samples of <paramref name="inputShape"/>;
    /// the block owns (and disposes) their layers.
    /// </summary>
    public Residual(LayerContext context, Shape inputShape, IReadOnlyList<Layer> body, IReadOnlyList<Layer> shortcut)
        : base(context, inputShape, BranchOutput(inputShape, body))
    {
        ArgumentNullException.ThrowIfNull(shortcut);
        var shortcutShape = BranchOutput(inputShape, shortcut);
        if (body.Count == 0)
        {
            throw new ArgumentException("A residual block needs at least one layer in its body.", nameof(body));
        }

        if (shortcutShape != OutputShape)
        {
            throw new ArgumentException($"A residual block's body ends at {OutputShape} but its shortcut at {shortcutShape}.", nameof(shortcut));
        }

        this.body = body;
        this.shortcut = shortcut;
        AddsInBody = body[^1].AddsInOutputPass;
        output = AddsInBody ? null : AllocateBatch(OutputShape);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "Residual";

    /// <summary>The body's layers, in order.</summary>
    public IReadOnlyList<Layer> Body => body;

    /// <summary>The shortcut's layers, in order (none: the identity).</summary>
    public IReadOnlyList<Layer> Shortcut => shortcut;

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, Layer Layer)> Children =>
        [.. body.Select((l, i) => ($"body.{i}", l)), .. shortcut.Select((l, i) => ($"shortcut.{i}", l))];

    /// <inheritdoc/>
    public override long DeviceBytes => base.DeviceBytes + body.Sum(l => l.DeviceBytes) + shortcut.Sum(l => l.DeviceBytes);

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training)
    {
        this.input = input;
        var s = Run(shortcut, shortcut.Count, input, training);
        if (output is null)
        {
            return body[^1].ForwardAdding(Run(body, body.Count - 1, input, training), training, s);
        }

        var b = Run(body, body.Count, input, training);
        var y = output.ViewFor(input.Shape[0]);
        Kernels.Elementwise.Add(y, b.Reshape(y.Shape), s.Reshape(y.Shape));
        return y;
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        var dBody = Back(body, dOutput);
        var dShortcut = shortcut.Count == 0 ? dOutput : Back(shortcut, dOutput);
        if (dInput is null || dBody is null || dShortcut is null)
        {
            return null;
        }

        var dx = dInput.ViewFor(dOutput.Shape[0]);
        Kernels.Elementwise.Add(dx, dBody.Value.Reshape(dx.Shape), dShortcut.Value.Reshape(dx.Shape));
        return dx;
    }

    /// <inheritdoc/>
    protected override void DisposeOwned()
    {
        foreach (var layer in body.Concat(shortcut))
        {
            layer.Dispose();
        }
    }

    /// <summary>Whether the sum is made in the body's last layer's GEMM epilogue (no addition launch).</summary>
    internal bool AddsInBody { get; }

    /// <summary>x through the first <paramref name="count"/> of <paramref name="layers"/>.</summary>
    private static TensorView<float> Run(IReadOnlyList<Layer> layers, int count, TensorView<float> x, bool training)
    {
        for (int i = 0; i < count; i++)
        {
            x = layers[i].Forward(x, training);
        }

        return x;
    }

    private static TensorView<float>? Back(IReadOnlyList<Layer> layers, TensorView<float> d)
    {
        TensorView<float>? next = d;
        for (int i = layers.Count - 1; i >= 0 && next is { } dy; i--)
        {
            next = layers[i].Backward(dy);
        }

        return next;
    }

    private static Shape BranchOutput(Shape inputShape, IReadOnlyList<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        return layers.Count == 0 ? inputShape : layers[^1].OutputShape;
    }
}
