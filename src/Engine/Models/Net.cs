// The model file's layers as C# calls, for networks built in code: Net.Conv2d(32, 3, padding: 1, bias: false) is
// {"type": "conv2d", "out": 32, "kernel": 3, "padding": 1, "bias": false}. Arguments are checked as the file's fields are.
using GpuNet.Kernels;

namespace GpuNet.Engine.Models;

/// <summary>One factory per model-file layer type, with the file's defaults; a list of them makes a <see cref="ModelDefinition"/>.</summary>
public static class Net
{
    /// <summary>An output size that means the data set's class count ("out": "classes").</summary>
    public const int Classes = LayerPlan.ClassCount;

    /// <summary>A fully connected layer to <paramref name="outFeatures"/> (<see cref="Classes"/>: the data set's classes).</summary>
    public static LayerPlan Linear(int outFeatures, bool bias = true) => new LayerPlan(LayerKind.Linear, Positive(outFeatures, nameof(outFeatures), classes: true), Bias: bias);

    /// <summary>A 2-D convolution to <paramref name="outChannels"/> with a square kernel.</summary>
    public static LayerPlan Conv2d(int outChannels, int kernel, int stride = 1, int padding = 0, bool bias = true) =>
        new(LayerKind.Conv2d, Positive(outChannels, nameof(outChannels), classes: true), WindowOf(kernel, stride, padding), bias);

    /// <summary>Batch normalization.</summary>
    public static LayerPlan BatchNorm() => new LayerPlan(LayerKind.BatchNorm);

    /// <summary>ReLU.</summary>
    public static LayerPlan Relu() => new LayerPlan(LayerKind.Relu);

    /// <summary>GELU (exact).</summary>
    public static LayerPlan Gelu() => new LayerPlan(LayerKind.Gelu);

    /// <summary>Max pooling; the stride defaults to the kernel.</summary>
    public static LayerPlan MaxPool2d(int kernel, int? stride = null, int padding = 0) => new LayerPlan(LayerKind.MaxPool2d, 0, WindowOf(kernel, stride ?? kernel, padding));

    /// <summary>Average pooling (padding counted as zeros); the stride defaults to the kernel.</summary>
    public static LayerPlan AvgPool2d(int kernel, int? stride = null, int padding = 0) => new LayerPlan(LayerKind.AvgPool2d, 0, WindowOf(kernel, stride ?? kernel, padding));

    /// <summary>Global average pooling to (C, 1, 1).</summary>
    public static LayerPlan GlobalAvgPool() => new LayerPlan(LayerKind.GlobalAvgPool);

    /// <summary>Flatten to (features).</summary>
    public static LayerPlan Flatten() => new LayerPlan(LayerKind.Flatten);

    /// <summary>Inverted dropout with drop probability <paramref name="p"/> in [0, 1).</summary>
    public static LayerPlan Dropout(double p) => p is >= 0 and < 1
        ? new LayerPlan(LayerKind.Dropout, Probability: p)
        : throw new ArgumentOutOfRangeException(nameof(p), p, "a dropout probability is in [0, 1).");

    /// <summary>A residual block: body(x) + shortcut(x); no shortcut layers mean the identity.</summary>
    public static LayerPlan Residual(IReadOnlyList<LayerPlan> body, IReadOnlyList<LayerPlan>? shortcut = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return body.Count == 0
            ? throw new ArgumentException("a residual block's body has at least one layer.", nameof(body))
            : new LayerPlan(LayerKind.Residual, Body: body, Shortcut: shortcut is { Count: > 0 } ? shortcut : null);
    }

    private static int Positive(int value, string name, bool classes = false) =>
        value > 0 || (classes && value == Classes) ? value : throw new ArgumentOutOfRangeException(name, value, "must be positive.");

    private static Window WindowOf(int kernel, int stride, int padding) =>
        padding >= 0 ? new Window(Positive(kernel, nameof(kernel)), Positive(stride, nameof(stride)), padding)
        : throw new ArgumentOutOfRangeException(nameof(padding), padding, "must not be negative.");
}
