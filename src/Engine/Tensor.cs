using System.Runtime.InteropServices;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Engine;

/// <summary>
/// A tensor in device memory: owns its buffer, allocated once at a capacity shape, and is used at an actual batch size
/// (dimension 0) up to that capacity. Contiguous, row-major (NCHW for images). Dispose to free the memory.
/// </summary>
public sealed class Tensor<T> : IDisposable
    where T : unmanaged
{
    private readonly MemoryBuffer1D<T, Stride1D.Dense> buffer;

    /// <summary>Allocates a tensor of <paramref name="shape"/> on <paramref name="accelerator"/>, zero-filled.</summary>
    /// <exception cref="DeviceMemoryException">The device cannot hold it.</exception>
    public Tensor(Accelerator accelerator, Shape shape)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        Capacity = shape;
        try
        {
            buffer = accelerator.Allocate1D<T>(Math.Max(1, shape.Length));
            buffer.MemSetToZero();
        }
        catch (Exception e) when (e is OutOfMemoryException or AcceleratorException or InvalidOperationException)
        {
            throw new DeviceMemoryException(
                $"Out of device memory allocating a tensor of shape {shape} ({DeviceMemoryException.Format(Bytes(shape))}); " +
                "try a smaller --batch-size or --width.", e);
        }
    }

    /// <summary>The shape it was allocated for.</summary>
    public Shape Capacity { get; }

    /// <summary>Bytes of device memory it holds.</summary>
    public long SizeInBytes => Bytes(Capacity);

    /// <summary>The whole tensor, at its capacity shape.</summary>
    public TensorView<T> View => new(buffer.View, Capacity);

    /// <summary>The first <paramref name="batch"/> samples (dimension 0), at most the capacity's.</summary>
    public TensorView<T> ViewFor(int batch)
    {
        if (batch < 0 || batch > Capacity[0])
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"Batch {batch} exceeds tensor capacity {Capacity}.");
        }

        return new TensorView<T>(buffer.View, Capacity.WithBatch(batch));
    }

    /// <summary>Copies <paramref name="values"/> (exactly the capacity's length) to the device; waits for it.</summary>
    public unsafe void Upload(ReadOnlySpan<T> values)
    {
        if (values.Length != Capacity.Length)
        {
            throw new ArgumentException($"Tensor of shape {Capacity} needs {Capacity.Length} values, got {values.Length}.", nameof(values));
        }

        if (values.Length > 0)
        {
            // ILGPU copies from the raw address of the reference: the host memory must stay pinned while it does, or a
            // garbage collection on another thread can move it mid-copy.
            fixed (T* source = values)
            {
                buffer.View.SubView(0, values.Length).CopyFromCPU(ref *source, values.Length);
            }
        }
    }

    /// <summary>Copies the whole tensor to a new host array; waits for every launched kernel first.</summary>
    public T[] Download()
    {
        var values = new T[Capacity.Length];
        Download(values);
        return values;
    }

    /// <summary>Copies the first <c>destination.Length</c> elements to <paramref name="destination"/>; waits for the device.</summary>
    public unsafe void Download(Span<T> destination)
    {
        if (destination.Length > Capacity.Length)
        {
            throw new ArgumentException($"Tensor of shape {Capacity} holds {Capacity.Length} values; {destination.Length} were asked for.", nameof(destination));
        }

        if (destination.Length > 0)
        {
            fixed (T* target = destination)
            {
                buffer.View.SubView(0, destination.Length).CopyToCPU(ref *target, destination.Length);
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose() => buffer.Dispose();

    private static long Bytes(Shape shape) => (long)shape.Length * Marshal.SizeOf<T>();
}
