using GpuNet.Cli;

namespace GpuNet.Tests.Cli;

public sealed class CliTests
{
    private static (int Code, string Output, string Error) Run(params string[] args) => Support.Cli.Run(args);

    [Fact]
    public void DevicesListsTheCpuAcceleratorAndMarksAutosPick()
    {
        var (code, output, error) = Run("devices");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("cpu", output, StringComparison.Ordinal);
        Assert.Contains("<- auto", output, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownCommandIsAUsageErrorWithoutAStackTrace()
    {
        var (code, _, error) = Run("frobnicate");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("frobnicate", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }
}

/// <summary>Shell completion goes through System.CommandLine's suggest directive, which dotnet-suggest calls.</summary>
public sealed class CompletionTests
{
    [Theory]
    [InlineData("[suggest:11]", "gpunet trai", "train")]
    [InlineData("[suggest:21]", "gpunet train --model ", "mlp-deep")]
    [InlineData("[suggest:28]", "gpunet train --accelerator ", "opencl")]
    public void TheSuggestDirectiveCompletesCommandsAndValues(string directive, string line, string expected)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, Program.Run([directive, line], output, error));
        Assert.Contains(expected, output.ToString().Split('\n', StringSplitOptions.TrimEntries));
    }
}
