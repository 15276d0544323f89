namespace GpuNet.Tests.Examples;

/// <summary>Tests that change process-wide state (the current directory, Console.Out) run alone.</summary>
[CollectionDefinition(nameof(ProcessGlobals), DisableParallelization = true)]
public sealed class ProcessGlobals;

[Collection(nameof(ProcessGlobals))]
public sealed class LibraryExampleTests
{
    private static string[] ExampleLines(string file)
    {
        string source = File.ReadAllText(Path.Combine(RepositoryRoot() ?? throw new InvalidOperationException(), "tests", "Examples", file));
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

    /// <summary>Runs an example in a fresh working directory with the console captured; returns the directory and what it printed.</summary>
    private static (string Directory, string Output) RunInNewDirectory(Action example)
    {
        string previous = Directory.GetCurrentDirectory();
        string dir = Support.SyntheticData.NewDirectory();
        Directory.SetCurrentDirectory(dir);
        using var output = new StringWriter();
        var console = Console.Out;
        try
        {
            Console.SetOut(output);
            example();
        }
        finally
        {
            Console.SetOut(console);
            Directory.SetCurrentDirectory(previous);
        }

        return (dir, output.ToString());
    }

    /// <summary>Every model file in examples/models parses and fits Fashion-MNIST's and CIFAR-10's samples and classes.</summary>
    [Fact]
    public void TheExampleModelFilesFitTheDataSets()
    {
        string root = RepositoryRoot() ?? "";
        if (root.Length == 0)
        {
            Assert.Skip("examples/ is not above this build (a published test folder); the repository's test run checks it");
        }

        var files = Directory.GetFiles(Path.Combine(root, "examples", "models"), "*.json");
        Assert.Contains(files, f => f.EndsWith("fashion-resnet-fast.json", StringComparison.Ordinal));
        foreach (string file in files)
        {
            var definition = GpuNet.Engine.Models.ModelDefinition.Load(file);
            foreach (var set in new[] { GpuNet.Engine.Data.DatasetKind.FashionMnist, GpuNet.Engine.Data.DatasetKind.Cifar10 })
            {
                var input = new GpuNet.Kernels.Shape(GpuNet.Engine.Data.DataSets.SampleShape(set)!);
                definition.Check(input, GpuNet.Engine.Data.DataSets.ClassNames(set)!.Count, file);
            }
        }
    }

    [Theory]
    [InlineData("LibraryExample.cs")]
    [InlineData("ResidualExample.cs")]
    public void TheReadmeShowsTheExampleThatThisTestRuns(string file)
    {
        string root = RepositoryRoot() ?? "";
        if (root.Length == 0)
        {
            Assert.Skip("README.md is not above this build (a published test folder); the repository's test run checks it");
        }

        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Split('\n').Select(l => l.Trim()).ToList();
        var lines = ExampleLines(file);
        int start = readme.IndexOf(lines[0]);
        Assert.True(start >= 0, $"the README lacks {file}'s first line");
        Assert.Equal(lines, readme.Skip(start).Take(lines.Length));
        Assert.True(lines.Length + 3 < 30, "an example must stay under 30 lines");
    }

    [Fact]
    public void TheExampleTrainsAndSaves()
    {
        var (dir, output) = RunInNewDirectory(LibraryExample.Run);
        Assert.Matches(@"^test accuracy 0\.(8|9)\d{3} after 300 steps", output);
        Assert.True(File.Exists(Path.Combine(dir, "my-run", "model.safetensors")));
    }

    [Fact]
    public void TheResidualExampleTrainsSavesAndExports()
    {
        var (dir, output) = RunInNewDirectory(ResidualExample.Run);
        var match = System.Text.RegularExpressions.Regex.Match(output, @"^test accuracy (0\.\d{4}) after 100 steps");
        Assert.True(match.Success, output);
        double accuracy = double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(accuracy > 0.6, $"the residual example reached only {accuracy} (chance is 0.1)");
        var (info, _) = GpuNet.Engine.Checkpoints.ModelFile.Read(Path.Combine(dir, "my-resnet-run", "model.safetensors"));
        string file = File.ReadAllText(Path.Combine(dir, "my-resnet.json"));
        Assert.Equal(file, (info.Spec.Definition with { Init = null }).ToJson());
        Assert.Equal(GpuNet.Engine.Layers.WeightInit.KaimingUniform, info.Spec.Init);
        TestContext.Current.TestOutputHelper?.WriteLine(output);
        Assert.Equal(file, GpuNet.Engine.Models.ModelDefinition.Parse(file, "my-resnet.json").ToJson());
        Assert.Contains("\"shortcut\"", file, StringComparison.Ordinal);
        Assert.True(new FileInfo(Path.Combine(dir, "my-resnet-run", "model.onnx")).Length > 10_000);
    }
}
