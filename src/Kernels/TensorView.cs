using ILGPU;

namespace GpuNet.Kernels;

/// <summary>
/// A shaped window on device memory: the first <see cref="Shape.Length"/> elements of <see cref="Data"/>, contiguous,
/// row-major. Launchers take these so that they can check shapes and name them in errors.
/// </summary>
public readonly struct TensorView<T>
    where T : unmanaged
{
    /// <summary>Wraps <paramref name="data"/>, which must hold at least <paramref name="shape"/>'s elements.</summary>
    public TensorView(ArrayView<T> data, Shape shape)
    {
        if (data.Length < shape.Length)
        {
            throw new ArgumentException(
                $"Shape {shape} needs {shape.Length} elements but the buffer holds {data.Length}.", nameof(shape));
        }

        Data = data.SubView(0, shape.Length);
        Shape = shape;
    }

    /// <summary>The elements, exactly <see cref="Shape.Length"/> of them.</summary>
    public ArrayView<T> Data { get; }

    /// <summary>The tensor's dimensions.</summary>
    public Shape Shape { get; }

    /// <summary>The number of elements.</summary>
    public int Length => Shape.Length;

    /// <summary>The same elements seen with another shape of the same length.</summary>
    public TensorView<T> Reshape(Shape shape)
    {
        if (shape.Length != Shape.Length)
        {
            throw new ArgumentException($"Cannot view shape {Shape} as shape {shape}: the lengths differ.", nameof(shape));
        }

        return new TensorView<T>(Data, shape);
    }

    /// <summary>Elements <paramref name="offset"/> .. offset + length - 1 seen with <paramref name="shape"/>.</summary>
    public TensorView<T> Slice(int offset, Shape shape)
    {
        if (offset < 0 || (long)offset + shape.Length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"A slice of shape {shape} at {offset} does not fit shape {Shape}.");
        }

        return new TensorView<T>(Data.SubView(offset, shape.Length), shape);
    }

    /// <inheritdoc/>
    public override string ToString() => $"TensorView<{typeof(T).Name}>{Shape}";
}
