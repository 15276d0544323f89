using GpuNet.Kernels;
using ILGPU.Runtime;

namespace GpuNet.Tests.Support;

/// <summary>Device buffers for tests: upload host arrays, read them back.</summary>
public sealed class Buffers(KernelLibrary library) : IDisposable
{
    private readonly List<IDisposable> owned = [];

    public TensorView<float> Upload(float[] data, params int[] dims)
    {
        var buffer = library.Accelerator.Allocate1D(data.Length == 0 ? new float[1] : data);
        owned.Add(buffer);
        return new TensorView<float>(buffer.View, new Shape(dims));
    }

    public TensorView<int> Upload(int[] data, params int[] dims)
    {
        var buffer = library.Accelerator.Allocate1D(data.Length == 0 ? new int[1] : data);
        owned.Add(buffer);
        return new TensorView<int>(buffer.View, new Shape(dims));
    }

    public TensorView<byte> Upload(byte[] data, params int[] dims)
    {
        var buffer = library.Accelerator.Allocate1D(data.Length == 0 ? new byte[1] : data);
        owned.Add(buffer);
        return new TensorView<byte>(buffer.View, new Shape(dims));
    }

    /// <summary>A tensor filled with NaN, so that a kernel that leaves an element unwritten is caught.</summary>
    public TensorView<float> Garbage(params int[] dims)
    {
        int length = new Shape(dims).Length;
        return Upload(Enumerable.Repeat(float.NaN, length).ToArray(), dims);
    }

    public TensorView<int> IntGarbage(params int[] dims)
    {
        int length = new Shape(dims).Length;
        return Upload(Enumerable.Repeat(-7, length).ToArray(), dims);
    }

    public float[] Read(TensorView<float> view)
    {
        library.Synchronize();
        var result = new float[view.Length];
        if (result.Length > 0)
        {
            view.Data.CopyToCPU(result);
        }

        return result;
    }

    public int[] Read(TensorView<int> view)
    {
        library.Synchronize();
        var result = new int[view.Length];
        if (result.Length > 0)
        {
            view.Data.CopyToCPU(result);
        }

        return result;
    }

    public void Dispose()
    {
        foreach (var buffer in owned)
        {
            buffer.Dispose();
        }
    }
}
