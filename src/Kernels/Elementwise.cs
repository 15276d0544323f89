// Elementwise kernels: ReLU and GELU forward/backward, addition, bias add and its gradient, fill, inverted dropout
// forward/backward. ReLU keeps NaN (max(NaN, 0) is NaN, as in PyTorch); its backward passes the gradient where the
// output is positive. GELU is PyTorch's exact form, x * Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2; its backward is
// dy * (Phi(x) + x * phi(x)), phi the standard normal density; erf by a rational Chebyshev fit (relative error below
// 1.2e-7).
// Dropout (training): keep element i when CounterRandom.Uniform(Key(seed, step, stream), i) >= p, scaling kept values by
// 1 / (1 - p); the backward recomputes the same draw, so no mask is stored.
// Layout legend: (outer, channels, inner) is (N, C, 1) for an (N, C) tensor and (N, C, H * W) for an (N, C, H, W) one.
// Activation gradients are overwritten; parameter gradients (dBias) accumulate with +=.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>(outer, channels, inner) of a tensor whose channel is dimension 1.</summary>
internal readonly record struct ChannelLayout(int Outer, int Channels, int Inner)
{
    /// <summary>Elements per channel: outer * inner.</summary>
    public int PerChannel => Outer * Inner;

    /// <summary>The flat index of element <paramref name="e"/> (0 .. PerChannel) of channel <paramref name="channel"/>.</summary>
    public int Index(int channel, int e) => ((e / Inner) * Channels * Inner) + (channel * Inner) + (e % Inner);

    /// <summary>The channel of flat index <paramref name="index"/>.</summary>
    public int ChannelOf(int index) => (index / Inner) % Channels;
}

/// <summary>Which random draws a dropout launch uses: the run's seed, the step and the layer's stream.</summary>
/// <param name="Seed">The run's seed.</param>
/// <param name="Step">The training step.</param>
/// <param name="Stream">The layer's own stream (its index in the model).</param>
/// <param name="IndexOffset">
/// Added to an element's index before its draw: a data-parallel rank's first element in the global batch, so the ranks
/// draw what one process would.
/// </param>
public readonly record struct DropoutDraw(int Seed, int Step, int Stream, int IndexOffset = 0)
{
    /// <summary>The key of the launch's draws.</summary>
    public uint Key => CounterRandom.Key(Seed, Step, Stream);
}

/// <summary>ReLU, bias add, bias gradient, fill and dropout.</summary>
public sealed class Elementwise
{
    private readonly LaunchPolicy policy;
    private readonly ItemKernel<ReluForwardOp> reluForward;
    private readonly ItemKernel<ReluBackwardOp> reluBackward;
    private readonly ItemKernel<BiasAddOp> biasAdd;
    private readonly ItemKernel<FillOp> fill;
    private readonly ItemKernel<DropoutOp> dropout;
    private readonly ItemKernel<GeluForwardOp> geluForward;
    private readonly ItemKernel<GeluBackwardOp> geluBackward;
    private readonly ItemKernel<AddOp> add;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ChannelLayout> biasGradient;

    internal Elementwise(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        reluForward = new(accelerator, policy);
        reluBackward = new(accelerator, policy);
        biasAdd = new(accelerator, policy);
        fill = new(accelerator, policy);
        dropout = new(accelerator, policy);
        geluForward = new(accelerator, policy);
        geluBackward = new(accelerator, policy);
        add = new(accelerator, policy);
        biasGradient = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ChannelLayout>(BiasGradientKernel);
    }

    /// <summary>output[i] = GELU(input[i]) = input[i] * Phi(input[i]).</summary>
    public void GeluForward(TensorView<float> output, TensorView<float> input)
    {
        Check.SameShape(output, nameof(output), input, nameof(input));
        geluForward.Launch(new GeluForwardOp(output.Data, input.Data), input.Length);
    }

    /// <summary>dInput[i] = dOutput[i] * GELU'(input[i]), input being the forward's input.</summary>
    public void GeluBackward(TensorView<float> dInput, TensorView<float> dOutput, TensorView<float> input)
    {
        Check.SameShape(dInput, nameof(dInput), dOutput, nameof(dOutput));
        Check.SameShape(input, nameof(input), dOutput, nameof(dOutput));
        geluBackward.Launch(new GeluBackwardOp(dInput.Data, dOutput.Data, input.Data), dInput.Length);
    }

    /// <summary>output[i] = a[i] + b[i] (a residual block's sum, and its input gradient from both branches).</summary>
    public void Add(TensorView<float> output, TensorView<float> a, TensorView<float> b)
    {
        Check.SameShape(a, nameof(a), output, nameof(output));
        Check.SameShape(b, nameof(b), output, nameof(output));
        add.Launch(new AddOp(output.Data, a.Data, b.Data), output.Length);
    }

    /// <summary>output[i] = max(input[i], 0), NaN kept. The two may be the same tensor.</summary>
    public void ReluForward(TensorView<float> output, TensorView<float> input)
    {
        Check.SameShape(output, nameof(output), input, nameof(input));
        reluForward.Launch(new ReluForwardOp(output.Data, input.Data), input.Length);
    }

    /// <summary>dInput[i] = output[i] &gt; 0 ? dOutput[i] : 0, from the saved forward output. dInput may be dOutput.</summary>
    public void ReluBackward(TensorView<float> dInput, TensorView<float> dOutput, TensorView<float> output)
    {
        Check.SameShape(dInput, nameof(dInput), dOutput, nameof(dOutput));
        Check.SameShape(output, nameof(output), dOutput, nameof(dOutput));
        reluBackward.Launch(new ReluBackwardOp(dInput.Data, dOutput.Data, output.Data), dInput.Length);
    }

    /// <summary>output[n, c, ...] += bias[c] for an (N, C) or (N, C, H, W) output.</summary>
    public void BiasAdd(TensorView<float> output, TensorView<float> bias)
    {
        var (outer, channels, inner) = Check.ChannelLayout(output, nameof(output));
        Check.Shape(bias, new Shape(channels), nameof(bias));
        biasAdd.Launch(new BiasAddOp(output.Data, bias.Data, new ChannelLayout(outer, channels, inner)), output.Length);
    }

    /// <summary>dBias[c] += sum over n (and h, w) of dOutput[n, c, ...], summed in a fixed order.</summary>
    public void BiasGradient(TensorView<float> dBias, TensorView<float> dOutput)
    {
        var (outer, channels, inner) = Check.ChannelLayout(dOutput, nameof(dOutput));
        Check.Shape(dBias, new Shape(channels), nameof(dBias));
        if (channels == 0)
        {
            return;
        }

        var config = policy.PerGroup(channels);
        if (policy.Launch("BiasGradient", config, LaunchPolicy.ReduceSharedBytes))
        {
            biasGradient(config, dBias.Data, dOutput.Data, new ChannelLayout(outer, channels, inner));
        }
    }

    /// <summary>
    /// Inverted dropout: output[i] = input[i] / (1 - p) where the draw for (seed, step, stream, i) is at least p, else 0.
    /// The backward is the same call with dOutput as input and dInput as output (the same draws). The two may be the
    /// same tensor.
    /// </summary>
    public void Dropout(TensorView<float> output, TensorView<float> input, float probability, DropoutDraw draw)
    {
        Check.SameShape(output, nameof(output), input, nameof(input));
        if (!(probability >= 0f && probability < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), $"Dropout probability must be in [0, 1), got {probability}.");
        }

        dropout.Launch(new DropoutOp(output.Data, input.Data, probability, 1f / (1f - probability), draw.Key, draw.IndexOffset), input.Length);
    }

    /// <summary>Sets every element of <paramref name="output"/> to <paramref name="value"/>.</summary>
    public void Fill(TensorView<float> output, float value) => fill.Launch(new FillOp(output.Data, value), output.Length);

    /// <summary>One group per channel: each thread sums a strided share, then the group sums in a fixed tree.</summary>
    [GpuKernel]
    internal static void BiasGradientKernel(ArrayView<float> dBias, ArrayView<float> dOutput, ChannelLayout layout)
    {
        var scratch = SharedMemory.Allocate<float>(LaunchPolicy.MaxReduceGroupSize);
        int channel = Grid.IdxX, count = layout.PerChannel, stride = Group.DimX;
        float sum = 0f;
        for (int e = Group.IdxX; e < count; e += stride)
        {
            sum += dOutput[layout.Index(channel, e)];
        }

        sum = KernelSupport.GroupSum(scratch, sum);
        if (Group.IdxX == 0)
        {
            dBias[channel] += sum;
        }
    }

    internal readonly record struct ReluForwardOp(ArrayView<float> Output, ArrayView<float> Input) : IItemOp
    {
        public void Apply(int index)
        {
            float x = Input[index];
            Output[index] = x <= 0f ? 0f : x;
        }
    }

    internal readonly record struct GeluForwardOp(ArrayView<float> Output, ArrayView<float> Input) : IItemOp
    {
        public void Apply(int index)
        {
            float x = Input[index];
            Output[index] = x * NormalCdf(x);
        }
    }

    internal readonly record struct GeluBackwardOp(ArrayView<float> DInput, ArrayView<float> DOutput, ArrayView<float> Input) : IItemOp
    {
        public void Apply(int index)
        {
            float x = Input[index];
            DInput[index] = DOutput[index] * (NormalCdf(x) + (x * InverseSqrtTwoPi * MathF.Exp(-0.5f * x * x)));
        }
    }

    internal readonly record struct AddOp(ArrayView<float> Output, ArrayView<float> A, ArrayView<float> B) : IItemOp
    {
        public void Apply(int index) => Output[index] = A[index] + B[index];
    }

    internal readonly record struct ReluBackwardOp(ArrayView<float> DInput, ArrayView<float> DOutput, ArrayView<float> Output) : IItemOp
    {
        public void Apply(int index) => DInput[index] = Output[index] > 0f ? DOutput[index] : 0f;
    }

    internal readonly record struct BiasAddOp(ArrayView<float> Output, ArrayView<float> Bias, ChannelLayout Layout) : IItemOp
    {
        public void Apply(int index) => Output[index] += Bias[Layout.ChannelOf(index)];
    }

    internal readonly record struct DropoutOp(ArrayView<float> Output, ArrayView<float> Input, float P, float Scale, uint Key, int Offset) : IItemOp
    {
        public void Apply(int index) => Output[index] = CounterRandom.Uniform(Key, index + Offset) >= P ? Input[index] * Scale : 0f;
    }

    /// <summary>1 / sqrt(2 pi).</summary>
    internal const float InverseSqrtTwoPi = 0.398942280401432678f;

    /// <summary>Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal distribution function.</summary>
    internal static float NormalCdf(float x) => 0.5f * (1f + Erf(x * 0.707106781186547524f));

    /// <summary>erf(x) from erfc's rational Chebyshev fit (relative error of erfc below 1.2e-7); NaN stays NaN.</summary>
    internal static float Erf(float x)
    {
        float z = MathF.Abs(x), t = 1f / (1f + (0.5f * z));
        float poly = -1.26551223f + (t * (1.00002368f + (t * (0.37409196f + (t * (0.09678418f + (t * (-0.18628806f
            + (t * (0.27886807f + (t * (-1.13520398f + (t * (1.48851587f + (t * (-0.82215223f + (t * 0.17087277f)))))))))))))))));
        float erfc = t * MathF.Exp((-z * z) + poly);
        return x >= 0f ? 1f - erfc : x < 0f ? erfc - 1f : x;
    }

    internal readonly record struct FillOp(ArrayView<float> Output, float Value) : IItemOp
    {
        public void Apply(int index) => Output[index] = Value;
    }
}
