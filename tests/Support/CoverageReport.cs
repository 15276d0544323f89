[assembly: AssemblyFixture(typeof(GpuNet.Tests.Support.CoverageReport))]


namespace GpuNet.Tests.Support;

/// <summary>
/// At the end of the run, reports which accelerators the kernel tests ran on: to the process's own stdout (seen when
/// the test executable runs by itself) and to accelerators-covered.txt beside it (which .ci/run prints).
/// </summary>
public sealed class CoverageReport : IDisposable
{
    public static string ReportPath => Path.Combine(AppContext.BaseDirectory, "accelerators-covered.txt");

    public void Dispose()
    {
        string line = Accelerators.CoverageLine();
        File.WriteAllText(ReportPath, line + Environment.NewLine);
        using var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        stdout.WriteLine(line);
        Accelerators.DisposeAll();
    }
}
