using GpuNet.Engine;
using GpuNet.Kernels;

namespace GpuNet.Tests.Engine;

public sealed class TensorTests
{
    [Fact]
    public async Task CopiesSurviveCompactingCollectionsOnOtherThreads()
    {
        // ILGPU copies from the raw address of the host memory: unpinned, a compacting GC on another thread can move
        // the array mid-copy, which once corrupted a model file and crashed a run. Tensor pins; this keeps it so.
        // Gen-0 collections move the freshly allocated arrays just as well and, unlike full ones, do not stall the
        // rest of the suite for the whole of this test.
        using var device = Device.Open(AcceleratorKind.Cpu);
        using var tensor = new Tensor<float>(device.Accelerator, new Shape(4096));
        using var stop = new CancellationTokenSource();
        var churn = Task.Run(() =>
        {
            var keep = new List<byte[]>();
            while (!stop.IsCancellationRequested)
            {
                keep.Add(new byte[Random.Shared.Next(100, 20_000)]);
                if (keep.Count > 200)
                {
                    keep.RemoveRange(0, 150);
                    GC.Collect(0, GCCollectionMode.Forced, blocking: true, compacting: true);
                }
            }
        });
        try
        {
            var random = new Random(1);
            for (int i = 0; i < 400; i++)
            {
                var values = new float[4096];
                for (int j = 0; j < values.Length; j++)
                {
                    values[j] = random.Next(1, 1000);
                }

                _ = new byte[random.Next(10, 5000)]; // move the next allocation around the heap
                tensor.Upload(values);
                var back = tensor.Download();
                Assert.True(values.AsSpan().SequenceEqual(back), $"iteration {i}: the copy came back different");
            }
        }
        finally
        {
            stop.Cancel();
            await churn;
        }
    }
}
