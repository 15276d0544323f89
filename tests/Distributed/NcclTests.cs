using System.Diagnostics;
using System.Runtime.InteropServices;
using GpuNet.Engine;
using GpuNet.Engine.Distributed;
using GpuNet.Tests.Support;
using ILGPU.Runtime;

namespace GpuNet.Tests.Distributed;

/// <summary>
/// The NCCL binding without NCCL or a GPU: gcc builds FakeNccl.c into a libnccl.so.2 that records what it is called
/// with, the binding loads it by path, and the tests read the records back. Skipped, with the reason, without gcc.
/// </summary>
public sealed class NcclTests
{
    private static readonly Lazy<string> FakeFolder = new(() => Compile(Path.Combine(AppContext.BaseDirectory, "Distributed", "FakeNccl.c"), NcclLibrary.FileName));

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate long GetFunction([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void InitIdFunction([Out] byte[] id);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void FailFunction([MarshalAs(UnmanagedType.LPUTF8Str)] string function, int code);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetFunction(int on);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void ResetFunction();

    /// <summary>The fake's path; a fresh record each time.</summary>
    private static string FakePath
    {
        get
        {
            string path = Path.Combine(FakeFolder.Value, NcclLibrary.FileName);
            Export<ResetFunction>(path, "fake_nccl_reset")();
            return path;
        }
    }

    [Fact]
    public void RankZeroMakesTheIdAndEveryArgumentReachesNccl()
    {
        string path = FakePath;
        using var single = new SingleProcess();
        using (var nccl = new NcclCommunicator(NcclLibrary.Load(path), single, accelerator: null))
        {
            Assert.Equal((0, 1, 22703, path), (nccl.Rank, nccl.Size, nccl.Version, nccl.LibraryPath));
            Assert.Equal(1, Get(path, "getUniqueIdCalls"));
            Assert.Equal((1, 1, 0), (Get(path, "initRankCalls"), Get(path, "initNranks"), Get(path, "initRank")));
            Assert.Equal(Enumerable.Range(0, 128).Select(i => (byte)((i * 7) + 3)), InitId(path));

            // Beyond 32 bits, as size_t: ncclAllReduce(buffer, buffer, count, ncclFloat = 7, ncclSum = 0, comm, stream).
            nccl.AllReduceSum(devicePointer: unchecked((nint)0x7f00_1234_5670), count: (1L << 33) + 5, stream: 0x5eed_beef);
            Assert.Equal(1, Get(path, "allReduceCalls"));
            Assert.Equal(0x7f00_1234_5670, Get(path, "sendbuff"));
            Assert.Equal(0x7f00_1234_5670, Get(path, "recvbuff"));
            Assert.Equal((1L << 33) + 5, Get(path, "count"));
            Assert.Equal((7, 0), (Get(path, "datatype"), Get(path, "op")));
            Assert.Equal(Get(path, "communicator"), Get(path, "comm"));
            Assert.Equal(0x5eed_beef, Get(path, "stream"));
            Assert.Equal(0, Get(path, "destroyCalls"));
        }

        Assert.Equal((1, Get(path, "communicator")), (Get(path, "destroyCalls"), Get(path, "destroyed")));
    }

    [Fact]
    public void AnotherRankTakesTheBroadcastIdAndNeverMakesOne()
    {
        string path = FakePath;
        var fromRoot = Enumerable.Range(0, 128).Select(i => (byte)(200 - i)).ToArray();
        using var host = new BroadcastingHost(rank: 2, size: 3, rootCode: 0, fromRoot);
        using var nccl = new NcclCommunicator(NcclLibrary.Load(path), host, accelerator: null);
        Assert.Equal(0, Get(path, "getUniqueIdCalls"));
        Assert.Equal((3, 2), (Get(path, "initNranks"), Get(path, "initRank")));
        Assert.Equal(fromRoot, InitId(path));
        Assert.Equal([0], host.Roots);
    }

    [Fact]
    public void AFailureOnRankZeroFailsEveryRankAlike()
    {
        string path = FakePath;
        using var host = new BroadcastingHost(rank: 1, size: 2, rootCode: 2, new byte[128]);
        var error = Assert.Throws<DistributedException>(() => new NcclCommunicator(NcclLibrary.Load(path), host, accelerator: null));
        Assert.Equal("ncclGetUniqueId failed on rank 0 of 2: unhandled system error (run with NCCL_DEBUG=INFO for details) (ncclResult_t 2).", error.Message);
        Assert.Equal(0, Get(path, "initRankCalls"));
    }

    [Fact]
    public void AnErrorCodeBecomesATypedExceptionWithNcclsText()
    {
        string path = FakePath;
        using var single = new SingleProcess();
        Fail(path, "ncclCommInitRank", 5);
        var init = Assert.Throws<DistributedException>(() => new NcclCommunicator(NcclLibrary.Load(path), single, accelerator: null));
        Assert.Equal("ncclCommInitRank failed on rank 0 of 1: invalid usage (run with NCCL_DEBUG=WARN for details) (ncclResult_t 5).", init.Message);

        var nccl = new NcclCommunicator(NcclLibrary.Load(path), single, accelerator: null);
        Fail(path, "ncclAllReduce", 5);
        var reduce = Assert.Throws<DistributedException>(() => nccl.AllReduceSum(devicePointer: 64, count: 1, stream: 0));
        Assert.Equal("ncclAllReduce failed on rank 0 of 1: invalid usage (run with NCCL_DEBUG=WARN for details) (ncclResult_t 5).", reduce.Message);
        Assert.IsType<GpuNetException>(reduce, exactMatch: false);

        Fail(path, "ncclCommDestroy", 3);
        var destroy = Assert.Throws<DistributedException>(nccl.Dispose);
        Assert.Equal("ncclCommDestroy failed on rank 0 of 1: fake NCCL error (ncclResult_t 3).", destroy.Message);
        nccl.Dispose();
        Assert.Equal(1, Get(path, "destroyCalls"));
        Assert.Throws<ObjectDisposedException>(() => nccl.AllReduceSum(devicePointer: 64, count: 1, stream: 0));
    }

    /// <summary>
    /// An asynchronous error (a peer lost mid-collective) is found by the poll the host makes at its read points: the
    /// communicator is aborted (ncclCommAbort, so nothing spins on) and one line names the rank and NCCL's text.
    /// </summary>
    [Fact]
    public void AnAsyncErrorAbortsTheCommunicatorAndNamesTheRank()
    {
        string path = FakePath;
        using var host = new BroadcastingHost(rank: 1, size: 2, rootCode: 0, new byte[128]);
        var nccl = new NcclCommunicator(NcclLibrary.Load(path), host, accelerator: null);
        nccl.CheckAsyncError();
        Assert.Equal((1, 0), (Get(path, "asyncErrorCalls"), Get(path, "abortCalls")));

        Export<SetFunction>(path, "fake_nccl_async_error")(2);
        var error = Assert.Throws<DistributedException>(nccl.CheckAsyncError);
        Assert.Equal(
            "NCCL failed on rank 1 of 2: unhandled system error (run with NCCL_DEBUG=INFO for details) (ncclResult_t 2, reported asynchronously); the NCCL communicator was aborted.",
            error.Message);
        Assert.Equal(1, Get(path, "abortCalls"));
        Assert.Equal(Get(path, "communicator"), Get(path, "aborted"));

        // Aborted means gone: no further poll, no destroy, no collective.
        nccl.CheckAsyncError();
        nccl.Dispose();
        Assert.Equal((2, 0), (Get(path, "asyncErrorCalls"), Get(path, "destroyCalls")));
        Assert.Throws<ObjectDisposedException>(() => nccl.AllReduceSum(devicePointer: 64, count: 1, stream: 0));

        // ncclInProgress is no error.
        var second = new NcclCommunicator(NcclLibrary.Load(path), host, accelerator: null);
        Export<SetFunction>(path, "fake_nccl_async_error")(NcclLibrary.InProgress);
        second.CheckAsyncError();
        Assert.Equal(1, Get(path, "abortCalls"));
        second.Dispose();
    }

    /// <summary>
    /// The address of a view is its buffer's plus its offset (ILGPU's LoadEffectiveAddressAsPtr): on the CPU
    /// accelerator, where that address is host memory, the fake really sums (every rank holding the same values, so
    /// the sum is size times the value), and exactly the view's elements change.
    /// </summary>
    [Fact]
    public void TheViewsAddressAndLengthReachNccl()
    {
        string path = FakePath;
        Export<SetFunction>(path, "fake_nccl_compute")(1);
        var library = Accelerators.Get("cpu");
        lock (Accelerators.GateFor(library))
        {
            using var buffer = library.Accelerator.Allocate1D(Enumerable.Range(0, 100).Select(i => (float)i).ToArray());
            var view = buffer.View.SubView(10, 37);
            Assert.Equal(buffer.NativePtr + (10 * sizeof(float)), NcclCommunicator.DevicePointer(view));

            using var host = new BroadcastingHost(rank: 0, size: 3, rootCode: 0, null);
            using var nccl = new NcclCommunicator(NcclLibrary.Load(path), host, accelerator: null);
            nccl.AllReduceSum(NcclCommunicator.DevicePointer(view), view.Length, stream: 0);
            Assert.Equal(Enumerable.Range(0, 100).Select(i => i is >= 10 and < 47 ? 3f * i : i), buffer.GetAsArray1D());
        }
    }

    [Fact]
    public void TheLibraryIsFoundByPathVariableLoaderOrSitePackagesAndAbsenceIsOneLine()
    {
        string fake = FakePath;
        Assert.Equal(fake, NcclLibrary.Load(null, name => name == NcclLibrary.PathVariable ? fake : null).Path);

        // A virtual environment's nvidia-nccl wheel: <prefix>/lib/python3.X/site-packages/nvidia/nccl/lib/libnccl.so.2.
        string prefix = SyntheticData.NewDirectory();
        string wheel = Path.Combine(prefix, "lib", "python3.12", "site-packages", "nvidia", "nccl", "lib");
        Directory.CreateDirectory(wheel);
        File.Copy(fake, Path.Combine(wheel, NcclLibrary.FileName));
        Func<string, string?> venv = name => name == "VIRTUAL_ENV" ? prefix : null;
        Assert.Contains(Path.Combine(wheel, NcclLibrary.FileName), NcclLibrary.SitePackagesCandidates(venv));
        bool installed = NativeLibrary.TryLoad(NcclLibrary.FileName, out _);
        Assert.Equal(installed ? NcclLibrary.FileName : Path.Combine(wheel, NcclLibrary.FileName), NcclLibrary.Load(null, venv).Path);

        var missing = Assert.Throws<DistributedException>(() => NcclLibrary.Load(Path.Combine(prefix, "nowhere", "libnccl.so.2")));
        Assert.Equal($"The NCCL library {Path.Combine(prefix, "nowhere", "libnccl.so.2")} (from --nccl) does not exist.", missing.Message);
        string notNccl = Path.Combine(Compile(WriteSource("int nothing(void) { return 0; }"), "libnothing.so"), "libnothing.so");
        var foreign = Assert.Throws<DistributedException>(() => NcclLibrary.Load(null, name => name == NcclLibrary.PathVariable ? notNccl : null));
        Assert.Equal($"{notNccl} is not an NCCL 2 library (it has no ncclGetVersion).", foreign.Message);
        if (!installed)
        {
            var absent = Assert.Throws<DistributedException>(() => NcclLibrary.Load(null, _ => null));
            Assert.Equal(
                "NCCL's libnccl.so.2 was not found on the loader's path or in Python's site-packages (nvidia/nccl/lib); install it " +
                "(pip install nvidia-nccl-cu12, or NVIDIA's libnccl2 package) or give its path with --nccl PATH or GPUNET_NCCL.",
                absent.Message);
        }
    }

    /// <summary>A host communicator of any rank and size whose broadcast delivers what rank 0 would have sent.</summary>
    private sealed class BroadcastingHost(int rank, int size, int rootCode, byte[]? rootId) : ICommunicator
    {
        public List<int> Roots { get; } = [];

        public int Rank => rank;

        public int Size => size;

        public int LocalRank => rank;

        public string Backend => "test";

        public void Broadcast(Span<byte> data, int root)
        {
            Roots.Add(root);
            Assert.Equal(4 + 128, data.Length);
            if (rank != root)
            {
                BitConverter.TryWriteBytes(data, rootCode);
                rootId.CopyTo(data[4..]);
            }
        }

        public void AllReduceSum(Span<float> values) => throw new NotSupportedException();

        public void AllReduceSum(Span<double> values) => throw new NotSupportedException();

        public void AllReduceSum(Span<long> values) => throw new NotSupportedException();

        public void AllReduceMax(Span<int> values) => throw new NotSupportedException();

        public void Broadcast(Span<float> data, int root) => throw new NotSupportedException();

        public void Barrier() => throw new NotSupportedException();

        public void Abort(int exitCode) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }

    private static long Get(string path, string name) => Export<GetFunction>(path, "fake_nccl_get")(name);

    private static byte[] InitId(string path)
    {
        var id = new byte[128];
        Export<InitIdFunction>(path, "fake_nccl_init_id")(id);
        return id;
    }

    private static void Fail(string path, string function, int code) => Export<FailFunction>(path, "fake_nccl_fail")(function, code);

    /// <summary>A function of the fake, from the same loaded copy the binding uses (dlopen of one path is one library).</summary>
    private static T Export<T>(string path, string symbol)
        where T : Delegate =>
        Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(NativeLibrary.Load(path), symbol));

    private static string WriteSource(string text)
    {
        string source = Path.Combine(SyntheticData.NewDirectory(), "source.c");
        File.WriteAllText(source, text);
        return source;
    }

    /// <summary>Compiles <paramref name="source"/> into a shared library <paramref name="name"/> in a new folder; skips without gcc.</summary>
    private static string Compile(string source, string name)
    {
        string? gcc = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "gcc")).FirstOrDefault(File.Exists);
        if (gcc is null)
        {
            Assert.Skip("gcc is not on PATH; it builds the fake libnccl.so.2 these tests load (apt-get install gcc)");
        }

        string folder = SyntheticData.NewDirectory();
        using var compile = Process.Start(new ProcessStartInfo(gcc, ["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", Path.Combine(folder, name), source])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        string errors = compile.StandardError.ReadToEnd() + compile.StandardOutput.ReadToEnd();
        compile.WaitForExit();
        Assert.True(compile.ExitCode == 0, $"gcc failed on {source}:\n{errors}");
        return folder;
    }
}
