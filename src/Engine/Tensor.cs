using System.Runtime.InteropServices;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Engine;

/// <summary>
/// A tensor in device memory, allocated once at a capacity shape and used at an actual batch size (dimension 0) up to
/// that capacity. Contiguous, row-major (NCHW for images). It owns its buffer, or is a slice of another tensor's (a
/// parameter in its model's flat arena) and then frees nothing. Dispose to free the memory.
/// </summary>
public sealed class Tensor<T> : IDisposable
    where T : unmanaged
{
    private readonly MemoryBuffer1D<T, Stride1D.Dense>? owned;
    private readonly ArrayView<T> view;

    /// <summary>Allocates a tensor of <paramref name="shape"/> on <paramref name="accelerator"/>, zero-filled.</summary>
    /// <exception cref="DeviceMemoryException">The device cannot hold it.</exception>
    public Tensor(Accelerator accelerator, Shape shape)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        Capacity = shape;
        try
        {
            owned = accelerator.Allocate1D<T>(Math.Max(1, shape.Length));
            owned.MemSetToZero();
            view = owned.View;
        }
        catch (Exception e) when (e is OutOfMemoryException or AcceleratorException or InvalidOperationException)
        {
            throw new DeviceMemoryException(
                $"Out of device memory allocating a tensor of shape {shape} ({DeviceMemoryException.Format(Bytes(shape))}); " +
                "try a smaller --batch-size or --width.", e);
        }
    }

    private Tensor(ArrayView<T> view, Shape shape)
    {
        this.view = view;
        Capacity = shape;
    }

    /// <summary>The shape it was allocated for.</summary>
    public Shape Capacity { get; }

    /// <summary>Bytes of device memory it holds (0 for a slice: its owner holds them).</summary>
    public long SizeInBytes => owned is null ? 0 : Bytes(Capacity);

    /// <summary>The whole tensor, at its capacity shape.</summary>
    public TensorView<T> View => new(view, Capacity);

    /// <summary>
    /// A tensor of <paramref name="shape"/> over elements <paramref name="offset"/> .. offset + length - 1 of this one,
    /// sharing its memory; disposing the slice frees nothing.
    /// </summary>
    public Tensor<T> Slice(long offset, Shape shape)
    {
        if (offset < 0 || offset + shape.Length > Capacity.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"A slice of shape {shape} at {offset} does not fit a tensor of shape {Capacity}.");
        }

        return new Tensor<T>(view.SubView(offset, shape.Length), shape);
    }

    /// <summary>The first <paramref name="batch"/> samples (dimension 0), at most the capacity's.</summary>
    public TensorView<T> ViewFor(int batch)
    {
        if (batch < 0 || batch > Capacity[0])
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"Batch {batch} exceeds tensor capacity {Capacity}.");
        }

        return new TensorView<T>(view, Capacity.WithBatch(batch));
    }

    /// <summary>Copies <paramref name="values"/> (exactly the capacity's length) to the device; waits for it (counted in <see cref="HostWaits"/>).</summary>
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
            HostWaits.Record(view.GetAccelerator());
            fixed (T* source = values)
            {
                view.SubView(0, values.Length).CopyFromCPU(ref *source, values.Length);
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
    public void Download(Span<T> destination) => Download(0, destination);

    /// <summary>
    /// Copies elements <paramref name="offset"/> .. offset + destination.Length - 1 to <paramref name="destination"/>;
    /// waits for the device (counted in <see cref="HostWaits"/>).
    /// </summary>
    public unsafe void Download(int offset, Span<T> destination)
    {
        if (offset < 0 || (long)offset + destination.Length > Capacity.Length)
        {
            throw new ArgumentException($"Tensor of shape {Capacity} holds {Capacity.Length} values; {destination.Length} at {offset} were asked for.", nameof(destination));
        }

        if (destination.Length > 0)
        {
            HostWaits.Record(view.GetAccelerator());
            fixed (T* target = destination)
            {
                view.SubView(offset, destination.Length).CopyToCPU(ref *target, destination.Length);
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose() => owned?.Dispose();

    private static long Bytes(Shape shape) => (long)shape.Length * Marshal.SizeOf<T>();
}

/// <summary>Copies between device views and host memory, pinning the host side while ILGPU copies.</summary>
public static class DeviceCopy
{
    /// <summary>Copies the first <c>destination.Length</c> elements of <paramref name="view"/> to <paramref name="destination"/>; waits for the device.</summary>
    public static unsafe void CopyToHost<T>(TensorView<T> view, Span<T> destination)
        where T : unmanaged
    {
        if (destination.Length > view.Length)
        {
            throw new ArgumentException($"A view of shape {view.Shape} holds {view.Length} values; {destination.Length} were asked for.", nameof(destination));
        }

        if (destination.Length > 0)
        {
            HostWaits.Record(view.Data.GetAccelerator());
            fixed (T* target = destination)
            {
                view.Data.SubView(0, destination.Length).CopyToCPU(ref *target, destination.Length);
            }
        }
    }

    /// <summary>Copies <paramref name="source"/> to the first <c>source.Length</c> elements of <paramref name="view"/>; waits for the copy.</summary>
    public static unsafe void CopyFromHost<T>(TensorView<T> view, ReadOnlySpan<T> source)
        where T : unmanaged
    {
        if (source.Length > view.Length)
        {
            throw new ArgumentException($"A view of shape {view.Shape} holds {view.Length} values; {source.Length} were given.", nameof(source));
        }

        if (source.Length > 0)
        {
            HostWaits.Record(view.Data.GetAccelerator());
            fixed (T* from = source)
            {
                view.Data.SubView(0, source.Length).CopyFromCPU(ref *from, source.Length);
            }
        }
    }
}
