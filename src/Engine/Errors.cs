namespace GpuNet.Engine;

/// <summary>The base of GpuNet's errors: each carries a one-line message fit to show a user as it is.</summary>
public class GpuNetException : Exception
{
    public GpuNetException(string message)
        : base(message)
    {
    }

    public GpuNetException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The requested accelerator is not present.</summary>
public sealed class AcceleratorNotFoundException(string message) : GpuNetException(message);
