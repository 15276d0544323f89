using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Onnx;
using GpuNet.Engine.Training;
using GpuNet.Kernels;
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

    public static TheoryData<string> Models => new() { "mlp", "mlp-batchnorm", "vgg-narrow" };

    [Theory]
    [MemberData(nameof(Models))]
    public void OnnxRuntimeGivesGpuNetsLogits(string name)
    {
        var data = DataSets.Load("mnist", DataDir.Value);
        var config = name switch
        {
            "mlp" => new TrainConfig { Hidden = [32] },
            "mlp-batchnorm" => new TrainConfig { Hidden = [32, 16], BatchNorm = true, Optimizer = "adam", LearningRate = 1e-3, Init = WeightInit.KaimingUniform },
            _ => TrainConfig.DefaultsFor("vgg") with { Width = 0.0625, LearningRate = 1e-3 },
        };
        config = config with { Dataset = "mnist", DataDir = DataDir.Value, BatchSize = 20, Steps = 15, EvalEvery = 15, Accelerator = AcceleratorKind.Cpu, Normalize = name == "mlp" ? Normalization.None : Normalization.Standard };
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
