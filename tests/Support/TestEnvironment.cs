using System.Runtime.CompilerServices;

namespace GpuNet.Tests.Support;

/// <summary>Process-wide settings of the test run, made before any test.</summary>
internal static class TestEnvironment
{
    /// <summary>Caches (decoded image folders, downloads) go under the tests' temporary folder, not the user's cache.</summary>
    [ModuleInitializer]
    internal static void KeepCachesInTheTestFolder()
    {
        if (Environment.GetEnvironmentVariable("GPUNET_CACHE") is not { Length: > 0 })
        {
            Environment.SetEnvironmentVariable("GPUNET_CACHE", Path.Combine(Path.GetTempPath(), "gpunet-tests", "cache"));
        }
    }
}
