namespace GpuNet.Tests.Examples;

/// <summary>Tests that change process-wide state (the current directory, Console.Out) run alone.</summary>
[CollectionDefinition(nameof(ProcessGlobals), DisableParallelization = true)]
public sealed class ProcessGlobals;

[Collection(nameof(ProcessGlobals))]
public sealed class LibraryExampleTests
{
    private static string[] ExampleLines()
    {
        string source = File.ReadAllText(Path.Combine(RepositoryRoot() ?? throw new InvalidOperationException(), "tests", "Examples", "LibraryExample.cs"));
        int begin = source.IndexOf("// example-begin", StringComparison.Ordinal), end = source.IndexOf("// example-end", StringComparison.Ordinal);
        return source[begin..end].Split('\n').Skip(1).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
    }

    private static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "README.md")) && Directory.Exists(Path.Combine(dir.FullName, "tests", "Examples")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    [Fact]
    public void TheReadmeShowsTheExampleThatThisTestRuns()
    {
        string root = RepositoryRoot() ?? "";
        if (root.Length == 0)
        {
            Assert.Skip("README.md is not above this build (a published test folder); the repository's test run checks it");
        }

        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Split('\n').Select(l => l.Trim()).ToList();
        var lines = ExampleLines();
        int start = readme.IndexOf(lines[0]);
        Assert.True(start >= 0, "the README lacks the library example's first line");
        Assert.Equal(lines, readme.Skip(start).Take(lines.Length));
        Assert.True(lines.Length + 3 < 30, "the example must stay under 30 lines");
    }

    [Fact]
    public void TheExampleTrainsAndSaves()
    {
        string previous = Directory.GetCurrentDirectory();
        string dir = Support.SyntheticData.NewDirectory();
        Directory.SetCurrentDirectory(dir);
        using var output = new StringWriter();
        var console = Console.Out;
        try
        {
            Console.SetOut(output);
            LibraryExample.Run();
        }
        finally
        {
            Console.SetOut(console);
            Directory.SetCurrentDirectory(previous);
        }

        Assert.Matches(@"^test accuracy 0\.(8|9)\d{3} after 300 steps", output.ToString());
        Assert.True(File.Exists(Path.Combine(dir, "my-run", "model.safetensors")));
    }
}
