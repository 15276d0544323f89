using GpuNet.Engine.Distributed;
using GpuNet.Tests.Support;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Tests.Distributed;

/// <summary>
/// NCCL with ILGPU's CUDA context on a real GPU: one rank's all-reduce through the binding (the GPU check runs this
/// where NCCL is found). Skipped with the reason without a CUDA device or NCCL.
/// </summary>
public sealed class NcclOnCudaTests
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
}
