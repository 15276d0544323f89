using GpuNet.Kernels;

namespace GpuNet.Engine;

/// <summary>
/// The one place where training and evaluation wait for the device: a read point calls <see cref="WaitForDevice"/>
/// (counted) and then copies what it needs, which finds the device idle. A training step never comes here; the trainer
/// reads only at evaluations, checkpoints, progress intervals and the end.
/// </summary>
public sealed class DeviceReads(KernelLibrary kernels)
{
    private long count;

    /// <summary>Blocking waits so far.</summary>
    public long Count => Interlocked.Read(ref count);

    /// <summary>Waits until every launched kernel has finished, and counts the wait.</summary>
    public void WaitForDevice()
    {
        Interlocked.Increment(ref count);
        if (!kernels.Policy.IsPlanning)
        {
            kernels.Synchronize();
        }
    }
}
