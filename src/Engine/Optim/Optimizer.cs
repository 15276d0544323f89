// Optimizers: one update launch per parameter tensor, which also zeroes its gradient. State tensors (momenta, Adam
// moments) are allocated once, beside the parameters, and exposed for checkpoints.
using GpuNet.Engine.Layers;
using GpuNet.Kernels;

namespace GpuNet.Engine.Optim;

/// <summary>Updates a model's parameters from their accumulated gradients.</summary>
public abstract class Optimizer : IDisposable
{
    private readonly List<Tensor<float>> state = [];

    /// <summary>Binds the optimizer to <paramref name="parameters"/>.</summary>
    protected Optimizer(KernelLibrary kernels, IReadOnlyList<(string Name, Parameter Parameter)> parameters)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(parameters);
        Kernels = kernels;
        Parameters = parameters;
    }

    /// <summary>Updates applied so far.</summary>
    public long Steps { get; set; }

    /// <summary>Every state tensor with a name ("0.weight.momentum", ...), for checkpoints.</summary>
    public IReadOnlyList<(string Name, Tensor<float> Value)> State => NamedState;

    /// <summary>Device memory held by the state.</summary>
    public long DeviceBytes => state.Sum(t => t.SizeInBytes);

    /// <summary>The launchers the updates run on.</summary>
    protected KernelLibrary Kernels { get; }

    /// <inheritdoc/>
    protected IReadOnlyList<(string Name, Parameter Parameter)> Parameters { get; }

    private List<(string Name, Tensor<float> Value)> NamedState { get; } = [];

    /// <summary>Applies one update to every parameter and zeroes the gradients.</summary>
    public void Step()
    {
        Steps++;
        for (int i = 0; i < Parameters.Count; i++)
        {
            Update(i, Parameters[i].Parameter);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in state)
        {
            tensor.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Updates parameter <paramref name="index"/>.</summary>
    protected abstract void Update(int index, Parameter parameter);

    /// <summary>Allocates one zeroed state tensor per parameter, named "{parameter}.{suffix}".</summary>
    protected Tensor<float>[] AllocateState(string suffix)
    {
        var tensors = new Tensor<float>[Parameters.Count];
        for (int i = 0; i < tensors.Length; i++)
        {
            tensors[i] = new Tensor<float>(Kernels.Accelerator, Parameters[i].Parameter.Value.Capacity);
            state.Add(tensors[i]);
            NamedState.Add(($"{Parameters[i].Name}.{suffix}", tensors[i]));
        }

        return tensors;
    }
}

/// <summary>Stochastic gradient descent with optional momentum and weight decay (PyTorch semantics).</summary>
public sealed class Sgd : Optimizer
{
    private readonly Tensor<float>[] velocity;

    /// <summary>Allocates the momentum buffers of <paramref name="parameters"/>.</summary>
    public Sgd(KernelLibrary kernels, IReadOnlyList<(string Name, Parameter Parameter)> parameters, SgdSettings settings)
        : base(kernels, parameters)
    {
        Settings = settings;
        velocity = AllocateState("momentum_buffer");
    }

    /// <summary>The hyperparameters.</summary>
    public SgdSettings Settings { get; }

    /// <inheritdoc/>
    protected override void Update(int index, Parameter parameter) =>
        Kernels.Optimizers.SgdStep(parameter.Value.View, parameter.Gradient.View, velocity[index].View, Settings);
}

/// <summary>Adam with bias correction (PyTorch semantics; weight decay as L2 on the gradient).</summary>
public sealed class Adam : Optimizer
{
    private readonly Tensor<float>[] firstMoment, secondMoment;

    /// <summary>Allocates the first and second moments of <paramref name="parameters"/>.</summary>
    public Adam(KernelLibrary kernels, IReadOnlyList<(string Name, Parameter Parameter)> parameters, AdamSettings settings)
        : base(kernels, parameters)
    {
        Settings = settings;
        firstMoment = AllocateState("exp_avg");
        secondMoment = AllocateState("exp_avg_sq");
    }

    /// <summary>The hyperparameters.</summary>
    public AdamSettings Settings { get; }

    /// <inheritdoc/>
    protected override void Update(int index, Parameter parameter) =>
        Kernels.Optimizers.AdamStep(
            parameter.Value.View, parameter.Gradient.View, firstMoment[index].View, secondMoment[index].View, Settings, Steps);
}
