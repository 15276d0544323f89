// Layers: explicit Forward/Backward pairs. Legend: N batch, (sample) the per-sample shape.
// Invariants: every tensor a layer uses is allocated once when it is built, for the batch capacity; parameters and
// their gradients are slices of the model's two flat arenas, bound when the model is built; Forward writes the
// layer's own output and keeps what Backward needs; Backward overwrites dInput and accumulates (+=) parameter
// gradients, which the optimizer zeroes.
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>
/// A trainable tensor, its gradient (same shape) and its name within its layer (weight, bias). Its memory is a slice of
/// the model's parameter arena and its gradient a slice of the gradient arena, bound when <see cref="Sequential"/> is
/// built.
/// </summary>
public sealed class Parameter
{
    private Tensor<float>? value, gradient;
    private float[]? initial;

    internal Parameter(string name, Shape shape, float[] initial)
    {
        if (initial.Length != shape.Length)
        {
            throw new ArgumentException($"Parameter {name} of shape {shape} needs {shape.Length} initial values, got {initial.Length}.", nameof(initial));
        }

        Name = name;
        Shape = shape;
        this.initial = initial;
    }

    /// <summary>The PyTorch name within the layer: weight or bias.</summary>
    public string Name { get; }

    /// <summary>The parameter's shape.</summary>
    public Shape Shape { get; }

    /// <summary>The values.</summary>
    public Tensor<float> Value => value ?? throw Unbound();

    /// <summary>dLoss/dValue, accumulated until the optimizer zeroes it.</summary>
    public Tensor<float> Gradient => gradient ?? throw Unbound();

    /// <summary>The initial values, until the model binds the parameter to its arenas.</summary>
    internal float[] Initial => initial ?? throw new InvalidOperationException($"Parameter {Name} is already bound.");

    internal void Bind(Tensor<float> values, Tensor<float> gradients)
    {
        value = values;
        gradient = gradients;
        initial = null;
    }

    private InvalidOperationException Unbound() => new($"Parameter {Name} is not bound to a model's arena yet.");
}

/// <summary>What every layer is built with.</summary>
/// <param name="Kernels">The launchers on the model's accelerator.</param>
/// <param name="BatchCapacity">The largest batch the layer will see.</param>
/// <param name="NeedsInputGradient">False for the first layer: nothing consumes dInput, so it is not computed.</param>
/// <param name="Random">The seeded generator for initial values.</param>
/// <param name="Seed">The model's seed, for random draws during training (dropout).</param>
/// <param name="Index">The layer's index in its model.</param>
/// <param name="Clock">The training step the model is in, shared by its layers.</param>
/// <param name="Precision">The arithmetic of the layer's GEMMs (fp32, or TF32 as tensor cores compute it).</param>
public sealed record LayerContext(
    KernelLibrary Kernels, int BatchCapacity, bool NeedsInputGradient, Random Random, int Seed = 0, int Index = 0, StepClock? Clock = null, GemmPrecision Precision = GemmPrecision.Fp32);

/// <summary>The training step a model's next forward pass belongs to, and its rows' place in the global batch (random draws depend on both).</summary>
public sealed class StepClock
{
    /// <summary>The step (1 for the first).</summary>
    public int Step { get; set; }

    /// <summary>The first row's place in the global batch (a data-parallel rank's slice; 0 in one process).</summary>
    public int FirstRow { get; set; }
}

/// <summary>How much of a following ReLU a layer takes into its own kernels.</summary>
public enum ReluFusion
{
    /// <summary>None: the ReLU runs its own kernels.</summary>
    None,

    /// <summary>The forward (the layer writes max(y, 0)); the ReLU's backward still masks the gradient.</summary>
    Forward,

    /// <summary>Forward and backward (the layer's backward masks the gradient by its saved output).</summary>
    ForwardAndBackward,
}

/// <summary>A layer with an explicit forward and backward pass over preallocated tensors.</summary>
public abstract class Layer : IDisposable
{
    private readonly List<IDisposable> owned = [];
    private long ownedBytes;

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

    /// <summary>Bytes of device memory the layer holds (with the layers inside it).</summary>
    public virtual long DeviceBytes => ownedBytes;

    /// <summary>
    /// The layers inside this one with their names relative to it ("body.0"), in state_dict order; none for a plain
    /// layer.
    /// </summary>
    public virtual IReadOnlyList<(string Name, Layer Layer)> Children => [];

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

    /// <summary>
    /// Asks the layer to apply the ReLU that follows it inside its own forward (and backward) kernels; says how much it
    /// took. Called once, when the model is built.
    /// </summary>
    internal virtual ReluFusion FuseFollowingRelu() => ReluFusion.None;

    /// <summary>
    /// Whether <see cref="ForwardAdding"/> adds a tensor of the output's shape inside the layer's own output pass (a GEMM
    /// epilogue), so that a residual block whose body ends with this layer needs no addition of its own. Asked once, when
    /// the block is built.
    /// </summary>
    internal virtual bool AddsInOutputPass => false;

    /// <summary>
    /// <see cref="Forward"/> with <paramref name="addend"/> (N, output shape) added to the output in the same pass; only
    /// for a layer whose <see cref="AddsInOutputPass"/> is true. Backward is unchanged (the sum's gradient is dOutput).
    /// </summary>
    internal virtual TensorView<float> ForwardAdding(TensorView<float> input, bool training, TensorView<float> addend) =>
        throw new NotSupportedException($"{Kind} cannot add in its output pass.");

    /// <summary>
    /// Asks the layer to zero its input gradient where its input is not positive (the backward of the ReLU before it,
    /// whose output is this layer's input); true if it will. Called once, when the model is built.
    /// </summary>
    internal virtual bool MaskInputGradientByInput() => false;

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in owned)
        {
            tensor.Dispose();
        }

        owned.Clear();
        DisposeOwned();
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes what the layer holds besides its own tensors (the layers inside it).</summary>
    protected virtual void DisposeOwned()
    {
    }

    /// <summary>Allocates a tensor the layer owns.</summary>
    protected Tensor<T> Allocate<T>(Shape shape)
        where T : unmanaged
    {
        var tensor = new Tensor<T>(Kernels.Accelerator, shape);
        owned.Add(tensor);
        ownedBytes += tensor.SizeInBytes;
        return tensor;
    }

    /// <summary>Frees a tensor from <see cref="Allocate"/> that the layer will not use (a fused layer's buffers).</summary>
    protected void Release<T>(Tensor<T>? tensor)
        where T : unmanaged
    {
        if (tensor is not null && owned.Remove(tensor))
        {
            ownedBytes -= tensor.SizeInBytes;
            tensor.Dispose();
        }
    }

    /// <summary>Allocates a (batch capacity, sample...) tensor.</summary>
    protected Tensor<float> AllocateBatch(Shape sample) => Allocate<float>(Batched(sample, Context.BatchCapacity));

    /// <summary>
    /// Declares a parameter with <paramref name="initial"/> values; the model places it and its gradient in its arenas
    /// when it is built, before any Forward.
    /// </summary>
    protected static Parameter AllocateParameter(string name, Shape shape, float[] initial) => new(name, shape, initial);

    /// <summary>The shape (batch, sample dims...).</summary>
    protected static Shape Batched(Shape sample, int batch) => sample.Rank switch
    {
        1 => new Shape(batch, sample[0]),
        2 => new Shape(batch, sample[0], sample[1]),
        _ => new Shape(batch, sample[0], sample[1], sample[2]),
    };
}
