using System.Text.Json;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Training;
using GpuNet.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Tests.Distributed;

/// <summary>
/// NCCL with ILGPU's CUDA context on a real GPU: one rank's all-reduce through the binding (the GPU check runs this
/// where NCCL is found), and two ranks on two GPUs training under mpirun. Skipped with the reason without CUDA
/// devices enough, NCCL or Open MPI.
/// </summary>
public sealed class NcclOnCudaTests(ITestOutputHelper log)
{
    [Fact]
    public void OneRankAllReduceOnTheCudaDeviceKeepsTheValues()
    {
        var library = Accelerators.Get("cuda");
        try
        {
            NcclCommunicator.Probe();
        }
        catch (GpuNet.Engine.DistributedException e)
        {
            Assert.Skip($"NCCL not found: {e.Message}");
        }

        lock (Accelerators.GateFor(library))
        {
            var cuda = (CudaAccelerator)library.Accelerator;
            using var nccl = NcclCommunicator.Create(new SingleProcess(), cuda);
            var values = Enumerable.Range(0, 1000).Select(i => (float)i / 7).ToArray();
            using var buffer = cuda.Allocate1D(values);
            nccl.AllReduceSum(buffer.View.SubView(10, 900));
            cuda.Synchronize();
            Assert.Equal(values, buffer.GetAsArray1D());
            Assert.Equal(1, nccl.Size);
            Assert.True(nccl.Version > 0);
        }
    }

    /// <summary>
    /// Two ranks, one GPU each: NCCL's communicator on each rank's ILGPU context, its all-reduce on the stream the
    /// kernels run on (the accelerator's default stream), between backward and the check with no host wait. They train
    /// what one process trains with one collective a step.
    /// </summary>
    [Fact]
    public void TwoRanksOnTwoGpusTrainWhatOneGpuTrainsThroughNccl()
    {
        MpiRun.SkipUnlessOpenMpi();
        try
        {
            NcclCommunicator.Probe();
        }
        catch (GpuNet.Engine.DistributedException e)
        {
            Assert.Skip($"NCCL not found: {e.Message}");
        }

        using (var context = Context.Create(builder => builder.Cuda()))
        {
            int gpus = context.GetCudaDevices().Count;
            if (gpus < 2)
            {
                Assert.Skip($"{gpus} CUDA device(s) present; two ranks need two");
            }
        }

        string[] args = ["train", "--accelerator", "cuda", "--precision", "fp32", "--steps", "300", "--eval-every", "100"];
        string one = Path.Combine(SyntheticData.NewDirectory(), "run"), two = Path.Combine(SyntheticData.NewDirectory(), "run");
        var (code, output, error) = Support.Cli.Run([.. args, "--out", one]);
        Assert.True(code == 0, output + error);
        using (var run = MpiRun.Gpunet(2, [.. args, "--out", two]))
        {
            int ranksCode = run.WaitForExit();
            log.WriteLine(run.Output);
            Assert.True(ranksCode == 0, run.Output);
            Assert.Contains("gradients summed by NCCL between CUDA devices", run.Output, StringComparison.Ordinal);
        }

        var single = RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(one, "metrics.csv")));
        var ranks = RunFiles.ParseMetrics(File.ReadAllText(Path.Combine(two, "metrics.csv")));
        Assert.Equal(single.Select(r => r.Step), ranks.Select(r => r.Step));
        for (int i = 0; i < single.Count; i++)
        {
            Assert.True(Math.Abs(single[i].TrainLoss - ranks[i].TrainLoss) <= 1e-3 * single[i].TrainLoss, $"step {single[i].Step}: {single[i].TrainLoss} against {ranks[i].TrainLoss}");
            Assert.True(Math.Abs(single[i].TestAccuracy - ranks[i].TestAccuracy) <= 0.005, $"step {single[i].Step}: {single[i].TestAccuracy} against {ranks[i].TestAccuracy}");
        }

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(two, "summary.json")));
        Assert.Equal("nccl", summary.RootElement.GetProperty("communication").GetString());
        Assert.Equal(1.0, summary.RootElement.GetProperty("collectives_per_step").GetDouble());
    }
}
