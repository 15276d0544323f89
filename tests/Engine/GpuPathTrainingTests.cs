using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;

namespace GpuNet.Tests.Engine;

/// <summary>
/// Whole training runs on the GPU path (tiled GEMMs, implicit-GEMM convolution, shared-memory reductions) on the OpenCL
/// device (PoCL in CI), against the CPU accelerator's coarse path: the two compute the same model in a different
/// order, so their metrics are close, not equal; each path repeats itself bit for bit and resumes bit for bit. Also:
/// a run makes no blocking device read between two evaluations.
/// </summary>
public sealed class GpuPathTrainingTests
{
    private static readonly Lazy<string> DataDir = new(() => SyntheticData.WriteMnistLike(400, 200, seed: 21));
    private static readonly Lazy<Dataset> Data = new(() => DataSets.Load(DatasetKind.Mnist, DataDir.Value));

    public static TheoryData<string> Models => new() { "mlp", "mlp-batchnorm", "vgg" };

    /// <summary>Every model in both precisions.</summary>
    public static TheoryData<string, string> ModelsAndPrecisions => new()
    {
        { "mlp", "fp32" }, { "mlp-batchnorm", "fp32" }, { "vgg", "fp32" }, { "mlp", "tf32" }, { "mlp-batchnorm", "tf32" }, { "vgg", "tf32" },
    };

    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    private static TrainConfig Config(string model, AcceleratorKind kind) => model switch
    {
        "mlp" => new TrainConfig { Dataset = DatasetKind.Mnist, DataDir = DataDir.Value, Hidden = [32, 16], Momentum = 0.9, LearningRate = 1e-3, BatchSize = 50, Steps = 24, EvalEvery = 8, CheckpointEvery = 8, Accelerator = kind },
        "mlp-batchnorm" => new TrainConfig { Dataset = DatasetKind.Mnist, DataDir = DataDir.Value, Hidden = [24], BatchNorm = true, Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, Init = GpuNet.Engine.Layers.WeightInit.KaimingUniform, BatchSize = 40, Steps = 24, EvalEvery = 8, CheckpointEvery = 8, Accelerator = kind },
        _ => TrainConfig.DefaultsFor(BuiltinModel.Vgg) with { Dataset = DatasetKind.Mnist, DataDir = DataDir.Value, Width = 1.0 / 16, LearningRate = 1e-3, BatchSize = 16, Steps = 20, EvalEvery = 10, CheckpointEvery = 10, Accelerator = kind },
    };

    private static (IReadOnlyList<MetricsRow> Rows, byte[] Model) Train(string accelerator, TrainConfig config, string dir, string? resumeFrom = null, int stopAfter = 0)
    {
        var kind = accelerator == "opencl" ? AcceleratorKind.OpenCL : accelerator == "cuda" ? AcceleratorKind.Cuda : AcceleratorKind.Cpu;
        var library = Support.Accelerators.Get(accelerator);
        lock (Support.Accelerators.GateFor(library))
        {
            using var pinned = Support.Accelerators.PinTensorTile(library);
            using var device = Device.Wrap(library, kind);
            if (stopAfter > 0)
            {
                using var source = new CancellationTokenSource();
                Assert.Throws<TrainingInterruptedException>(() => Trainer.Run(config, Data.Value, device, dir, new StopAt(stopAfter, source), cancel: source.Token));
                return ([], []);
            }

            var result = Trainer.Run(config, Data.Value, device, dir, resumeFrom: resumeFrom);
            return (result.Rows, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        }
    }

    private static TrainConfig Config(string model, AcceleratorKind kind, string precision) =>
        Config(model, kind) with { Precision = GpuNet.Engine.Runs.Choices.Parse<GpuNet.Kernels.GemmPrecision>(precision) };

    /// <summary>
    /// In TF32 the OpenCL device runs the tensor-core kernel (its mma emulated) and the CPU accelerator its coarse GEMM
    /// with rounded loads: the same numerics in another order. fp32 sums in another order differ in their last bits;
    /// in TF32 such a difference moves some of the next GEMM's operands across a TF32 rounding boundary (a step of 2^-10
    /// relative), so the runs drift apart faster: measured 2% in the VGG's train loss after 20 steps.
    /// </summary>
    [Theory]
    [MemberData(nameof(ModelsAndPrecisions))]
    public void OpenClTrainingMatchesTheCpuAcceleratorClosely(string model, string precision)
    {
        var gpu = Train("opencl", Config(model, AcceleratorKind.OpenCL, precision), SyntheticData.NewDirectory());
        var cpu = Train("cpu", Config(model, AcceleratorKind.Cpu, precision), SyntheticData.NewDirectory());
        var (lossTolerance, accuracyTolerance) = precision == "tf32" ? (5e-2, 0.05) : (1e-3, 0.01);
        Assert.Equal(cpu.Rows.Select(r => r.Step), gpu.Rows.Select(r => r.Step));
        for (int i = 0; i < cpu.Rows.Count; i++)
        {
            var (c, g) = (cpu.Rows[i], gpu.Rows[i]);
            string what = $"{model} {precision} step {c.Step}: cpu {c.TrainLoss}/{c.TestLoss}/{c.TestAccuracy}, opencl {g.TrainLoss}/{g.TestLoss}/{g.TestAccuracy}";
            Assert.True(Math.Abs(c.TrainLoss - g.TrainLoss) <= lossTolerance * Math.Max(1, Math.Abs(c.TrainLoss)), what);
            Assert.True(Math.Abs(c.TestLoss - g.TestLoss) <= lossTolerance * Math.Max(1, Math.Abs(c.TestLoss)), what);
            Assert.True(Math.Abs(c.TestAccuracy - g.TestAccuracy) <= accuracyTolerance, what);
        }

        Assert.True(gpu.Rows[^1].TrainLoss < gpu.Rows[0].TrainLoss, $"{model}: the loss did not fall on opencl");
    }

    /// <summary>
    /// A TF32 run ends within 0.01 of the fp32 run's accuracy on the OpenCL device (the tensor-core kernel's path), both
    /// having learned: the MLP with Adam (24 steps), the narrow VGG trained to 40 steps.
    /// </summary>
    [Theory]
    [InlineData("mlp")]
    [InlineData("vgg")]
    public void Tf32TrainingOnOpenClEndsWithinAPercentOfFp32(string model)
    {
        var config = model == "mlp"
            ? Config(model, AcceleratorKind.OpenCL) with { Optimizer = OptimizerKind.Adam, Momentum = 0 }
            : Config(model, AcceleratorKind.OpenCL) with { Steps = 40 };
        var fp32 = Train("opencl", config, SyntheticData.NewDirectory());
        var tf32 = Train("opencl", config with { Precision = GpuNet.Kernels.GemmPrecision.Tf32 }, SyntheticData.NewDirectory());
        double a32 = fp32.Rows[^1].TestAccuracy, a19 = tf32.Rows[^1].TestAccuracy;
        Assert.True(Math.Min(a32, a19) >= 0.8, $"{model} did not learn: fp32 {a32}, tf32 {a19}");
        Assert.True(Math.Abs(a32 - a19) <= 0.01, $"{model}: fp32 {a32}, tf32 {a19}");
        Assert.NotEqual(Metrics(fp32.Rows), Metrics(tf32.Rows)); // TF32 rounding took effect
    }

    [Theory]
    [MemberData(nameof(ModelsAndPrecisions))]
    public void OpenClRunsRepeatAndResumeBitForBit(string model, string precision)
    {
        var config = Config(model, AcceleratorKind.OpenCL, precision);
        var first = Train("opencl", config, SyntheticData.NewDirectory());
        var second = Train("opencl", config, SyntheticData.NewDirectory());
        Assert.Equal(Metrics(first.Rows), Metrics(second.Rows));
        Assert.Equal(first.Model, second.Model);

        string split = SyntheticData.NewDirectory();
        Train("opencl", config, split, stopAfter: 11);
        Assert.Equal(11, Checkpoint.Read(Path.Combine(split, Checkpoint.FileName)).State.Step);
        var resumed = Train("opencl", config, split, resumeFrom: Path.Combine(split, Checkpoint.FileName));
        Assert.Equal(Metrics(first.Rows), Metrics(resumed.Rows));
        Assert.Equal(first.Model, resumed.Model);
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ARunMakesNoBlockingReadBetweenEvaluations(string accelerator)
    {
        var library = Support.Accelerators.Get(accelerator);
        var kind = accelerator == "opencl" ? AcceleratorKind.OpenCL : accelerator == "cuda" ? AcceleratorKind.Cuda : AcceleratorKind.Cpu;
        var config = Config("mlp", kind) with { Steps = 30, EvalEvery = 15, CheckpointEvery = 0 };
        lock (Support.Accelerators.GateFor(library))
        {
            using var device = Device.Wrap(library, kind);
            var observer = new ReadCounter(device.Reads);
            var result = Trainer.Run(config, Data.Value, device, SyntheticData.NewDirectory(), observer);

            // Every step between evaluations leaves the count of blocking exchanges (waits and copies) as it was, the
            // first steps of epochs (400 samples, 50 a step: steps 9, 17 and 25, which once uploaded a new order)
            // included; each evaluation step makes some: the step record, the test totals, the next steps' orders.
            var steps = observer.ReadsAfterStep;
            Assert.Equal(30, steps.Count);
            for (int s = 2; s <= 30; s++)
            {
                if (s % 15 != 0)
                {
                    Assert.True(steps[s] == steps[s - 1], $"step {s} on {accelerator} made {steps[s] - steps[s - 1]} blocking exchanges");
                }
                else
                {
                    Assert.True(steps[s] > steps[s - 1], $"evaluation step {s} on {accelerator} made no blocking exchange: the count is not counting");
                }
            }

            Assert.Equal(0, result.HostWaitsPerStep);
            Assert.True(result.LaunchesPerStep > 0);
        }
    }

    private static List<string> Metrics(IReadOnlyList<MetricsRow> rows) =>
        rows.Select(r => FormattableString.Invariant($"{r.Step},{r.TrainLoss:R},{r.TestLoss:R},{r.TestAccuracy:R}")).ToList();

    private sealed class StopAt(int step, CancellationTokenSource source) : ITrainingObserver
    {
        public void Started(TrainConfig config, string accelerator, long parameters, long deviceBytes, int firstStep)
        {
        }

        public void Step(int s, int steps, double imagesPerSecond, double elapsedSeconds)
        {
            if (s == step - 1)
            {
                source.Cancel();
            }
        }

        public void Evaluated(MetricsRow row, int steps)
        {
        }

        public void Skipped(int s, string reason)
        {
        }
    }

    private sealed class ReadCounter(DeviceReads reads) : ITrainingObserver
    {
        public Dictionary<int, long> ReadsAfterStep { get; } = [];

        public void Started(TrainConfig config, string accelerator, long parameters, long deviceBytes, int firstStep)
        {
        }

        public void Step(int step, int steps, double imagesPerSecond, double elapsedSeconds) => ReadsAfterStep[step] = reads.Count;

        public void Evaluated(MetricsRow row, int steps)
        {
        }

        public void Skipped(int step, string reason)
        {
        }
    }
}
