using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;
using GpuNet.Engine.Data;
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
    private static readonly Lazy<Dataset> Data = new(() => DataSets.Load("mnist", DataDir.Value));

    public static TheoryData<string> Models => new() { "mlp", "mlp-batchnorm", "vgg" };

    public static TheoryData<string> Accelerators => Support.Accelerators.All;

    private static TrainConfig Config(string model, AcceleratorKind kind) => model switch
    {
        "mlp" => new TrainConfig { Dataset = "mnist", DataDir = DataDir.Value, Hidden = [32, 16], Momentum = 0.9, LearningRate = 1e-3, BatchSize = 50, Steps = 24, EvalEvery = 8, CheckpointEvery = 8, Accelerator = kind },
        "mlp-batchnorm" => new TrainConfig { Dataset = "mnist", DataDir = DataDir.Value, Hidden = [24], BatchNorm = true, Optimizer = "adam", LearningRate = 1e-3, Init = GpuNet.Engine.Layers.WeightInit.KaimingUniform, BatchSize = 40, Steps = 24, EvalEvery = 8, CheckpointEvery = 8, Accelerator = kind },
        _ => TrainConfig.DefaultsFor("vgg") with { Dataset = "mnist", DataDir = DataDir.Value, Width = 1.0 / 16, LearningRate = 1e-3, BatchSize = 16, Steps = 20, EvalEvery = 10, CheckpointEvery = 10, Accelerator = kind },
    };

    private static (IReadOnlyList<MetricsRow> Rows, byte[] Model) Train(string accelerator, TrainConfig config, string dir, string? resumeFrom = null, int stopAfter = 0)
    {
        var kind = accelerator == "opencl" ? AcceleratorKind.OpenCL : accelerator == "cuda" ? AcceleratorKind.Cuda : AcceleratorKind.Cpu;
        var library = Support.Accelerators.Get(accelerator);
        lock (Support.Accelerators.GateFor(library))
        {
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

    [Theory]
    [MemberData(nameof(Models))]
    public void OpenClTrainingMatchesTheCpuAcceleratorClosely(string model)
    {
        var gpu = Train("opencl", Config(model, AcceleratorKind.OpenCL), SyntheticData.NewDirectory());
        var cpu = Train("cpu", Config(model, AcceleratorKind.Cpu), SyntheticData.NewDirectory());
        Assert.Equal(cpu.Rows.Select(r => r.Step), gpu.Rows.Select(r => r.Step));
        for (int i = 0; i < cpu.Rows.Count; i++)
        {
            var (c, g) = (cpu.Rows[i], gpu.Rows[i]);
            string what = $"{model} step {c.Step}: cpu {c.TrainLoss}/{c.TestLoss}/{c.TestAccuracy}, opencl {g.TrainLoss}/{g.TestLoss}/{g.TestAccuracy}";
            Assert.True(Math.Abs(c.TrainLoss - g.TrainLoss) <= 1e-3 * Math.Max(1, Math.Abs(c.TrainLoss)), what);
            Assert.True(Math.Abs(c.TestLoss - g.TestLoss) <= 1e-3 * Math.Max(1, Math.Abs(c.TestLoss)), what);
            Assert.True(Math.Abs(c.TestAccuracy - g.TestAccuracy) <= 0.01, what);
        }

        Assert.True(gpu.Rows[^1].TrainLoss < gpu.Rows[0].TrainLoss, $"{model}: the loss did not fall on opencl");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void OpenClRunsRepeatAndResumeBitForBit(string model)
    {
        var config = Config(model, AcceleratorKind.OpenCL);
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
