using GpuNet.Kernels;
using ILGPU.Runtime;

namespace GpuNet.Tests.Kernels;

/// <summary>A kernel that reads outside its buffers on the CPU accelerator is an exception naming it, not a hang or an abort.</summary>
public sealed class KernelFaultTests
{
    [Fact]
    public void AnOutOfRangeReadOnTheCpuAcceleratorThrowsNamingTheKernelAndTheAcceleratorStaysUsable() => Support.Accelerators.Run("cpu", (library, buffers) =>
    {
        const int count = 4, sample = 2 * 2;
        using var pixels = library.Accelerator.Allocate1D<byte>(new byte[count * sample]);
        var pixelsView = new TensorView<byte>(pixels.View, new Shape(count, 1, 2, 2));
        var labels = buffers.Upload([0, 1, 2, 3], count);
        var mean = buffers.Upload(new float[sample], 1, 2, 2);
        var invStd = buffers.Upload([1f], 1);

        // The order names image 1000 of 4: the gather reads past the pixels.
        var badOrder = buffers.Upload([0, 1000], 2);
        library.Batching.Gather(buffers.Garbage(2, 1, 2, 2), buffers.IntGarbage(2), pixelsView, labels, badOrder, 0, mean, invStd);
        var error = Assert.Throws<KernelFaultException>(library.Synchronize);
        Assert.Contains("GatherOp", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);

        // The next launch runs normally.
        var batch = buffers.Garbage(2, 1, 2, 2);
        library.Batching.Gather(batch, buffers.IntGarbage(2), pixelsView, labels, buffers.Upload([3, 2], 2), 0, mean, invStd);
        Assert.All(buffers.Read(batch), v => Assert.Equal(0f, v));
    });
}
