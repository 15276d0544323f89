// Model files, format 1: {"format": 1, "name": N, "init": I?, "layers": [layer...]} (README, "Your own network").
// A layer is {"type": T, fields...}; every field is checked (an unknown field is an error, so a typo never passes) and
// every error names the layer by its path (layers[3].body[1]). Check() infers each layer's shape from the data set's
// sample shape before anything is allocated. ToJson() writes the canonical form (one layer per line, default fields
// left out) that checkpoints store and `gpunet models show` prints; Parse(ToJson()) gives the same definition back.
using System.Globalization;
using System.Text;
using System.Text.Json;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Runs;
using GpuNet.Kernels;

namespace GpuNet.Engine.Models;

/// <summary>The kinds of layer a model is made of.</summary>
public enum LayerKind
{
    /// <summary>A fully connected layer.</summary>
    Linear,
    /// <summary>Batch normalization (1-D or 2-D by the input).</summary>
    BatchNorm,
    /// <summary>ReLU.</summary>
    Relu,
    /// <summary>A 2-D convolution.</summary>
    Conv2d,
    /// <summary>Max pooling.</summary>
    MaxPool2d,
    /// <summary>Average pooling.</summary>
    AvgPool2d,
    /// <summary>Flatten to (N, features).</summary>
    Flatten,
    /// <summary>Inverted dropout (identity at evaluation).</summary>
    Dropout,
    /// <summary>GELU, exact (erf) form.</summary>
    Gelu,
    /// <summary>Global average pooling to (C, 1, 1).</summary>
    GlobalAvgPool,
    /// <summary>body(x) + shortcut(x).</summary>
    Residual,
}

/// <summary>
/// One layer of a model: its kind, its output features or channels (<see cref="ClassCount"/>: the data set's classes),
/// its window, whether it has a bias, its dropout probability, and a residual block's branches.
/// </summary>
public sealed record LayerPlan(
    LayerKind Kind,
    int Size = 0,
    Window Window = default,
    bool Bias = true,
    double Probability = 0,
    IReadOnlyList<LayerPlan>? Body = null,
    IReadOnlyList<LayerPlan>? Shortcut = null)
{
    /// <summary>The <see cref="Size"/> of a layer whose width is the data set's class count ("out": "classes").</summary>
    public const int ClassCount = -1;

    /// <summary>The file format's name of each kind.</summary>
    public static readonly IReadOnlyDictionary<LayerKind, string> TypeNames = new Dictionary<LayerKind, string>
    {
        [LayerKind.Linear] = "linear",
        [LayerKind.Conv2d] = "conv2d",
        [LayerKind.BatchNorm] = "batchnorm",
        [LayerKind.Relu] = "relu",
        [LayerKind.Gelu] = "gelu",
        [LayerKind.MaxPool2d] = "maxpool2d",
        [LayerKind.AvgPool2d] = "avgpool2d",
        [LayerKind.GlobalAvgPool] = "global_avgpool",
        [LayerKind.Flatten] = "flatten",
        [LayerKind.Dropout] = "dropout",
        [LayerKind.Residual] = "residual",
    };

    /// <summary>The body's layers (none unless a residual block).</summary>
    public IReadOnlyList<LayerPlan> BodyLayers => Body ?? [];

    /// <summary>The shortcut's layers (none: the identity).</summary>
    public IReadOnlyList<LayerPlan> ShortcutLayers => Shortcut ?? [];

    /// <summary>The layer with <see cref="ClassCount"/> replaced by <paramref name="classes"/>, branches included.</summary>
    public LayerPlan WithClasses(int classes) => this with
    {
        Size = Size == ClassCount ? classes : Size,
        Body = Body?.Select(l => l.WithClasses(classes)).ToList(),
        Shortcut = Shortcut?.Select(l => l.WithClasses(classes)).ToList(),
    };

    /// <summary>
    /// The layer with a convolution's channel count multiplied by <paramref name="width"/> (rounded, at least 1), branches
    /// included; linear layers keep their widths.
    /// </summary>
    public LayerPlan Scaled(double width) => this with
    {
        Size = Kind == LayerKind.Conv2d ? BuiltinModels.Scaled(Size, width) : Size,
        Body = Body?.Select(l => l.Scaled(width)).ToList(),
        Shortcut = Shortcut?.Select(l => l.Scaled(width)).ToList(),
    };
}

/// <summary>A network as a model file describes it: a name, the layers and optionally the weight initialization.</summary>
public sealed record ModelDefinition(string Name, IReadOnlyList<LayerPlan> Layers, WeightInit? Init = null)
{
    /// <summary>The format version this reader takes and the writer writes.</summary>
    public const int Format = 1;

    // Bounds that keep a file from asking for absurd allocations; shapes are checked against the data on top.
    private const int MaxWidth = 1 << 16, MaxKernel = 64, MaxDepth = 16, MaxLayers = 4096;

    private static readonly JsonDocumentOptions DocumentOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Reads the model file at <paramref name="path"/>.</summary>
    /// <exception cref="ConfigurationException">The file is missing or not a valid model; the message names the layer.</exception>
    public static ModelDefinition Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"{path}: cannot read the model file ({GpuNetException.OneLine(e.Message)}).");
        }

        return Parse(text, path, Path.GetFileNameWithoutExtension(path));
    }

    /// <summary>
    /// Parses a model file's text; <paramref name="source"/> prefixes every error, <paramref name="defaultName"/> names
    /// a model whose file gives no name.
    /// </summary>
    /// <exception cref="ConfigurationException">Malformed JSON, an unknown type or field, a missing or out-of-range field.</exception>
    public static ModelDefinition Parse(string json, string source, string defaultName = "model")
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new ConfigurationException($"{source}: not valid JSON ({GpuNetException.OneLine(e.Message)}).");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigurationException($"{source}: a model file is a JSON object with \"format\", \"name\" and \"layers\".");
            }

            var reader = new Fields(root, source, "the file", ["format", "name", "init", "layers"]);
            if (!root.TryGetProperty("format", out var format))
            {
                throw new ConfigurationException($"{source}: \"format\" is missing (this version reads format {Format}).");
            }

            if (format.ValueKind != JsonValueKind.Number || !format.TryGetInt32(out int version) || version != Format)
            {
                throw new ConfigurationException($"{source}: \"format\" is {format.GetRawText()}; this version reads format {Format}.");
            }

            string name = reader.String("name") ?? defaultName;
            WeightInit? init = reader.String("init") is { } initName
                ? Choices.Of<WeightInit>().Contains(initName)
                    ? Choices.Parse<WeightInit>(initName)
                    : throw new ConfigurationException($"{source}: \"init\" is '{initName}', not one of {string.Join(", ", Choices.Of<WeightInit>())}.")
                : null;
            int count = 0;
            var layers = reader.Layers("layers", "layers", depth: 0, ref count) ?? throw new ConfigurationException($"{source}: \"layers\" is missing.");
            if (layers.Count == 0)
            {
                throw new ConfigurationException($"{source}: \"layers\" is empty.");
            }

            return new ModelDefinition(name, layers, init);
        }
    }

    /// <summary>
    /// Infers every layer's output shape for samples of <paramref name="input"/> (C, H, W) and
    /// <paramref name="classes"/> classes; throws, naming the layer, at the first one that cannot work.
    /// </summary>
    /// <exception cref="ConfigurationException">A layer cannot take its input, or the network does not end at (classes).</exception>
    public Shape Check(Shape input, int classes, string source)
    {
        var shape = CheckLayers(Layers, input, classes, "layers", source, first: true);
        if (shape.Rank != 1 || shape[0] != classes)
        {
            throw new ConfigurationException(
                $"{source}: the network ends at {Describe(shape)}, but the data set has {classes} classes: end with a linear of \"out\": {classes} (or \"classes\"){(shape.Rank == 3 ? " after a flatten" : "")}.");
        }

        return shape;
    }

    /// <summary>
    /// Each layer's path, type, output shape and parameter count for samples of <paramref name="input"/> and
    /// <paramref name="classes"/> classes (after <see cref="Check"/>), branches' layers after their block.
    /// </summary>
    public IReadOnlyList<(string Path, string Type, Shape Output, long Parameters)> Summarize(Shape input, int classes)
    {
        var rows = new List<(string, string, Shape, long)>();
        SummarizeLayers(rows, Resolve(classes), input, "layers");
        return rows;
    }

    /// <summary>The network with every convolution's channel count multiplied by <paramref name="width"/> (see <see cref="LayerPlan.Scaled"/>).</summary>
    public ModelDefinition Scaled(double width) => width == 1.0 ? this : this with { Layers = [.. Layers.Select(l => l.Scaled(width))] };

    /// <summary>The layers with <see cref="LayerPlan.ClassCount"/> replaced by <paramref name="classes"/>.</summary>
    public IReadOnlyList<LayerPlan> Resolve(int classes) => [.. Layers.Select(l => l.WithClasses(classes))];

    /// <summary>Whether any layer (inside residual blocks too) is of <paramref name="kind"/>.</summary>
    public bool Contains(LayerKind kind) => Walk(Layers).Any(l => l.Kind == kind);

    /// <summary>The canonical text: one layer per line, fields at their defaults left out.</summary>
    public string ToJson()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{{\"format\": {Format}, \"name\": {JsonSerializer.Serialize(Name)}");
        if (Init is { } init)
        {
            text.Append(CultureInfo.InvariantCulture, $", \"init\": \"{Choices.Name(init)}\"");
        }

        text.Append(", \"layers\": ");
        WriteLayers(text, Layers, "  ");
        text.Append("}\n");
        return text.ToString();
    }

    /// <summary>Builds the network for samples of <paramref name="builder"/>'s shape, layer by layer.</summary>
    public static void AddTo(Sequential.Builder builder, IReadOnlyList<LayerPlan> layers, WeightInit init)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var layer in layers)
        {
            _ = layer.Kind switch
            {
                LayerKind.Linear => builder.Linear(layer.Size, init, layer.Bias),
                LayerKind.BatchNorm => builder.BatchNorm(),
                LayerKind.Relu => builder.Relu(),
                LayerKind.Gelu => builder.Gelu(),
                LayerKind.Conv2d => builder.Conv2d(layer.Size, layer.Window, init, layer.Bias),
                LayerKind.MaxPool2d => builder.MaxPool2d(layer.Window),
                LayerKind.AvgPool2d => builder.AvgPool2d(layer.Window),
                LayerKind.GlobalAvgPool => builder.GlobalAvgPool(),
                LayerKind.Dropout => builder.Dropout(layer.Probability),
                LayerKind.Residual => builder.Residual(b => AddTo(b, layer.BodyLayers, init), s => AddTo(s, layer.ShortcutLayers, init)),
                _ => builder.Flatten(),
            };
        }
    }

    /// <summary>Every layer, branches' layers after their block, depth first.</summary>
    public static IEnumerable<LayerPlan> Walk(IEnumerable<LayerPlan> layers)
    {
        foreach (var layer in layers)
        {
            yield return layer;
            foreach (var inner in Walk(layer.BodyLayers.Concat(layer.ShortcutLayers)))
            {
                yield return inner;
            }
        }
    }

    /// <summary>A shape as the errors print it: (64, 8, 8).</summary>
    public static string Describe(Shape shape) => $"({string.Join(", ", Enumerable.Range(0, shape.Rank).Select(a => shape[a]))})";

    private static Shape SummarizeLayers(List<(string, string, Shape, long)> rows, IReadOnlyList<LayerPlan> layers, Shape shape, string path)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            string at = $"{path}[{i}]";
            int row = rows.Count;
            rows.Add(default);
            var output = layer.Kind == LayerKind.Residual
                ? SummarizeLayers(rows, layer.BodyLayers, shape, $"{at}.body")
                : CheckLayer(layer, shape, 0, at, "", false);
            if (layer.Kind == LayerKind.Residual)
            {
                _ = SummarizeLayers(rows, layer.ShortcutLayers, shape, $"{at}.shortcut");
            }

            long parameters = layer.Kind switch
            {
                LayerKind.Linear => ((long)shape.Length * layer.Size) + (layer.Bias ? layer.Size : 0),
                LayerKind.Conv2d => ((long)layer.Size * shape[0] * layer.Window.Kernel * layer.Window.Kernel) + (layer.Bias ? layer.Size : 0),
                LayerKind.BatchNorm => 2L * shape[0],
                _ => 0,
            };
            rows[row] = (at, LayerPlan.TypeNames[layer.Kind], output, parameters);
            shape = output;
        }

        return shape;
    }

    private static Shape CheckLayers(IReadOnlyList<LayerPlan> layers, Shape shape, int classes, string path, string source, bool first)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            shape = CheckLayer(layers[i], shape, classes, $"{path}[{i}]", source, first && i == 0);
        }

        return shape;
    }

    private static Shape CheckLayer(LayerPlan layer, Shape shape, int classes, string path, string source, bool first)
    {
        string type = LayerPlan.TypeNames[layer.Kind];
        ConfigurationException Fail(string problem) => new($"{source}: {path} ({type}): {problem}");
        void NeedImages()
        {
            if (shape.Rank != 3)
            {
                throw Fail($"needs (C, H, W) input, got {Describe(shape)}; put it before the flatten.");
            }
        }

        switch (layer.Kind)
        {
            case LayerKind.Linear:
                if (shape.Rank != 1 && !first)
                {
                    throw Fail($"needs (features) input, got {Describe(shape)}; add a flatten (or a global_avgpool and a flatten) before it.");
                }

                return new Shape(layer.Size == LayerPlan.ClassCount ? classes : layer.Size);
            case LayerKind.Conv2d:
                NeedImages();
                Fits(layer.Window, shape);
                return new Shape(layer.Size, layer.Window.OutputSize(shape[1]), layer.Window.OutputSize(shape[2]));
            case LayerKind.MaxPool2d or LayerKind.AvgPool2d:
                NeedImages();
                if (2 * layer.Window.Padding > layer.Window.Kernel)
                {
                    throw Fail($"padding {layer.Window.Padding} is more than half the kernel {layer.Window.Kernel}.");
                }

                Fits(layer.Window, shape);
                return new Shape(shape[0], layer.Window.OutputSize(shape[1]), layer.Window.OutputSize(shape[2]));
            case LayerKind.GlobalAvgPool:
                NeedImages();
                return new Shape(shape[0], 1, 1);
            case LayerKind.Flatten:
                return new Shape(shape.Length);
            case LayerKind.BatchNorm:
                if (shape.Rank is not (1 or 3))
                {
                    throw Fail($"needs (features) or (C, H, W) input, got {Describe(shape)}.");
                }

                return shape;
            case LayerKind.Residual:
                var body = CheckLayers(layer.BodyLayers, shape, classes, $"{path}.body", source, first);
                var shortcut = CheckLayers(layer.ShortcutLayers, shape, classes, $"{path}.shortcut", source, first);
                if (body != shortcut)
                {
                    throw Fail(layer.ShortcutLayers.Count == 0
                        ? $"the body ends at {Describe(body)} but the identity shortcut passes {Describe(shortcut)}; give the block a shortcut that ends at {Describe(body)}."
                        : $"the body ends at {Describe(body)} but the shortcut at {Describe(shortcut)}; both branches must end at the same shape.");
                }

                return body;
            default:
                return shape;
        }

        void Fits(Window window, Shape input)
        {
            if (input[1] + (2 * window.Padding) < window.Kernel || input[2] + (2 * window.Padding) < window.Kernel)
            {
                throw Fail($"a {window.Kernel}x{window.Kernel} window (padding {window.Padding}) does not fit its {input[1]}x{input[2]} input: the output would be below 1 x 1.");
            }
        }
    }

    private static void WriteLayers(StringBuilder text, IReadOnlyList<LayerPlan> layers, string indent)
    {
        text.Append('[');
        for (int i = 0; i < layers.Count; i++)
        {
            text.Append('\n').Append(indent);
            WriteLayer(text, layers[i], indent);
            if (i + 1 < layers.Count)
            {
                text.Append(',');
            }
        }

        text.Append(']');
    }

    private static void WriteLayer(StringBuilder text, LayerPlan layer, string indent)
    {
        var c = CultureInfo.InvariantCulture;
        text.Append(c, $"{{\"type\": \"{LayerPlan.TypeNames[layer.Kind]}\"");
        string Size() => layer.Size == LayerPlan.ClassCount ? "\"classes\"" : layer.Size.ToString(c);
        switch (layer.Kind)
        {
            case LayerKind.Linear:
                text.Append(c, $", \"out\": {Size()}");
                break;
            case LayerKind.Conv2d:
                text.Append(c, $", \"out\": {Size()}, \"kernel\": {layer.Window.Kernel}");
                if (layer.Window.Stride != 1)
                {
                    text.Append(c, $", \"stride\": {layer.Window.Stride}");
                }

                if (layer.Window.Padding != 0)
                {
                    text.Append(c, $", \"padding\": {layer.Window.Padding}");
                }

                break;
            case LayerKind.MaxPool2d or LayerKind.AvgPool2d:
                text.Append(c, $", \"kernel\": {layer.Window.Kernel}");
                if (layer.Window.Stride != layer.Window.Kernel)
                {
                    text.Append(c, $", \"stride\": {layer.Window.Stride}");
                }

                if (layer.Window.Padding != 0)
                {
                    text.Append(c, $", \"padding\": {layer.Window.Padding}");
                }

                break;
            case LayerKind.Dropout:
                text.Append(c, $", \"p\": {layer.Probability.ToString("R", c)}");
                break;
            case LayerKind.Residual:
                text.Append(", \"body\": ");
                WriteLayers(text, layer.BodyLayers, indent + "  ");
                if (layer.ShortcutLayers.Count > 0)
                {
                    text.Append(",\n").Append(indent).Append(" \"shortcut\": ");
                    WriteLayers(text, layer.ShortcutLayers, indent + "  ");
                }

                break;
        }

        if (!layer.Bias && layer.Kind is LayerKind.Linear or LayerKind.Conv2d)
        {
            text.Append(", \"bias\": false");
        }

        text.Append('}');
    }

    /// <summary>Reads one JSON object's fields, refusing unknown ones, every error naming the object's path.</summary>
    private readonly struct Fields
    {
        private readonly JsonElement element;
        private readonly string source, path;

        public Fields(JsonElement element, string source, string path, IReadOnlyList<string> known)
        {
            this.element = element;
            this.source = source;
            this.path = path;
            foreach (var property in element.EnumerateObject())
            {
                if (!known.Contains(property.Name))
                {
                    throw Fail($"unknown field \"{property.Name}\"; known: {string.Join(", ", known)}.");
                }
            }
        }

        public ConfigurationException Fail(string problem) => new($"{source}: {path}: {problem}");

        public string? String(string name)
        {
            if (!element.TryGetProperty(name, out var value))
            {
                return null;
            }

            return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Fail($"\"{name}\" must be a string, got {value.GetRawText()}.");
        }

        /// <summary>A whole number in [min, max]; <paramref name="fallback"/> when absent (null: required).</summary>
        public int Int(string name, int min, int max, int? fallback = null, bool classes = false)
        {
            if (!element.TryGetProperty(name, out var value))
            {
                return fallback ?? throw Fail($"\"{name}\" is missing.");
            }

            if (classes && value.ValueKind == JsonValueKind.String && value.GetString() == "classes")
            {
                return LayerPlan.ClassCount;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int number))
            {
                throw Fail($"\"{name}\" must be a whole number{(classes ? " or \"classes\"" : "")}, got {value.GetRawText()}.");
            }

            if (number < min || number > max)
            {
                throw Fail(min == 1 && number < 1
                    ? $"\"{name}\" must be positive, got {number}."
                    : $"\"{name}\" must be in [{min}, {max}], got {number}.");
            }

            return number;
        }

        public bool Bool(string name, bool fallback)
        {
            if (!element.TryGetProperty(name, out var value))
            {
                return fallback;
            }

            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Fail($"\"{name}\" must be true or false, got {value.GetRawText()}."),
            };
        }

        public double Probability(string name)
        {
            if (!element.TryGetProperty(name, out var value))
            {
                throw Fail($"\"{name}\" is missing.");
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double p) || !(p >= 0 && p < 1))
            {
                throw Fail($"\"{name}\" must be a number in [0, 1), got {value.GetRawText()}.");
            }

            return p;
        }

        public List<LayerPlan>? Layers(string name, string layersPath, int depth, ref int count)
        {
            if (!element.TryGetProperty(name, out var value))
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.Array)
            {
                throw Fail($"\"{name}\" must be an array of layers, got {value.ValueKind.ToString().ToLowerInvariant()}.");
            }

            if (depth > MaxDepth)
            {
                throw Fail($"residual blocks nest deeper than {MaxDepth}.");
            }

            var layers = new List<LayerPlan>();
            int i = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (++count > MaxLayers)
                {
                    throw Fail($"more than {MaxLayers} layers.");
                }

                layers.Add(Layer(item, source, $"{layersPath}[{i++}]", depth, ref count));
            }

            return layers;
        }

        private static LayerPlan Layer(JsonElement item, string source, string path, int depth, ref int count)
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigurationException($"{source}: {path}: a layer is an object with a \"type\", got {item.GetRawText()}.");
            }

            if (!item.TryGetProperty("type", out var typeValue) || typeValue.ValueKind != JsonValueKind.String)
            {
                throw new ConfigurationException($"{source}: {path}: \"type\" is missing (or not a string); types: {string.Join(", ", LayerPlan.TypeNames.Values)}.");
            }

            string type = typeValue.GetString()!;
            var kind = LayerPlan.TypeNames.FirstOrDefault(p => p.Value == type).Key;
            if (LayerPlan.TypeNames.GetValueOrDefault(kind) != type)
            {
                throw new ConfigurationException($"{source}: {path}: unknown type '{type}'; types: {string.Join(", ", LayerPlan.TypeNames.Values)}.");
            }

            string at = $"{path} ({type})";
            switch (kind)
            {
                case LayerKind.Linear:
                    {
                        var f = new Fields(item, source, at, ["type", "out", "bias"]);
                        return new LayerPlan(kind, f.Int("out", 1, MaxWidth, classes: true), Bias: f.Bool("bias", true));
                    }

                case LayerKind.Conv2d:
                    {
                        var f = new Fields(item, source, at, ["type", "out", "kernel", "stride", "padding", "bias"]);
                        int kernel = f.Int("kernel", 1, MaxKernel);
                        var window = new Window(kernel, f.Int("stride", 1, MaxKernel, 1), f.Int("padding", 0, MaxKernel, 0));
                        return new LayerPlan(kind, f.Int("out", 1, MaxWidth, classes: true), window, f.Bool("bias", true));
                    }

                case LayerKind.MaxPool2d or LayerKind.AvgPool2d:
                    {
                        var f = new Fields(item, source, at, ["type", "kernel", "stride", "padding"]);
                        int kernel = f.Int("kernel", 1, MaxKernel);
                        return new LayerPlan(kind, 0, new Window(kernel, f.Int("stride", 1, MaxKernel, kernel), f.Int("padding", 0, MaxKernel, 0)));
                    }

                case LayerKind.Dropout:
                    {
                        var f = new Fields(item, source, at, ["type", "p"]);
                        return new LayerPlan(kind, Probability: f.Probability("p"));
                    }

                case LayerKind.Residual:
                    {
                        var f = new Fields(item, source, at, ["type", "body", "shortcut"]);
                        var body = f.Layers("body", $"{path}.body", depth + 1, ref count) ?? throw f.Fail("\"body\" is missing.");
                        if (body.Count == 0)
                        {
                            throw f.Fail("\"body\" is empty; a residual block needs at least one layer in its body.");
                        }

                        var shortcut = f.Layers("shortcut", $"{path}.shortcut", depth + 1, ref count) ?? [];
                        return new LayerPlan(kind, Body: body, Shortcut: shortcut);
                    }

                default:
                    _ = new Fields(item, source, at, ["type"]);
                    return new LayerPlan(kind);
            }
        }
    }
}
