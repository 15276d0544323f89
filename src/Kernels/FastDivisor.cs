namespace GpuNet.Kernels;

/// <summary>
/// Division of a non-negative int by a fixed positive divisor as a multiply and a shift (Granlund and Montgomery), for
/// kernels that decompose flat indices every load: x / d = (x * Multiplier) >> Shift for every 0 &lt;= x &lt; 2^31.
/// </summary>
internal readonly record struct FastDivisor
{
    public FastDivisor(int divisor)
    {
        if (divisor < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(divisor), $"A divisor must be positive, got {divisor}.");
        }

        Divisor = divisor;
        int log = 0;
        while ((1L << log) < divisor)
        {
            log++;
        }

        // m = ceil(2^(31 + log) / d) < 2^32: exact for every dividend below 2^31.
        Shift = 31 + log;
        Multiplier = (long)((((UInt128)1 << Shift) + (UInt128)(uint)divisor - 1) / (uint)divisor);
    }

    /// <summary>d.</summary>
    public int Divisor { get; }

    /// <summary>ceil(2^Shift / d).</summary>
    public long Multiplier { get; }

    /// <summary>31 + ceil(log2 d).</summary>
    public int Shift { get; }

    /// <summary>x / d for 0 &lt;= x &lt; 2^31.</summary>
    public int Divide(int x) => (int)((ulong)((long)x * Multiplier) >> Shift);
}
