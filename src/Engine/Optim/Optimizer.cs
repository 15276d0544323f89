// Optimizers: one update launch over the model's whole parameter arena (a multi-tensor update), which also zeroes the
// gradient arena. State (momenta, Adam moments) lives in arenas laid out like the parameters' and is exposed per
// tensor, as slices, for checkpoints. Whether a step's update is applied is decided on the device (StepStatus), so
// the host never waits for the non-finite check.
using GpuNet.Engine.Layers;
using GpuNet.Kernels;

namespace GpuNet.Engine.Optim;

/// <summary>The optimizers GpuNet trains with.</summary>
public enum OptimizerKind
{
    /// <summary>Stochastic gradient descent with optional momentum and weight decay.</summary>
    Sgd,

    /// <summary>Adam with bias correction.</summary>
    Adam,
}

/// <summary>Updates a model's parameters from their accumulated gradients.</summary>
public abstract class Optimizer : IDisposable
{
    private readonly List<Tensor<float>> arenas = [];

    /// <summary>Binds the optimizer to <paramref name="model"/>'s arenas.</summary>
    protected Optimizer(KernelLibrary kernels, Sequential model)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(model);
        Kernels = kernels;
        Model = model;
    }

    /// <summary>Every state tensor with a name ("0.weight.momentum_buffer", ...), for checkpoints.</summary>
    public IReadOnlyList<(string Name, Tensor<float> Value)> State => NamedState;

    /// <summary>Device memory held by the state.</summary>
    public long DeviceBytes => arenas.Sum(t => t.SizeInBytes);

    /// <summary>The launchers the updates run on.</summary>
    protected KernelLibrary Kernels { get; }

    /// <summary>The model whose arena is updated.</summary>
    protected Sequential Model { get; }

    private List<(string Name, Tensor<float> Value)> NamedState { get; } = [];

    /// <summary>
    /// The update of step <paramref name="step"/> (1 for the first) with learning rate <paramref name="learningRate"/>:
    /// one launch over the whole arena, withheld on the device when <paramref name="status"/> marks the step bad (or,
    /// under <see cref="NonFiniteAction.Stop"/>, any earlier one); zeroes the gradients either way.
    /// </summary>
    public abstract void Step(int step, float learningRate, TensorView<int> status, NonFiniteAction action);

    /// <summary>Prepares for steps up to <paramref name="lastStep"/> (tables the update looks up on the device).</summary>
    public virtual void Prepare(int lastStep)
    {
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in arenas)
        {
            tensor.Dispose();
        }

        DisposeMore();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees what a subclass holds besides its state arenas.</summary>
    protected virtual void DisposeMore()
    {
    }

    /// <summary>Allocates one zeroed state arena laid out like the parameters', its tensors named "{parameter}.{suffix}".</summary>
    protected Tensor<float> AllocateState(string suffix)
    {
        var arena = new Tensor<float>(Kernels.Accelerator, Model.ParameterArena.Shape);
        arenas.Add(arena);
        for (int i = 0; i < Model.NamedParameters.Count; i++)
        {
            var (name, parameter) = Model.NamedParameters[i];
            NamedState.Add(($"{name}.{suffix}", arena.Slice(Model.ArenaOffsets[i], parameter.Shape)));
        }

        return arena;
    }
}

/// <summary>Stochastic gradient descent with optional momentum and weight decay (PyTorch semantics).</summary>
public sealed class Sgd : Optimizer
{
    private readonly Tensor<float> velocity;

    /// <summary>Allocates the momentum buffers of <paramref name="model"/>'s parameters.</summary>
    public Sgd(KernelLibrary kernels, Sequential model, SgdSettings settings)
        : base(kernels, model)
    {
        Settings = settings;
        velocity = AllocateState("momentum_buffer");
    }

    /// <summary>The hyperparameters (the learning rate is given per step).</summary>
    public SgdSettings Settings { get; }

    /// <inheritdoc/>
    public override void Step(int step, float learningRate, TensorView<int> status, NonFiniteAction action) =>
        Kernels.Optimizers.SgdStep(
            Model.ParameterArena, Model.GradientArena, velocity.View, Settings with { LearningRate = learningRate }, status, step, action);
}

/// <summary>Adam with bias correction (PyTorch semantics; weight decay as L2 on the gradient).</summary>
public sealed class Adam : Optimizer
{
    private readonly Tensor<float> firstMoment, secondMoment;
    private Tensor<float>? corrections;

    /// <summary>Allocates the first and second moments of <paramref name="model"/>'s parameters.</summary>
    public Adam(KernelLibrary kernels, Sequential model, AdamSettings settings)
        : base(kernels, model)
    {
        Settings = settings;
        firstMoment = AllocateState("exp_avg");
        secondMoment = AllocateState("exp_avg_sq");
    }

    /// <summary>The hyperparameters (the learning rate is given per step).</summary>
    public AdamSettings Settings { get; }

    /// <inheritdoc/>
    public override void Prepare(int lastStep)
    {
        if (corrections is not null && corrections.Capacity.Length >= 2 * (lastStep + 1))
        {
            return;
        }

        corrections?.Dispose();
        var table = Optimizers.AdamCorrections(Settings, lastStep);
        corrections = new Tensor<float>(Kernels.Accelerator, new Shape(table.Length));
        corrections.Upload(table);
    }

    /// <inheritdoc/>
    public override void Step(int step, float learningRate, TensorView<int> status, NonFiniteAction action)
    {
        if (corrections is null || corrections.Capacity.Length < 2 * (step + 1))
        {
            throw new InvalidOperationException($"Adam was prepared for fewer than {step} steps; call Prepare first.");
        }

        Kernels.Optimizers.AdamStep(
            Model.ParameterArena,
            Model.GradientArena,
            firstMoment.View,
            secondMoment.View,
            Settings with { LearningRate = learningRate },
            corrections.View,
            status,
            step,
            action);
    }

    /// <inheritdoc/>
    protected override void DisposeMore() => corrections?.Dispose();
}
