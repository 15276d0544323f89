using System.CommandLine;
using System.Globalization;
using GpuNet.Engine;

namespace GpuNet.Cli;

/// <summary>The gpunet command line: parses options, calls the engine, reports, maps failures to exit codes.</summary>
public static class Program
{
    /// <summary>Exit code for a failure the engine reported (bad data, missing accelerator, out of memory, ...).</summary>
    public const int Failure = 1;

    /// <summary>Exit code for a usage error (unknown, bad or conflicting options).</summary>
    public const int UsageError = 2;

    public static int Main(string[] args)
    {
        // A kernel that reads outside its buffers on the CPU accelerator becomes an error exit, not an abort.
        GpuNet.Kernels.KernelFaults.Install();
        return Run(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected);
    }

    /// <summary>Runs the command line with <paramref name="args"/>, writing to the given streams; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, bool interactive = false)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        bool verbose = args.Contains("--verbose");
        var root = new RootCommand("GpuNet: train neural networks on a GPU with hand-written ILGPU kernels.");
        root.Subcommands.Add(TrainCommand.Create(output, interactive));
        root.Subcommands.Add(EvalCommand.Create(output));
        root.Subcommands.Add(ModelsCommand.Create(output));
        root.Subcommands.Add(DevicesCommand(output));
        root.Subcommands.Add(PictureCommands.Data(output, interactive));
        root.Subcommands.Add(PictureCommands.Compare(output));
        root.Subcommands.Add(ExportCommand.Create(output));
        root.Subcommands.Add(PredictCommand.Create(output, error));
        foreach (var option in root.Options)
        {
            if (option is VersionOption version)
            {
                version.Action = new VersionAction(output);
            }
        }

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                error.WriteLine($"gpunet: {OneLine(e.Message)}");
            }

            error.WriteLine("Run 'gpunet --help' for usage.");
            return UsageError;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (ConfigurationException e)
        {
            error.WriteLine($"gpunet: {e.Message}");
            return UsageError;
        }
        catch (GpuNetException e)
        {
            error.WriteLine($"gpunet: {e.Message}");
            if (verbose)
            {
                error.WriteLine(e.ToString());
            }

            return Failure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"gpunet: {e.Message}");
            if (verbose)
            {
                error.WriteLine(e.ToString());
            }

            return Failure;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A failure GpuNet did not anticipate: still one line, the details behind --verbose.
            error.WriteLine($"gpunet: internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}{(verbose ? "" : " (--verbose shows where)")}");
            if (verbose)
            {
                error.WriteLine(e.ToString());
            }

            return Failure;
        }
    }

    /// <summary>
    /// A parser message on one line: a list after a colon (the values an option accepts) becomes comma-separated.
    /// </summary>
    internal static string OneLine(string message)
    {
        var parts = message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > 1 && parts[0].EndsWith(':') ? $"{parts[0]} {string.Join(", ", parts[1..])}" : string.Join(' ', parts);
    }

    /// <summary>The --verbose option every command takes: print stack traces with errors.</summary>
    internal static Option<bool> VerboseOption() => new("--verbose") { Description = "Print stack traces with errors." };

    /// <summary>The --accelerator option: auto, cuda, opencl or cpu.</summary>
    internal static Option<string> AcceleratorOption()
    {
        var option = new Option<string>("--accelerator")
        {
            Description = "Where to run: auto (CUDA, then an OpenCL GPU, then the CPU accelerator), cuda, opencl or cpu.",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong([.. Enum.GetValues<AcceleratorKind>().Select(DeviceSelector.Describe)]);
        return option;
    }

    internal static AcceleratorKind ParseAccelerator(string? name) =>
        Enum.GetValues<AcceleratorKind>().FirstOrDefault(kind => DeviceSelector.Describe(kind) == name, AcceleratorKind.Auto);

    /// <summary>gpunet's version and the ILGPU version it runs on.</summary>
    internal static string VersionText()
    {
        static string Of(Type type) =>
            type.Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false) is [System.Reflection.AssemblyInformationalVersionAttribute a, ..]
                ? a.InformationalVersion.Split('+')[0]
                : type.Assembly.GetName().Version?.ToString() ?? "unknown";
        return $"gpunet {Of(typeof(Program))} (ILGPU {Of(typeof(ILGPU.Context))}, .NET {Environment.Version})";
    }

    private sealed class VersionAction(TextWriter output) : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            output.WriteLine(VersionText());
            return 0;
        }
    }

    private static Command DevicesCommand(TextWriter output)
    {
        var command = new Command("devices", "List every accelerator ILGPU sees, with its memory, and the one 'auto' picks; under mpirun, one line per rank.");
        command.Options.Add(VerboseOption());
        command.SetAction(_ =>
        {
            var devices = DeviceSelector.List();
            using var communicator = GpuNet.Engine.Distributed.Communicators.Open(GpuNet.Engine.Distributed.DistributedMode.Auto);
            var auto = DeviceSelector.Resolve(AcceleratorKind.Auto, devices, communicator.LocalRank);
            string Line(DeviceInfo d) => string.Create(
                CultureInfo.InvariantCulture, $"{DeviceSelector.Describe(d.Kind),-7} {d.Name}  {d.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB");
            if (communicator.Size == 1)
            {
                foreach (var d in devices)
                {
                    output.WriteLine(Line(d) + (d == auto ? "  <- auto" : ""));
                }

                return 0;
            }

            // Each rank's pick, gathered on rank 0 in rank order (a broadcast from each rank in turn).
            var mine = System.Text.Encoding.UTF8.GetBytes($"rank {communicator.Rank} of {communicator.Size} (local rank {communicator.LocalRank}, {Environment.MachineName}): {Line(auto)}");
            var buffer = new byte[1024];
            for (int rank = 0; rank < communicator.Size; rank++)
            {
                Array.Clear(buffer);
                if (rank == communicator.Rank)
                {
                    mine.AsSpan(0, Math.Min(mine.Length, buffer.Length)).CopyTo(buffer);
                }

                communicator.Broadcast(buffer, rank);
                if (communicator.Rank == 0)
                {
                    output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer).TrimEnd('\0'));
                }
            }

            return 0;
        });
        return command;
    }
}
