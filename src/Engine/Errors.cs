namespace GpuNet.Engine;

/// <summary>The base of GpuNet's errors: each carries a one-line message fit to show a user as it is.</summary>
public class GpuNetException : Exception
{
    /// <summary>Creates the error with its one-line message.</summary>
    public GpuNetException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error with its one-line message.</summary>
    public GpuNetException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>
    /// <paramref name="text"/> (a library's message, which may quote a file's content) on one line: line breaks and runs
    /// of spaces become one space, and more than 200 characters are cut with an ellipsis.
    /// </summary>
    public static string OneLine(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string line = string.Join(' ', text.Split((char[])['\r', '\n', '\t', ' '], StringSplitOptions.RemoveEmptyEntries));
        return line.Length <= 200 ? line : line[..200] + "...";
    }
}

/// <summary>The requested accelerator is not present.</summary>
public sealed class AcceleratorNotFoundException(string message) : GpuNetException(message);

/// <summary>The device cannot hold what was asked of it.</summary>
public sealed class DeviceMemoryException(string message, Exception inner) : GpuNetException(message, inner)
{
    /// <summary>Bytes in MiB or GiB, for messages.</summary>
    public static string Format(long bytes) =>
        bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1L << 20):F1} MiB";
}

/// <summary>A data file is missing or malformed; the message names the file and what is wrong.</summary>
public sealed class DataException : GpuNetException
{
    /// <summary>Creates the error with its one-line message naming the file.</summary>
    public DataException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error with its one-line message naming the file.</summary>
    public DataException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>A checkpoint is missing, malformed or does not fit the model.</summary>
public sealed class CheckpointException : GpuNetException
{
    /// <summary>Creates the error with its one-line message naming the file.</summary>
    public CheckpointException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error with its one-line message naming the file.</summary>
    public CheckpointException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>Settings that cannot work together (a usage error).</summary>
public sealed class ConfigurationException(string message) : GpuNetException(message);

/// <summary>Training met a non-finite loss or gradient; the message names the step and the layer.</summary>
public sealed class DivergenceException(string message) : GpuNetException(message);

/// <summary>
/// The communication layer of data-parallel training failed: the MPI or NCCL library is missing or not the one
/// expected, or one of its calls returned an error; the message names the library or the call and what it said.
/// </summary>
public sealed class DistributedException : GpuNetException
{
    /// <summary>Creates the error with its one-line message.</summary>
    public DistributedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error with its one-line message.</summary>
    public DistributedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
