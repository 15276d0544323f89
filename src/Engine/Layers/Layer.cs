// Layers: explicit Forward/Backward pairs. Legend: N batch, (sample) the per-sample shape.
// Invariants: every tensor a layer uses is allocated once when it is built, for the batch capacity; Forward writes the
// layer's own output and keeps what Backward needs; Backward overwrites dInput and accumulates (+=) parameter
// gradients, which the optimizer zeroes.
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>A trainable tensor, its gradient (same shape) and its name within its layer (weight, bias).</summary>
public sealed class Parameter(string name, Tensor<float> value, Tensor<float> gradient)
{
    /// <summary>The PyTorch name within the layer: weight or bias.</summary>
    public string Name { get; } = name;

    /// <summary>The values.</summary>
    public Tensor<float> Value { get; } = value;

    /// <summary>dLoss/dValue, accumulated until the optimizer zeroes it.</summary>
    public Tensor<float> Gradient { get; } = gradient;
}

/// <summary>What every layer is built with.</summary>
/// <param name="Kernels">The launchers on the model's accelerator.</param>
/// <param name="BatchCapacity">The largest batch the layer will see.</param>
/// <param name="NeedsInputGradient">False for the first layer: nothing consumes dInput, so it is not computed.</param>
/// <param name="Random">The seeded generator for initial values.</param>
public sealed record LayerContext(KernelLibrary Kernels, int BatchCapacity, bool NeedsInputGradient, Random Random);

/// <summary>A layer with an explicit forward and backward pass over preallocated tensors.</summary>
public abstract class Layer : IDisposable
{
    private readonly List<IDisposable> owned = [];

    /// <summary>Records the layer's context and per-sample shapes.</summary>
    protected Layer(LayerContext context, Shape inputShape, Shape outputShape)
    {
        ArgumentNullException.ThrowIfNull(context);
        Context = context;
        InputShape = inputShape;
        OutputShape = outputShape;
    }

    /// <summary>The per-sample input shape.</summary>
    public Shape InputShape { get; }

    /// <summary>The per-sample output shape.</summary>
    public Shape OutputShape { get; }

    /// <summary>The layer's kind, as PyTorch names it (Linear, ReLU, BatchNorm1d, ...).</summary>
    public abstract string Kind { get; }

    /// <summary>Trainable parameters, in PyTorch's state_dict order.</summary>
    public virtual IReadOnlyList<Parameter> Parameters => [];

    /// <summary>Non-trainable state saved with the weights (BatchNorm's running statistics), in state_dict order.</summary>
    public virtual IReadOnlyList<(string Name, Tensor<float> Value)> Buffers => [];

    /// <summary>Bytes of device memory the layer holds.</summary>
    public long DeviceBytes { get; private set; }

    /// <summary>What the layer was built with.</summary>
    protected LayerContext Context { get; }

    /// <summary>The launchers the layer runs on.</summary>
    protected KernelLibrary Kernels => Context.Kernels;

    /// <summary>Computes the output for <paramref name="input"/> (N, input shape); training selects batch statistics.</summary>
    public abstract TensorView<float> Forward(TensorView<float> input, bool training);

    /// <summary>
    /// From dOutput (N, output shape) of the last Forward: accumulates parameter gradients and returns dInput, or null
    /// when the layer was built without input gradients.
    /// </summary>
    public abstract TensorView<float>? Backward(TensorView<float> dOutput);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in owned)
        {
            tensor.Dispose();
        }

        owned.Clear();
        GC.SuppressFinalize(this);
    }

    /// <summary>Allocates a tensor the layer owns.</summary>
    protected Tensor<T> Allocate<T>(Shape shape)
        where T : unmanaged
    {
        var tensor = new Tensor<T>(Kernels.Accelerator, shape);
        owned.Add(tensor);
        DeviceBytes += tensor.SizeInBytes;
        return tensor;
    }

    /// <summary>Allocates a (batch capacity, sample...) tensor.</summary>
    protected Tensor<float> AllocateBatch(Shape sample) => Allocate<float>(Batched(sample, Context.BatchCapacity));

    /// <summary>Allocates a parameter and its gradient, uploading <paramref name="initial"/>.</summary>
    protected Parameter AllocateParameter(string name, Shape shape, float[] initial)
    {
        var value = Allocate<float>(shape);
        value.Upload(initial);
        return new Parameter(name, value, Allocate<float>(shape));
    }

    /// <summary>The shape (batch, sample dims...).</summary>
    protected static Shape Batched(Shape sample, int batch) => sample.Rank switch
    {
        1 => new Shape(batch, sample[0]),
        2 => new Shape(batch, sample[0], sample[1]),
        _ => new Shape(batch, sample[0], sample[1], sample[2]),
    };
}
