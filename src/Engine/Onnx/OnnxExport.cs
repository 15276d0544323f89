// ONNX export: a model file (architecture, preprocessing, weights) as an ONNX model, IR version 8, opset 17, that
// takes raw pixels "pixels" (N, C, H, W, float 0..255) and returns "logits" (N, classes). The preprocessing is in the
// graph: (pixels - mean) * inv_std. BatchNorm exports in inference mode (running statistics), a residual block as its
// branches' nodes and an Add, GELU as Erf-based nodes; tensors keep their state_dict names (3.body.0.weight).
using Google.Protobuf;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Models;
using GpuNet.Engine.Onnx.Proto;
using GpuNet.Engine.Runs;
using GpuNet.Kernels;

namespace GpuNet.Engine.Onnx;

/// <summary>Writes GpuNet models as ONNX.</summary>
public static class OnnxExport
{
    /// <summary>The ONNX operator set the graphs use.</summary>
    public const int Opset = 17;

    /// <summary>The graph's input: raw pixels (N, C, H, W), float 0..255.</summary>
    public const string InputName = "pixels";
    /// <summary>The graph's output: logits (N, classes).</summary>
    public const string OutputName = "logits";

    /// <summary>Builds the ONNX model of a model file's description and tensors.</summary>
    /// <exception cref="CheckpointException">A tensor the architecture needs is missing or has another shape.</exception>
    internal static ModelProto Build(ModelFileInfo info, IReadOnlyDictionary<string, SafeTensor> tensors, string source)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(tensors);
        var spec = info.Spec;
        var graph = new GraphProto { Name = $"gpunet-{spec.Model}" };
        int channels = spec.InputShape[0], height = spec.InputShape[1], width = spec.InputShape[2];
        graph.Input.Add(ValueInfo(InputName, new TensorShapeProto.Types.Dimension { DimParam = "batch" }, channels, height, width));
        graph.Output.Add(ValueInfo(OutputName, new TensorShapeProto.Types.Dimension { DimParam = "batch" }, spec.Classes));

        graph.Initializer.Add(Initializer("preprocess.mean", info.Preprocessing.Mean, channels, height, width));
        graph.Initializer.Add(Initializer("preprocess.inv_std", info.Preprocessing.InvStd, channels, 1, 1));
        graph.Node.Add(Node("Sub", [InputName, "preprocess.mean"], "centered"));
        graph.Node.Add(Node("Mul", ["centered", "preprocess.inv_std"], "x"));

        var shape = new Shape(channels, height, width);
        var emitter = new Emitter(graph, tensors, source);
        string last = emitter.Layers(spec.Plan(), "", "x", ref shape);
        graph.Node.Add(Node("Identity", [last], OutputName));

        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "gpunet",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = graph,
            DocString = $"{spec.Model} trained on {info.Dataset}; input: raw pixels (N, {channels}, {height}, {width}) in 0..255; output: logits.",
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    /// <summary>Reads a model file and writes its ONNX model to <paramref name="outPath"/> atomically.</summary>
    public static void Export(string modelPath, string outPath)
    {
        var (info, tensors) = ModelFile.Read(modelPath);
        var model = Build(info, tensors, modelPath);
        AtomicFile.Write(outPath, stream => model.WriteTo(stream));
    }

    /// <summary>Adds the nodes of a list of layers (a residual block's branches recursively), naming tensors by their state_dict path.</summary>
    private sealed class Emitter(GraphProto graph, IReadOnlyDictionary<string, SafeTensor> tensors, string source)
    {
        private bool geluConstants;

        /// <summary>Emits <paramref name="layers"/> from <paramref name="current"/>; returns the last output's name.</summary>
        public string Layers(IReadOnlyList<LayerPlan> layers, string prefix, string current, ref Shape shape)
        {
            for (int i = 0; i < layers.Count; i++)
            {
                current = Layer(layers[i], $"{prefix}{i}", current, ref shape);
            }

            return current;
        }

        private string Layer(LayerPlan layer, string path, string current, ref Shape shape)
        {
            string output = $"{path}.out";
            switch (layer.Kind)
            {
                case LayerKind.Linear:
                    if (shape.Rank != 1)
                    {
                        graph.Node.Add(Node("Flatten", [current], $"{path}.flat", Int("axis", 1)));
                        current = $"{path}.flat";
                        shape = new Shape(shape.Length);
                    }

                    graph.Node.Add(Node("Gemm", [current, .. Parameters(path, [layer.Size, shape[0]], layer.Bias)], output, Int("transB", 1)));
                    shape = new Shape(layer.Size);
                    return output;
                case LayerKind.Conv2d:
                    graph.Node.Add(Node("Conv", [current, .. Parameters(path, [layer.Size, shape[0], layer.Window.Kernel, layer.Window.Kernel], layer.Bias)], output, WindowAttributes(layer.Window)));
                    shape = new Shape(layer.Size, layer.Window.OutputSize(shape[1]), layer.Window.OutputSize(shape[2]));
                    return output;
                case LayerKind.BatchNorm:
                    foreach (string name in new[] { "weight", "bias", "running_mean", "running_var" })
                    {
                        graph.Initializer.Add(Initializer($"{path}.{name}", ModelFile.Expect(tensors, $"{path}.{name}", [shape[0]], source).ToFloats(), shape[0]));
                    }

                    graph.Node.Add(Node(
                        "BatchNormalization", [current, $"{path}.weight", $"{path}.bias", $"{path}.running_mean", $"{path}.running_var"], output,
                        Float("epsilon", GpuNet.Kernels.BatchNorm.DefaultEpsilon)));
                    return output;
                case LayerKind.Relu:
                    graph.Node.Add(Node("Relu", [current], output));
                    return output;
                case LayerKind.Gelu:
                    // x * (erf(x / sqrt 2) + 1) / 2, as PyTorch exports nn.GELU() at opset 17.
                    if (!geluConstants)
                    {
                        graph.Initializer.Add(Initializer("gelu.sqrt2", [MathF.Sqrt(2f)]));
                        graph.Initializer.Add(Initializer("gelu.one", [1f]));
                        graph.Initializer.Add(Initializer("gelu.half", [0.5f]));
                        geluConstants = true;
                    }

                    graph.Node.Add(Node("Div", [current, "gelu.sqrt2"], $"{path}.scaled"));
                    graph.Node.Add(Node("Erf", [$"{path}.scaled"], $"{path}.erf"));
                    graph.Node.Add(Node("Add", [$"{path}.erf", "gelu.one"], $"{path}.cdf2"));
                    graph.Node.Add(Node("Mul", [current, $"{path}.cdf2"], $"{path}.twice"));
                    graph.Node.Add(Node("Mul", [$"{path}.twice", "gelu.half"], output));
                    return output;
                case LayerKind.Dropout:
                    // Evaluation mode: dropout is the identity, so it has no node (its index stays unused, as in PyTorch).
                    return current;
                case LayerKind.MaxPool2d or LayerKind.AvgPool2d:
                    // count_include_pad = 1: padding counts as zeros in the average, as GpuNet's kernel does.
                    var attributes = WindowAttributes(layer.Window);
                    graph.Node.Add(layer.Kind == LayerKind.MaxPool2d
                        ? Node("MaxPool", [current], output, attributes)
                        : Node("AveragePool", [current], output, [.. attributes, Int("count_include_pad", 1)]));
                    shape = new Shape(shape[0], layer.Window.OutputSize(shape[1]), layer.Window.OutputSize(shape[2]));
                    return output;
                case LayerKind.GlobalAvgPool:
                    graph.Node.Add(Node("GlobalAveragePool", [current], output));
                    shape = new Shape(shape[0], 1, 1);
                    return output;
                case LayerKind.Residual:
                    var bodyShape = shape;
                    string body = Layers(layer.BodyLayers, $"{path}.body.", current, ref bodyShape);
                    var shortcutShape = shape;
                    string shortcut = Layers(layer.ShortcutLayers, $"{path}.shortcut.", current, ref shortcutShape);
                    graph.Node.Add(Node("Add", [body, shortcut], output));
                    shape = bodyShape;
                    return output;
                default:
                    graph.Node.Add(Node("Flatten", [current], output, Int("axis", 1)));
                    shape = new Shape(shape.Length);
                    return output;
            }
        }

        private string[] Parameters(string path, long[] weightShape, bool bias)
        {
            graph.Initializer.Add(Initializer($"{path}.weight", ModelFile.Expect(tensors, $"{path}.weight", weightShape, source).ToFloats(), weightShape));
            if (!bias)
            {
                return [$"{path}.weight"];
            }

            graph.Initializer.Add(Initializer($"{path}.bias", ModelFile.Expect(tensors, $"{path}.bias", [weightShape[0]], source).ToFloats(), weightShape[0]));
            return [$"{path}.weight", $"{path}.bias"];
        }
    }

    private static AttributeProto[] WindowAttributes(Window window) =>
    [
        Ints("kernel_shape", window.Kernel, window.Kernel),
        Ints("strides", window.Stride, window.Stride),
        Ints("pads", window.Padding, window.Padding, window.Padding, window.Padding),
    ];

    private static NodeProto Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = $"{op}:{output}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        return node;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static TensorProto Initializer(string name, float[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        // raw_data is little-endian, as floats lie in memory on every platform .NET runs GpuNet on.
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return tensor;
    }

    private static ValueInfoProto ValueInfo(string name, TensorShapeProto.Types.Dimension first, params long[] rest)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(first);
        foreach (long d in rest)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
