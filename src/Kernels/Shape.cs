using System.Globalization;

namespace GpuNet.Kernels;

/// <summary>
/// The dimensions of a contiguous row-major tensor, rank 1 to 4, stored inline so that making one allocates
/// nothing (launchers build shapes for partial batches inside training steps).
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    /// <summary>The largest rank a shape holds.</summary>
    public const int MaxRank = 4;

    private readonly int d0, d1, d2, d3;

    /// <summary>Creates a shape from 1 to 4 non-negative dimensions.</summary>
    public Shape(params ReadOnlySpan<int> dims)
    {
        if (dims.Length is < 1 or > MaxRank)
        {
            throw new ArgumentException($"A shape has rank 1 to {MaxRank}, not {dims.Length}.", nameof(dims));
        }

        long length = 1;
        foreach (int d in dims)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape dimensions must be non-negative, got {Format(dims)}.", nameof(dims));
            }

            length *= d;
            if (length > int.MaxValue)
            {
                throw new ArgumentException($"Shape {Format(dims)} has more than {int.MaxValue} elements.", nameof(dims));
            }
        }

        Rank = dims.Length;
        d0 = dims[0];
        d1 = dims.Length > 1 ? dims[1] : 1;
        d2 = dims.Length > 2 ? dims[2] : 1;
        d3 = dims.Length > 3 ? dims[3] : 1;
        Length = (int)length;
    }

    /// <summary>The number of dimensions.</summary>
    public int Rank { get; }

    /// <summary>The number of elements (the product of the dimensions).</summary>
    public int Length { get; }

    /// <summary>The size of dimension <paramref name="axis"/>.</summary>
    public int this[int axis] => axis switch
    {
        _ when axis < 0 || axis >= Rank => throw new ArgumentOutOfRangeException(nameof(axis), $"Axis {axis} is outside shape {this}."),
        0 => d0,
        1 => d1,
        2 => d2,
        _ => d3,
    };

    /// <summary>The same shape with dimension 0 (the batch) replaced.</summary>
    public Shape WithBatch(int batch) => Rank switch
    {
        1 => new Shape(batch),
        2 => new Shape(batch, d1),
        3 => new Shape(batch, d1, d2),
        _ => new Shape(batch, d1, d2, d3),
    };

    /// <summary>The product of the dimensions after the first (the size of one sample).</summary>
    public int SampleLength => Rank == 1 ? 1 : d1 * d2 * d3;

    /// <inheritdoc/>
    public bool Equals(Shape other) =>
        Rank == other.Rank && d0 == other.d0 && d1 == other.d1 && d2 == other.d2 && d3 == other.d3;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Rank, d0, d1, d2, d3);

    /// <summary>Whether the two shapes have the same rank and dimensions.</summary>
    public static bool operator ==(Shape left, Shape right) => left.Equals(right);

    /// <summary>Whether the two shapes have the same rank and dimensions.</summary>
    public static bool operator !=(Shape left, Shape right) => !left.Equals(right);

    /// <summary>Formats the shape as <c>(2, 3, 5, 5)</c>.</summary>
    public override string ToString() => Rank switch
    {
        1 => $"({d0})",
        2 => $"({d0}, {d1})",
        3 => $"({d0}, {d1}, {d2})",
        _ => $"({d0}, {d1}, {d2}, {d3})",
    };

    private static string Format(ReadOnlySpan<int> dims)
    {
        var parts = new string[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            parts[i] = dims[i].ToString(CultureInfo.InvariantCulture);
        }

        return "(" + string.Join(", ", parts) + ")";
    }
}
