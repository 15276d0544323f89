using GpuNet.Kernels;

namespace GpuNet.Engine;

/// <summary>
/// Where training and evaluation wait for the device: a read point calls <see cref="WaitForDevice"/> and then copies
/// what it needs, which finds the device idle. A training step never comes here; the trainer reads only at evaluations,
/// checkpoints, progress intervals and the end. <see cref="Count"/> is every blocking exchange with the accelerator
/// (<see cref="HostWaits"/>: synchronizes and copies to or from host memory, wherever they were made).
/// </summary>
public sealed class DeviceReads(KernelLibrary kernels)
{
    /// <summary>Blocking exchanges with the accelerator so far: waits for it, and copies to and from host memory.</summary>
    public long Count => HostWaits.Count(kernels.Accelerator);

    /// <summary>Waits until every launched kernel has finished (counted; a plan counts it without waiting).</summary>
    public void WaitForDevice()
    {
        if (kernels.Policy.IsPlanning)
        {
            HostWaits.Record(kernels.Accelerator);
            return;
        }

        kernels.Synchronize();
    }
}
