using ILGPU;

namespace GpuNet.Engine.Distributed;

/// <summary>
/// A sum over the ranks of device memory, queued on the device with no host wait (NCCL between CUDA devices): the
/// device path of <see cref="DataParallel"/>.
/// </summary>
internal interface IDeviceReduction : IDisposable
{
    /// <summary>What does the reduction (for NCCL, where libnccl was loaded from).</summary>
    string Name { get; }

    /// <summary>Queues <c>buffer[i] = sum over ranks of buffer[i]</c>, in place; every rank calls it with the same length.</summary>
    void AllReduceSum(ArrayView<float> buffer);

    /// <summary>Throws when the reduction failed asynchronously (after ending its pending operations).</summary>
    void CheckAsyncError();
}
