namespace GpuNet.Tests.Support;

/// <summary>Runs the gpunet command line in-process, capturing what it writes.</summary>
public static class Cli
{
    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = GpuNet.Cli.Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
