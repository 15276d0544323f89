using System.CommandLine;
using System.Globalization;
using GpuNet.Engine;

namespace GpuNet.Cli;

/// <summary>The gpunet command line: parses options, calls the engine, reports, maps failures to exit codes.</summary>
public static class Program
{
    /// <summary>Exit code for a usage error (bad or conflicting options).</summary>
    public const int UsageError = 2;

    /// <summary>Exit code for a failure the engine reported (bad data, missing accelerator, ...).</summary>
    public const int Failure = 1;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the command line with <paramref name="args"/>, writing to the given streams; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = BuildRoot(output);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                error.WriteLine($"gpunet: {e.Message}");
            }

            error.WriteLine("Run 'gpunet --help' for usage.");
            return UsageError;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (GpuNetException e)
        {
            error.WriteLine($"gpunet: {e.Message}");
            return Failure;
        }
    }

    private static RootCommand BuildRoot(TextWriter output)
    {
        var root = new RootCommand("GpuNet: train neural networks on a GPU with hand-written ILGPU kernels.");
        root.Subcommands.Add(DevicesCommand(output));
        return root;
    }

    private static Command DevicesCommand(TextWriter output)
    {
        var command = new Command("devices", "List every accelerator ILGPU sees, with its memory, and the one 'auto' picks.");
        command.SetAction(_ =>
        {
            var devices = DeviceSelector.List();
            var auto = DeviceSelector.Resolve(AcceleratorKind.Auto, devices);
            foreach (var d in devices)
            {
                string mark = d == auto ? " (auto)" : "";
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{DeviceSelector.Describe(d.Kind),-7} {d.Name}  {d.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB{mark}"));
            }

            return 0;
        });
        return command;
    }
}
