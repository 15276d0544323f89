using System.Runtime.InteropServices;

namespace GpuNet.Engine.Distributed;

/// <summary>nccl.h: <c>typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;</c>, 128 bytes, passed by value.</summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
internal unsafe struct NcclUniqueId
{
    /// <summary>NCCL_UNIQUE_ID_BYTES.</summary>
    public const int Bytes = 128;

    /// <summary>The opaque bytes rank 0 makes and every rank receives.</summary>
    public fixed byte Internal[Bytes];
}

/// <summary>
/// The part of NCCL's C API that GpuNet calls, loaded at run time from libnccl.so.2. Where it is looked for, in order:
/// an explicit path (<c>--nccl PATH</c>), the GPUNET_NCCL variable, the loader's own search (LD_LIBRARY_PATH, ldconfig),
/// then the <c>nvidia/nccl/lib</c> folder of Python's site-packages (the nvidia-nccl-cu12 wheel that PyTorch brings),
/// found by scanning the usual site-packages folders, without running Python.
/// </summary>
internal sealed unsafe class NcclLibrary
{
    /// <summary>NCCL's soname.</summary>
    public const string FileName = "libnccl.so.2";

    /// <summary>The variable that names the library's path.</summary>
    public const string PathVariable = "GPUNET_NCCL";

    /// <summary>nccl.h: <c>ncclSuccess = 0</c>.</summary>
    public const int Success = 0;

    /// <summary>nccl.h: <c>ncclFloat32 = 7, ncclFloat = 7</c>.</summary>
    public const int Float = 7;

    /// <summary>nccl.h: <c>ncclSum = 0</c>.</summary>
    public const int Sum = 0;

    /// <summary>nccl.h: <c>ncclInProgress = 7</c> (a non-blocking call still running: no error).</summary>
    public const int InProgress = 7;

    private NcclLibrary(string path, nint handle)
    {
        Path = path;
        GetVersion = (delegate* unmanaged[Cdecl]<int*, int>)Symbol(handle, path, "ncclGetVersion");
        GetUniqueId = (delegate* unmanaged[Cdecl]<NcclUniqueId*, int>)Symbol(handle, path, "ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged[Cdecl]<nint*, int, NcclUniqueId, int, int>)Symbol(handle, path, "ncclCommInitRank");
        AllReduce = (delegate* unmanaged[Cdecl]<void*, void*, nuint, int, int, nint, nint, int>)Symbol(handle, path, "ncclAllReduce");
        CommDestroy = (delegate* unmanaged[Cdecl]<nint, int>)Symbol(handle, path, "ncclCommDestroy");
        GetErrorString = (delegate* unmanaged[Cdecl]<int, byte*>)Symbol(handle, path, "ncclGetErrorString");
        CommGetAsyncError = (delegate* unmanaged[Cdecl]<nint, int*, int>)Symbol(handle, path, "ncclCommGetAsyncError");
        CommAbort = (delegate* unmanaged[Cdecl]<nint, int>)Symbol(handle, path, "ncclCommAbort");
    }

    /// <summary><c>ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError)</c>.</summary>
    public delegate* unmanaged[Cdecl]<nint, int*, int> CommGetAsyncError { get; }

    /// <summary><c>ncclResult_t ncclCommAbort(ncclComm_t comm)</c>: frees the communicator, ending its pending operations.</summary>
    public delegate* unmanaged[Cdecl]<nint, int> CommAbort { get; }

    /// <summary>The path or name it was loaded from.</summary>
    public string Path { get; }

    /// <summary><c>ncclResult_t ncclGetVersion(int *version)</c>.</summary>
    public delegate* unmanaged[Cdecl]<int*, int> GetVersion { get; }

    /// <summary><c>ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId)</c>.</summary>
    public delegate* unmanaged[Cdecl]<NcclUniqueId*, int> GetUniqueId { get; }

    /// <summary><c>ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank)</c>.</summary>
    public delegate* unmanaged[Cdecl]<nint*, int, NcclUniqueId, int, int> CommInitRank { get; }

    /// <summary>
    /// <c>ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
    /// ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)</c>.
    /// </summary>
    public delegate* unmanaged[Cdecl]<void*, void*, nuint, int, int, nint, nint, int> AllReduce { get; }

    /// <summary><c>ncclResult_t ncclCommDestroy(ncclComm_t comm)</c>.</summary>
    public delegate* unmanaged[Cdecl]<nint, int> CommDestroy { get; }

    /// <summary><c>const char* ncclGetErrorString(ncclResult_t result)</c>.</summary>
    public delegate* unmanaged[Cdecl]<int, byte*> GetErrorString { get; }

    /// <summary>Loads NCCL from <paramref name="explicitPath"/> if given, else from where the class summary says.</summary>
    /// <exception cref="DistributedException">It is not found or does not load; one line saying where it was looked for.</exception>
    public static NcclLibrary Load(string? explicitPath) => Load(explicitPath, Environment.GetEnvironmentVariable);

    /// <summary><see cref="Load(string)"/> with the environment given.</summary>
    internal static NcclLibrary Load(string? explicitPath, Func<string, string?> environment)
    {
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return LoadPath(explicitPath, "--nccl");
        }

        if (environment(PathVariable) is { Length: > 0 } fromVariable)
        {
            return LoadPath(fromVariable, PathVariable);
        }

        if (NativeLibrary.TryLoad(FileName, out nint handle))
        {
            return new NcclLibrary(FileName, handle);
        }

        if (SitePackagesCandidates(environment).FirstOrDefault(File.Exists) is { } wheel)
        {
            return LoadPath(wheel, "Python's site-packages");
        }

        throw new DistributedException(
            $"NCCL's {FileName} was not found on the loader's path or in Python's site-packages (nvidia/nccl/lib); " +
            $"install it (pip install nvidia-nccl-cu12, or NVIDIA's libnccl2 package) or give its path with --nccl PATH or {PathVariable}.");
    }

    /// <summary>
    /// Where the nvidia-nccl wheel may have put the library: <c>nvidia/nccl/lib/libnccl.so.2</c> under each folder of
    /// PYTHONPATH, then under the site-packages of VIRTUAL_ENV, CONDA_PREFIX, the user's ~/.local, /usr/local, /usr and
    /// /opt/conda, for every python3.* there.
    /// </summary>
    internal static IEnumerable<string> SitePackagesCandidates(Func<string, string?> environment)
    {
        var folders = new List<string>();
        if (environment("PYTHONPATH") is { Length: > 0 } pythonPath)
        {
            folders.AddRange(pythonPath.Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }

        string? home = environment("HOME");
        foreach (string? prefix in (string?[])[environment("VIRTUAL_ENV"), environment("CONDA_PREFIX"),
            home is null ? null : System.IO.Path.Combine(home, ".local"), "/usr/local", "/usr", "/opt/conda"])
        {
            string lib = System.IO.Path.Combine(prefix ?? "", "lib");
            if (prefix is null || !Directory.Exists(lib))
            {
                continue;
            }

            foreach (string python in Directory.EnumerateDirectories(lib, "python3*").Order(StringComparer.Ordinal))
            {
                folders.Add(System.IO.Path.Combine(python, "site-packages"));
                folders.Add(System.IO.Path.Combine(python, "dist-packages"));
            }
        }

        folders.Add("/usr/lib/python3/dist-packages");
        return folders.Select(folder => System.IO.Path.Combine(folder, "nvidia", "nccl", "lib", FileName));
    }

    /// <summary>NCCL's text for <paramref name="code"/> (ncclGetErrorString).</summary>
    public string Describe(int code)
    {
        byte* text = GetErrorString(code);
        return text is null ? $"ncclResult_t {code}" : Marshal.PtrToStringUTF8((nint)text) ?? $"ncclResult_t {code}";
    }

    private static NcclLibrary LoadPath(string path, string source)
    {
        if (!File.Exists(path))
        {
            throw new DistributedException($"The NCCL library {path} (from {source}) does not exist.");
        }

        if (!NativeLibrary.TryLoad(System.IO.Path.GetFullPath(path), out nint handle))
        {
            throw new DistributedException(
                $"The NCCL library {path} (from {source}) could not be loaded: not a shared library for this machine, " +
                "or one of its dependencies (libcudart, the CUDA driver) is missing.");
        }

        return new NcclLibrary(path, handle);
    }

    private static nint Symbol(nint handle, string path, string symbol) =>
        NativeLibrary.TryGetExport(handle, symbol, out nint address)
            ? address
            : throw new DistributedException($"{path} is not an NCCL 2 library (it has no {symbol}).");
}
