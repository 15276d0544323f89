using GpuNet.Engine;

namespace GpuNet.Tests.Engine;

public sealed class DeviceSelectorTests
{
    private static readonly DeviceInfo Cpu = new(AcceleratorKind.Cpu, "ILGPU CPU accelerator", 1L << 30, false, 0);
    private static readonly DeviceInfo PoclCpu = new(AcceleratorKind.OpenCL, "pthread-cpu", 1L << 30, false, 0);
    private static readonly DeviceInfo OpenClGpu = new(AcceleratorKind.OpenCL, "Radeon", 1L << 33, true, 1);
    private static readonly DeviceInfo Cuda = new(AcceleratorKind.Cuda, "H200", 1L << 37, true, 0);

    [Fact]
    public void AutoPrefersCudaThenAnOpenClGpuThenTheCpu()
    {
        Assert.Equal(Cuda, DeviceSelector.Resolve(AcceleratorKind.Auto, [Cuda, PoclCpu, OpenClGpu, Cpu]));
        Assert.Equal(OpenClGpu, DeviceSelector.Resolve(AcceleratorKind.Auto, [PoclCpu, OpenClGpu, Cpu]));
        Assert.Equal(Cpu, DeviceSelector.Resolve(AcceleratorKind.Auto, [PoclCpu, Cpu]));
    }

    [Fact]
    public void ExplicitKindsPickTheirFirstDevice()
    {
        Assert.Equal(PoclCpu, DeviceSelector.Resolve(AcceleratorKind.OpenCL, [Cuda, PoclCpu, OpenClGpu, Cpu]));
        Assert.Equal(Cpu, DeviceSelector.Resolve(AcceleratorKind.Cpu, [Cuda, Cpu]));
    }

    [Fact]
    public void AnAbsentKindIsAnErrorListingWhatIsPresent()
    {
        var error = Assert.Throws<AcceleratorNotFoundException>(() => DeviceSelector.Resolve(AcceleratorKind.Cuda, [PoclCpu, Cpu]));
        Assert.Contains("No cuda accelerator", error.Message, StringComparison.Ordinal);
        Assert.Contains("opencl (pthread-cpu)", error.Message, StringComparison.Ordinal);
        Assert.Contains("cpu (ILGPU CPU accelerator)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void TheCpuAcceleratorIsAlwaysListedAndOpens()
    {
        var devices = DeviceSelector.List();
        Assert.Contains(devices, d => d.Kind == AcceleratorKind.Cpu);
        using var device = Device.Open(AcceleratorKind.Cpu);
        Assert.Equal(AcceleratorKind.Cpu, device.Info.Kind);
        Assert.True(device.Kernels.Policy.IsCpu);
    }
}
