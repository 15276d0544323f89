// Linear: y (N, out) = x (N, in) W^T + b, with W (out, in) and b (out); an input of any rank is flattened to (N, in).
// Backward: dW += dy^T x; db += column sums of dy; dx (N, in) = dy W (overwritten).
// Fused: the bias (and a following ReLU) in the forward GEMM's epilogue; the backward of a preceding ReLU (dx = 0 where
// x <= 0, x being that ReLU's output) in the dx GEMM's epilogue.
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>How a linear or convolution layer's initial values are drawn.</summary>
public enum WeightInit
{
    /// <summary>PyTorch's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Kaiming-uniform, a = sqrt(5)).</summary>
    KaimingUniform,

    /// <summary>The reference MLP's: weight ~ N(0, 1e-4^2), bias 0.</summary>
    SmallNormal,
}

/// <summary>A fully connected layer.</summary>
public sealed class Linear : Layer
{
    /// <summary>The standard deviation of <see cref="WeightInit.SmallNormal"/>.</summary>
    public const double SmallNormalStd = 1e-4;

    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly Tensor<float> output;
    private readonly Tensor<float>? dInput;
    private readonly GemmPrecision precision;
    private TensorView<float> input;
    private bool relu, maskInputGradient;

    /// <summary>Builds a linear layer from samples of <paramref name="inputShape"/> (flattened) to <paramref name="outFeatures"/>.</summary>
    public Linear(LayerContext context, Shape inputShape, int outFeatures, WeightInit init, bool bias = true)
        : base(context, inputShape, new Shape(outFeatures))
    {
        int inFeatures = inputShape.Length;
        InFeatures = inFeatures;
        var (w, b) = Initial(context.Random, init, outFeatures, inFeatures, inFeatures);
        weight = AllocateParameter("weight", new Shape(outFeatures, inFeatures), w);
        this.bias = bias ? AllocateParameter("bias", new Shape(outFeatures), b) : null;
        output = AllocateBatch(OutputShape);
        dInput = context.NeedsInputGradient ? AllocateBatch(inputShape) : null;
        precision = context.Precision;
        var gemm = context.Kernels.Gemm;
        gemm.Reserve(context.BatchCapacity, outFeatures, inFeatures, precision);
        gemm.Reserve(outFeatures, inFeatures, context.BatchCapacity, precision);
        gemm.Reserve(context.BatchCapacity, inFeatures, outFeatures, precision);
    }

    /// <summary>Inputs per sample.</summary>
    public int InFeatures { get; }

    /// <inheritdoc/>
    public override string Kind => "Linear";

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> Parameters => bias is null ? [weight] : [weight, bias];

    /// <summary>Initial weight (count fanOut * fanIn) and bias (fanOut) values.</summary>
    internal static (float[] Weight, float[] Bias) Initial(Random random, WeightInit init, int outFeatures, int weightsPerOutput, int fanIn)
    {
        var w = new float[outFeatures * weightsPerOutput];
        var b = new float[outFeatures];
        if (init == WeightInit.SmallNormal)
        {
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = (float)(SmallNormalStd * Gaussian(random));
            }
        }
        else
        {
            double bound = fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0;
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = (float)(((2 * random.NextDouble()) - 1) * bound);
            }

            for (int i = 0; i < b.Length; i++)
            {
                b[i] = (float)(((2 * random.NextDouble()) - 1) * bound);
            }
        }

        return (w, b);
    }

    /// <inheritdoc/>
    public override TensorView<float> Forward(TensorView<float> input, bool training) => Run(input, null);

    /// <inheritdoc/>
    internal override bool AddsInOutputPass => !relu;

    /// <inheritdoc/>
    internal override TensorView<float> ForwardAdding(TensorView<float> input, bool training, TensorView<float> addend) =>
        relu ? throw new InvalidOperationException("A Linear with a fused ReLU cannot add before it.") : Run(input, addend);

    private TensorView<float> Run(TensorView<float> input, TensorView<float>? addend)
    {
        int batch = input.Shape[0];
        this.input = input.Reshape(new Shape(batch, InFeatures));
        var y = output.ViewFor(batch);
        Kernels.Gemm.Multiply(y, this.input, Transpose.None, weight.Value.View, Transpose.Yes, epilogue: new GemmEpilogue(bias?.Value.View, relu, Addend: addend?.Reshape(y.Shape)), precision: precision);
        return y;
    }

    /// <inheritdoc/>
    public override TensorView<float>? Backward(TensorView<float> dOutput)
    {
        Kernels.Gemm.Multiply(weight.Gradient.View, dOutput, Transpose.Yes, input, Transpose.None, 1f, 1f, precision: precision);
        if (bias is not null)
        {
            Kernels.Elementwise.BiasGradient(bias.Gradient.View, dOutput);
        }

        if (dInput is null)
        {
            return null;
        }

        var dx = dInput.ViewFor(dOutput.Shape[0]);
        var dx2d = dx.Reshape(input.Shape);
        Kernels.Gemm.Multiply(dx2d, dOutput, Transpose.None, weight.Value.View, Transpose.None, epilogue: new GemmEpilogue(Mask: maskInputGradient ? input : null), precision: precision);
        return dx;
    }

    /// <inheritdoc/>
    internal override ReluFusion FuseFollowingRelu()
    {
        relu = true;
        return ReluFusion.Forward;
    }

    /// <inheritdoc/>
    internal override bool MaskInputGradientByInput()
    {
        maskInputGradient = dInput is not null;
        return maskInputGradient;
    }

    /// <summary>A standard normal draw (Box-Muller).</summary>
    internal static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
