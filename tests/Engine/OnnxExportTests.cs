using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Onnx;
using GpuNet.Engine.Optim;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;
using ILGPU.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Tests.Engine;

/// <summary>Exported models run in ONNX Runtime and give GpuNet's own evaluation logits.</summary>
public sealed class OnnxExportTests
{
    private static readonly Lazy<string> DataDir = new(() => SyntheticData.WriteMnistLike(300, 40, seed: 31));

    public static TheoryData<string> Models => new() { "mlp", "mlp-batchnorm", "vgg-narrow", "residual" };

    [Theory]
    [MemberData(nameof(Models))]
    public void OnnxRuntimeGivesGpuNetsLogits(string name)
    {
        Assert.Contains("dropout", ResidualWithEveryLayer, StringComparison.Ordinal);
        Assert.Contains("avgpool2d", ResidualWithEveryLayer, StringComparison.Ordinal);
        Assert.DoesNotContain("\"out\": 4,", ResidualWithEveryLayer, StringComparison.Ordinal);
        var data = DataSets.Load(DatasetKind.Mnist, DataDir.Value);
        var config = name switch
        {
            "mlp" => new TrainConfig { Hidden = [32] },
            "mlp-batchnorm" => new TrainConfig { Hidden = [32, 16], BatchNorm = true, Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, Init = WeightInit.KaimingUniform },
            "residual" => TrainConfig.DefaultsFor(ModelDefinition.Parse(ResidualWithEveryLayer, "test")) with { LearningRate = 2e-3 },
            _ => TrainConfig.DefaultsFor(BuiltinModel.Vgg) with { Width = 0.0625, LearningRate = 1e-3 },
        };
        config = config with { Dataset = DatasetKind.Mnist, DataDir = DataDir.Value, BatchSize = 20, Steps = 15, EvalEvery = 15, Accelerator = AcceleratorKind.Cpu, Normalize = name == "mlp" ? Normalization.None : Normalization.Standard };
        string dir = SyntheticData.NewDirectory();
        using (var device = Device.Open(AcceleratorKind.Cpu))
        {
            Trainer.Run(config, data, device, dir);
        }

        string modelPath = Path.Combine(dir, "model.safetensors"), onnxPath = Path.Combine(dir, "model.onnx");
        OnnxExport.Export(modelPath, onnxPath);

        // GpuNet's evaluation forward on the test images.
        const int count = 40;
        var (info, tensors) = ModelFile.Read(modelPath);
        float[] expected = [];
        Support.Accelerators.Run("cpu", (kernels, _) =>
        {
            using var model = info.Spec.Build(kernels, count, seed: 0);
            ModelFile.Apply(model, tensors, modelPath);
            using var batches = new BatchBuffers(kernels, data.SampleShape, count, info.Preprocessing);
            using var test = new DeviceSplit(kernels, data.Test, data.SampleShape);
            var (input, _) = batches.Gather(test, 0, count);
            var logits = model.Forward(input, training: false);
            expected = new float[logits.Length];
            kernels.Synchronize();
            logits.Data.CopyToCPU(expected);
        });

        // ONNX Runtime on the raw pixels.
        var pixels = data.Test.Pixels.AsSpan(0, count * 784).ToArray().Select(b => (float)b).ToArray();
        using var session = OpenSession(onnxPath);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, new DenseTensor<float>(pixels, [count, 1, 28, 28]))]);
        var actual = results.Single(r => r.Name == OnnxExport.OutputName).AsEnumerable<float>().ToArray();

        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1.0, expected.Max(v => Math.Abs(v)));
        double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(maxDiff <= 1e-4 * scale, $"{name}: max |ONNX Runtime - GpuNet| = {maxDiff:G4} (logit scale {scale:G4})");
        for (int row = 0; row < count; row++)
        {
            Assert.Equal(ArgMax(expected.AsSpan(row * 10, 10)), ArgMax(actual.AsSpan(row * 10, 10)));
        }
    }

    /// <summary>
    /// A model file's network trained on the embedded Fashion-MNIST, exported, scores the accuracy in ONNX Runtime that
    /// GpuNet's own evaluation gives, on 1000 test images. With GPUNET_ONNX_ACCURACY_MODEL set to a trained Fashion-MNIST
    /// model.safetensors, it scores that model on the whole test set instead (the README's measurement).
    /// </summary>
    [Fact]
    public void OnnxRuntimeScoresGpuNetsAccuracy()
    {
        var data = DataSets.Load(DatasetKind.FashionMnist, null);
        string? given = Environment.GetEnvironmentVariable("GPUNET_ONNX_ACCURACY_MODEL");
        if (given is null)
        {
            data = data with { Test = new DataSplit(data.Test.Pixels[..(1000 * 784)], data.Test.Labels[..1000]) };
        }

        string dir = SyntheticData.NewDirectory(), modelPath = given ?? Path.Combine(dir, "model.safetensors"), onnxPath = Path.Combine(dir, "model.onnx");
        int count = given is null ? 1000 : data.Test.Count;
        if (given is null)
        {
            var config = TrainConfig.DefaultsFor(ModelDefinition.Parse(ResidualWithEveryLayer, "test")) with
            {
                BatchSize = 32,
                Steps = 60,
                EvalEvery = 60,
                LearningRate = 2e-3,
                Accelerator = AcceleratorKind.Cpu,
            };
            using var device = Device.Open(AcceleratorKind.Cpu);
            Trainer.Run(config, data, device, dir);
        }

        OnnxExport.Export(modelPath, onnxPath);
        const int batch = 250;
        var (info, tensors) = ModelFile.Read(modelPath);
        var gpunet = new List<int>();
        Support.Accelerators.Run("cpu", (kernels, _) =>
        {
            using var model = info.Spec.Build(kernels, batch, seed: 0);
            ModelFile.Apply(model, tensors, modelPath);
            using var batches = new BatchBuffers(kernels, data.SampleShape, batch, info.Preprocessing);
            using var test = new DeviceSplit(kernels, data.Test, data.SampleShape);
            var logits = new float[batch * 10];
            for (int offset = 0; offset < count; offset += batch)
            {
                var (input, _) = batches.Gather(test, offset, batch);
                var output = model.Forward(input, training: false);
                kernels.Synchronize();
                output.Data.CopyToCPU(logits);
                gpunet.AddRange(Enumerable.Range(0, batch).Select(row => ArgMax(logits.AsSpan(row * 10, 10))));
            }
        });

        using var session = OpenSession(onnxPath);
        var onnx = new List<int>();
        for (int offset = 0; offset < count; offset += batch)
        {
            var pixels = data.Test.Pixels.AsSpan(offset * 784, batch * 784).ToArray().Select(b => (float)b).ToArray();
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, new DenseTensor<float>(pixels, [batch, 1, 28, 28]))]);
            var logits = results.Single(r => r.Name == OnnxExport.OutputName).AsEnumerable<float>().ToArray();
            onnx.AddRange(Enumerable.Range(0, batch).Select(row => ArgMax(logits.AsSpan(row * 10, 10))));
        }

        double Accuracy(List<int> predicted) => (double)predicted.Where((p, i) => p == data.Test.Labels[i]).Count() / count;
        int differing = gpunet.Zip(onnx).Count(pair => pair.First != pair.Second);
        TestContext.Current.TestOutputHelper?.WriteLine(FormattableString.Invariant(
            $"{count} test images: GpuNet accuracy {Accuracy(gpunet):F4}, ONNX Runtime {Accuracy(onnx):F4}, {differing} predictions differ"));
        Assert.Equal(0, differing);
        Assert.True(Accuracy(gpunet) > 0.25 && gpunet.Distinct().Count() >= 5, $"the trained network should beat chance (0.1) with varied predictions: {Accuracy(gpunet)}");
    }

    /// <summary>The gradient check's residual network, 4 times wider, with the layers it leaves out: dropout and average pooling.</summary>
    private static readonly string ResidualWithEveryLayer = ModelFileTests.ResidualNet
        .Replace("\"out\": 4,", "\"out\": 16,", StringComparison.Ordinal).Replace("\"out\": 6,", "\"out\": 24,", StringComparison.Ordinal)
        .Replace("\"out\": 5,", "\"out\": 32,", StringComparison.Ordinal)
        .Replace("{\"type\": \"flatten\"},", "{\"type\": \"flatten\"}, {\"type\": \"dropout\", \"p\": 0.2},", StringComparison.Ordinal)
        .Replace("{\"type\": \"maxpool2d\", \"kernel\": 2, \"stride\": 1},", "{\"type\": \"maxpool2d\", \"kernel\": 2, \"stride\": 1}, {\"type\": \"avgpool2d\", \"kernel\": 3, \"stride\": 2, \"padding\": 1},", StringComparison.Ordinal);

    /// <summary>An ONNX Runtime session; a skip where the GPU check's archive left ONNX Runtime's native library out.</summary>
    private static InferenceSession OpenSession(string path)
    {
        try
        {
            return new InferenceSession(path);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException && Environment.GetEnvironmentVariable("GPUNET_ALLOW_NO_ONNXRUNTIME") == "1")
        {
            Assert.Skip($"ONNX Runtime's native library is not in this build ({e.GetType().Name}); CI's test run checks ONNX export");
            throw;
        }
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
