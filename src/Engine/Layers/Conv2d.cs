// Conv2d: x (N, Cin, H, W) -> y (N, Cout, OH, OW), weight (Cout, Cin, K, K), bias (Cout). On GPUs the convolution is
// three implicit GEMMs reading the input and dOut directly (Backward reads the forward's input); on the CPU accelerator
// Forward keeps the im2col columns (Cin K K, N OH OW) for the weight gradient and Backward overwrites them with
// dColumns. Parameter gradients accumulate (+=); dInput is overwritten.
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>A 2-D convolution with square kernels, stride and zero padding.</summary>
public sealed class Conv2d : Layer
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly Tensor<float> output, columns, scratch;
    private readonly Tensor<float>? dInput;
    private readonly Window window;
    private readonly GemmPrecision precision;
    private TensorView<float> input;

    /// <summary>Builds a convolution of (C, H, W) samples to <paramref name="outChannels"/> channels with <paramref name="window"/>.</summary>
    public Conv2d(LayerContext context, Shape inputShape, int outChannels, Window window, WeightInit init, bool bias = true)
        : base(context, inputShape, SampleOutput(inputShape, outChannels, window))
    {
        this.window = window;
        int inChannels = inputShape[0], fanIn = inChannels * window.Kernel * window.Kernel;
        var weightShape = new Shape(outChannels, inChannels, window.Kernel, window.Kernel);
        var (w, b) = Linear.Initial(context.Random, init, outChannels, fanIn, fanIn);
        weight = AllocateParameter("weight", weightShape, w);
        this.bias = bias ? AllocateParameter("bias", new Shape(outChannels), b) : null;
        var batchInput = Batched(inputShape, context.BatchCapacity);
        output = AllocateBatch(OutputShape);
        columns = Allocate<float>(new Shape(context.Kernels.Convolution.ColumnsWorkspace(batchInput, weightShape, window)));
        scratch = Allocate<float>(new Shape(context.Kernels.Convolution.ScratchWorkspace(batchInput, weightShape, window)));
        precision = context.Precision;
        context.Kernels.Convolution.Reserve(batchInput, weightShape, window, precision);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
    }

    /// <inheritdoc/>
    public override string Kind => "Conv2d";

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> Parameters => bias is null ? [weight] : [weight, bias];

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training) => Run(input, null);

    /// <inheritdoc/>
    internal override bool AddsInOutputPass => true;

    /// <inheritdoc/>
    internal override TensorView<float> ForwardAdding(TensorView<float> input, bool training, TensorView<float> addend) => Run(input, addend);

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        TensorView<float>? dx = dInput?.ViewFor(dOutput.Shape[0]);
        Kernels.Convolution.Backward(
            dx, weight.Gradient.View, bias?.Gradient.View, dOutput, input, weight.Value.View, window, columns.View, scratch.View, precision);
        return dx;
    }

    private TensorView<float> Run(TensorView<float> input, TensorView<float>? addend)
    {
        this.input = input;
        var y = output.ViewFor(input.Shape[0]);
        Kernels.Convolution.Forward(y, input, weight.Value.View, bias?.Value.View, window, columns.View, scratch.View, precision, addend?.Reshape(y.Shape));
        return y;
    }

    private static Shape SampleOutput(Shape input, int outChannels, Window window)
    {
        if (input.Rank != 3)
        {
            throw new ArgumentException($"Conv2d needs (C, H, W) samples, got {input}.", nameof(input));
        }

        var output = Convolution.OutputShape(new Shape(1, input[0], input[1], input[2]), new Shape(outChannels, input[0], window.Kernel, window.Kernel), window);
        return new Shape(output[1], output[2], output[3]);
    }
}
