// A chain of layers built for one input shape and batch capacity: Forward runs them in order, Backward in reverse.
// Parameter names follow PyTorch's nn.Sequential state_dict: "{layer index}.{name}".
// Every parameter lives in one flat parameter arena and its gradient at the same offset in one flat gradient arena
// (each tensor starts at a multiple of ArenaAlignment elements; the gaps stay zero), so the non-finite check and the
// optimizer each run as one launch over the whole model. One more element after the gradients holds the step's batch
// loss, so that data-parallel ranks sum gradients and loss in one all-reduce and check the same values.
using GpuNet.Kernels;

namespace GpuNet.Engine.Layers;

/// <summary>Layers applied in order, all allocated when built, their parameters in one flat arena.</summary>
public sealed class Sequential : IDisposable
{
    /// <summary>Every parameter tensor starts at a multiple of this many elements of the arenas (256 bytes).</summary>
    public const int ArenaAlignment = 64;

    private readonly List<Layer> layers;
    private readonly StepClock clock;
    private readonly Tensor<float> parameterArena, gradientArena;
    private readonly Tensor<int> arenaOffsets;

    private Sequential(KernelLibrary kernels, Shape inputShape, int batchCapacity, List<Layer> layers, StepClock clock)
    {
        this.clock = clock;
        InputShape = inputShape;
        BatchCapacity = batchCapacity;
        this.layers = layers;
        var leaves = new List<(string, Layer)>();
        for (int i = 0; i < layers.Count; i++)
        {
            AddLeaves(leaves, $"{i}", layers[i]);
        }

        NamedLayers = leaves;
        var named = new List<(string, Parameter)>();
        var buffers = new List<(string, Tensor<float>)>();
        foreach (var (path, layer) in leaves)
        {
            named.AddRange(layer.Parameters.Select(p => ($"{path}.{p.Name}", p)));
            buffers.AddRange(layer.Buffers.Select(b => ($"{path}.{b.Name}", b.Value)));
        }

        NamedParameters = named;
        NamedBuffers = buffers;

        var offsets = new int[named.Count + 1];
        long length = 0;
        for (int i = 0; i < named.Count; i++)
        {
            offsets[i] = (int)length;
            length += (named[i].Item2.Shape.Length + ArenaAlignment - 1) / ArenaAlignment * ArenaAlignment;
            if (length > int.MaxValue)
            {
                throw new ArgumentException($"The model's parameters need {length} elements, more than one arena holds ({int.MaxValue}).");
            }
        }

        offsets[^1] = (int)length;
        ArenaOffsets = offsets;
        var arena = new Shape((int)length);
        parameterArena = new Tensor<float>(kernels.Accelerator, arena);
        gradientArena = new Tensor<float>(kernels.Accelerator, new Shape((int)length + 1 + Optimizers.CarriedFlags));
        arenaOffsets = new Tensor<int>(kernels.Accelerator, new Shape(offsets.Length));
        arenaOffsets.Upload(offsets);
        var initial = new float[length];
        for (int i = 0; i < named.Count; i++)
        {
            var parameter = named[i].Item2;
            parameter.Initial.CopyTo(initial, offsets[i]);
            parameter.Bind(parameterArena.Slice(offsets[i], parameter.Shape), gradientArena.Slice(offsets[i], parameter.Shape));
        }

        parameterArena.Upload(initial);
    }

    /// <summary>The per-sample input shape.</summary>
    public Shape InputShape { get; }

    /// <summary>The per-sample output shape (the logits).</summary>
    public Shape OutputShape => layers[^1].OutputShape;

    /// <summary>The largest batch it takes.</summary>
    public int BatchCapacity { get; }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Layer> Layers => layers;

    /// <summary>
    /// Every layer that holds no layers, with its state_dict path ("0", "3.body.1", ...), in order: the top-level layers,
    /// a residual block's in its place.
    /// </summary>
    public IReadOnlyList<(string Path, Layer Layer)> NamedLayers { get; }

    /// <summary>Every parameter with its state_dict name ("0.weight", "3.body.0.weight", ...), in order.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> NamedParameters { get; }

    /// <summary>Every non-trainable saved tensor ("1.running_mean", ...), in order.</summary>
    public IReadOnlyList<(string Name, Tensor<float> Value)> NamedBuffers { get; }

    /// <summary>The training step the next forward pass belongs to (dropout draws depend on it).</summary>
    public int Step
    {
        get => clock.Step;
        set => clock.Step = value;
    }

    /// <summary>The first row's place in the global batch (a data-parallel rank's slice; dropout draws depend on it).</summary>
    public int FirstRow
    {
        get => clock.FirstRow;
        set => clock.FirstRow = value;
    }

    /// <summary>Trainable parameter count.</summary>
    public long ParameterCount => NamedParameters.Sum(p => (long)p.Parameter.Shape.Length);

    /// <summary>Every parameter, each at its offset (see <see cref="ArenaOffsets"/>), alignment gaps zero.</summary>
    public TensorView<float> ParameterArena => parameterArena.View;

    /// <summary>Every parameter's gradient, at the same offsets as <see cref="ParameterArena"/>.</summary>
    public TensorView<float> GradientArena => gradientArena.View.Slice(0, ParameterArena.Shape);

    /// <summary>
    /// The gradients and, after them, the step's batch loss sum and the carried flags: what data-parallel ranks sum.
    /// </summary>
    public TensorView<float> ReductionArena => gradientArena.View;

    /// <summary>The batch loss sum's element, after the gradients.</summary>
    public TensorView<float> LossSlot => gradientArena.View.Slice(ParameterArena.Length, new Shape(1));

    /// <summary>
    /// The two flags after the loss that ride in the ranks' sum (a stop request on the device path; see
    /// <see cref="Optimizers.CheckFinite"/>), zero until a step's check writes them.
    /// </summary>
    public TensorView<float> CarriedSlots => gradientArena.View.Slice(ParameterArena.Length + 1, new Shape(Optimizers.CarriedFlags));

    /// <summary>Where parameter t starts in the arenas, then the arenas' length (host copy).</summary>
    public IReadOnlyList<int> ArenaOffsets { get; }

    /// <summary><see cref="ArenaOffsets"/> on the device, for the non-finite check.</summary>
    public TensorView<int> ArenaOffsetsOnDevice => arenaOffsets.View;

    /// <summary>Device memory held by the layers and the arenas.</summary>
    public long DeviceBytes => layers.Sum(l => l.DeviceBytes) + parameterArena.SizeInBytes + gradientArena.SizeInBytes + arenaOffsets.SizeInBytes;

    /// <summary>Runs every layer; returns the logits (N, output shape).</summary>
    public TensorView<float> Forward(TensorView<float> input, bool training)
    {
        if (input.Shape.Length != input.Shape[0] * InputShape.Length || input.Shape[0] > BatchCapacity)
        {
            throw new ArgumentException($"Model input {input.Shape} does not fit samples of {InputShape} with batch capacity {BatchCapacity}.", nameof(input));
        }

        var x = input;
        foreach (var layer in layers)
        {
            x = layer.Forward(x, training);
        }

        return x;
    }

    /// <summary>Back-propagates dLogits through every layer, accumulating parameter gradients.</summary>
    public void Backward(TensorView<float> dLogits)
    {
        var d = dLogits;
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            if (layers[i].Backward(d) is not { } next)
            {
                return;
            }

            d = next;
        }
    }

    private static void AddLeaves(List<(string, Layer)> leaves, string path, Layer layer)
    {
        if (layer.Children.Count == 0)
        {
            leaves.Add((path, layer));
            return;
        }

        foreach (var (name, child) in layer.Children)
        {
            AddLeaves(leaves, $"{path}.{name}", child);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var layer in layers)
        {
            layer.Dispose();
        }

        parameterArena.Dispose();
        gradientArena.Dispose();
        arenaOffsets.Dispose();
    }

    /// <summary>
    /// Builds a <see cref="Sequential"/> one layer at a time, tracking the shape; its layers' GEMMs compute in
    /// <paramref name="precision"/>.
    /// </summary>
    public sealed class Builder(KernelLibrary kernels, Shape inputShape, int batchCapacity, Random random, int seed = 0, GemmPrecision precision = GemmPrecision.Fp32)
    {
        // Layers inside residual blocks draw their dropout streams from here on, apart from the top-level indices.
        private const int NestedStreams = 1 << 20;

        private readonly List<Layer> layers = [];
        private readonly Shape modelInput = inputShape;
        private StepClock clock = new();
        private int[] nestedCount = [0];
        private bool nested, firstNeedsInputGradient;

        /// <summary>The per-sample shape the next layer receives.</summary>
        public Shape Shape { get; private set; } = inputShape;

        /// <summary>Appends the layer <paramref name="create"/> makes for the current shape.</summary>
        public Builder Add(Func<LayerContext, Shape, Layer> create)
        {
            ArgumentNullException.ThrowIfNull(create);
            try
            {
                bool needsInputGradient = layers.Count > 0 || firstNeedsInputGradient;
                int index = nested ? NestedStreams + nestedCount[0]++ : layers.Count;
                var context = new LayerContext(kernels, batchCapacity, needsInputGradient, random, seed, index, clock, precision);
                var layer = create(context, Shape);
                layers.Add(layer);
                Shape = layer.OutputShape;
                return this;
            }
            catch
            {
                DisposeLayers();
                throw;
            }
        }

        /// <summary>Appends a <see cref="Layers.Linear"/> layer (without a bias when <paramref name="bias"/> is false).</summary>
        public Builder Linear(int outFeatures, WeightInit init, bool bias = true) => Add((c, s) => new Linear(c, s, outFeatures, init, bias));

        /// <summary>Appends a <see cref="Layers.Relu"/> layer.</summary>
        public Builder Relu() => Add((c, s) => new Relu(c, s));

        /// <summary>Appends a <see cref="Layers.Gelu"/> layer.</summary>
        public Builder Gelu() => Add((c, s) => new Gelu(c, s));

        /// <summary>Appends a <see cref="Layers.BatchNorm"/> layer.</summary>
        public Builder BatchNorm() => Add((c, s) => new BatchNorm(c, s));

        /// <summary>Appends a <see cref="Layers.Conv2d"/> layer (without a bias when <paramref name="bias"/> is false).</summary>
        public Builder Conv2d(int outChannels, Window window, WeightInit init, bool bias = true) => Add((c, s) => new Conv2d(c, s, outChannels, window, init, bias));

        /// <summary>Appends a <see cref="Layers.MaxPool2d"/> layer.</summary>
        public Builder MaxPool2d(Window window) => Add((c, s) => new MaxPool2d(c, s, window));

        /// <summary>Appends an <see cref="Layers.AvgPool2d"/> layer.</summary>
        public Builder AvgPool2d(Window window) => Add((c, s) => new AvgPool2d(c, s, window));

        /// <summary>Appends a <see cref="Layers.GlobalAvgPool"/> layer.</summary>
        public Builder GlobalAvgPool() => Add((c, s) => new GlobalAvgPool(c, s));

        /// <summary>Appends a <see cref="Layers.Dropout"/> layer.</summary>
        public Builder Dropout(double probability) => Add((c, s) => new Dropout(c, s, probability));

        /// <summary>Appends a <see cref="Layers.Flatten"/> layer.</summary>
        public Builder Flatten() => Add((c, s) => new Flatten(c, s));

        /// <summary>
        /// Appends a <see cref="Layers.Residual"/> block: <paramref name="body"/> and <paramref name="shortcut"/> (none:
        /// the identity) each add their layers to a builder that starts at the current shape.
        /// </summary>
        public Builder Residual(Action<Builder> body, Action<Builder>? shortcut = null)
        {
            ArgumentNullException.ThrowIfNull(body);
            return Add((c, s) =>
            {
                var bodyBuilder = Branch(c, s);
                var shortcutBuilder = Branch(c, s);
                try
                {
                    body(bodyBuilder);
                    shortcut?.Invoke(shortcutBuilder);
                    return new Residual(c, s, bodyBuilder.Finish(), shortcutBuilder.Finish());
                }
                catch
                {
                    bodyBuilder.DisposeLayers();
                    shortcutBuilder.DisposeLayers();
                    throw;
                }
            });
        }

        /// <summary>
        /// The finished model, its parameters placed in its arenas and each ReLU fused into the layer before it where
        /// that layer can apply it (and its backward into the layer after, where that one can mask its input gradient);
        /// the builder must not be used after.
        /// </summary>
        public Sequential Build()
        {
            try
            {
                return new Sequential(kernels, modelInput, batchCapacity, Finish(), clock);
            }
            catch
            {
                DisposeLayers();
                throw;
            }
        }

        private Builder Branch(LayerContext context, Shape shape) =>
            new(kernels, shape, batchCapacity, random, seed, precision)
            {
                clock = clock,
                nestedCount = nestedCount,
                nested = true,
                firstNeedsInputGradient = context.NeedsInputGradient,
            };

        /// <summary>The layers with their ReLUs fused (see <see cref="Build"/>).</summary>
        private List<Layer> Finish()
        {
            for (int i = 1; i < layers.Count; i++)
            {
                if (layers[i] is Relu relu && layers[i - 1].FuseFollowingRelu() is var fusion and not ReluFusion.None)
                {
                    bool consumerMasks = fusion == ReluFusion.Forward && i + 1 < layers.Count && layers[i + 1].MaskInputGradientByInput();
                    relu.Fuse(backward: fusion == ReluFusion.ForwardAndBackward || consumerMasks);
                }
            }

            return layers;
        }

        private void DisposeLayers()
        {
            foreach (var layer in layers)
            {
                layer.Dispose();
            }

            layers.Clear();
        }
    }
}
