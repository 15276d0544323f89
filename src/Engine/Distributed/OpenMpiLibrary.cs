using System.Runtime.InteropServices;

namespace GpuNet.Engine.Distributed;

/// <summary>
/// The part of Open MPI's C API that GpuNet calls, loaded at run time from libmpi.so.40 (Open MPI 3 and later).
/// Open MPI's predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of exported global
/// objects (mpi.h: <c>#define MPI_COMM_WORLD OMPI_PREDEFINED_GLOBAL(MPI_Comm, ompi_mpi_comm_world)</c>, that is
/// <c>&amp;ompi_mpi_comm_world</c>), so each is the address of its symbol. Loaded once per process and never unloaded.
/// </summary>
internal sealed unsafe class OpenMpiLibrary
{
    /// <summary>The names tried in order: Open MPI's versioned soname, then the development link.</summary>
    public static readonly IReadOnlyList<string> DefaultNames = ["libmpi.so.40", "libmpi.so"];

    /// <summary>mpi.h: <c>#define MPI_IN_PLACE ((void *) 1)</c>.</summary>
    public static readonly void* InPlace = (void*)1;

    /// <summary>mpi.h: <c>MPI_SUCCESS 0</c>.</summary>
    public const int Success = 0;

    /// <summary>mpi.h: <c>enum { MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED, MPI_THREAD_SERIALIZED, MPI_THREAD_MULTIPLE }</c>.</summary>
    public const int ThreadSerialized = 2;

    /// <summary>mpi.h: <c>MPI_THREAD_MULTIPLE</c>.</summary>
    public const int ThreadMultiple = 3;

    /// <summary>mpi.h: <c>MPI_MAX_ERROR_STRING</c> (OPAL_MAX_ERROR_STRING, 256).</summary>
    public const int MaxErrorString = 256;

    private const string InstallHint = "install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)";

    private static readonly Lock LoadGate = new();
    private static readonly Dictionary<string, OpenMpiLibrary> Loaded = [];

    private OpenMpiLibrary(string name, nint handle)
    {
        Name = name;
        CommWorld = Symbol(handle, name, "ompi_mpi_comm_world");
        Float = Symbol(handle, name, "ompi_mpi_float");
        Double = Symbol(handle, name, "ompi_mpi_double");
        Int = Symbol(handle, name, "ompi_mpi_int");
        Int64 = Symbol(handle, name, "ompi_mpi_int64_t");
        Byte = Symbol(handle, name, "ompi_mpi_byte");
        OpSum = Symbol(handle, name, "ompi_mpi_op_sum");
        OpMax = Symbol(handle, name, "ompi_mpi_op_max");
        ErrorsReturn = Symbol(handle, name, "ompi_mpi_errors_return");
        Initialized = (delegate* unmanaged[Cdecl]<int*, int>)Symbol(handle, name, "MPI_Initialized");
        Finalized = (delegate* unmanaged[Cdecl]<int*, int>)Symbol(handle, name, "MPI_Finalized");
        InitThread = (delegate* unmanaged[Cdecl]<int*, byte***, int, int*, int>)Symbol(handle, name, "MPI_Init_thread");
        Finalize = (delegate* unmanaged[Cdecl]<int>)Symbol(handle, name, "MPI_Finalize");
        CommSetErrhandler = (delegate* unmanaged[Cdecl]<nint, nint, int>)Symbol(handle, name, "MPI_Comm_set_errhandler");
        CommRank = (delegate* unmanaged[Cdecl]<nint, int*, int>)Symbol(handle, name, "MPI_Comm_rank");
        CommSize = (delegate* unmanaged[Cdecl]<nint, int*, int>)Symbol(handle, name, "MPI_Comm_size");
        Allreduce = (delegate* unmanaged[Cdecl]<void*, void*, int, nint, nint, nint, int>)Symbol(handle, name, "MPI_Allreduce");
        Bcast = (delegate* unmanaged[Cdecl]<void*, int, nint, int, nint, int>)Symbol(handle, name, "MPI_Bcast");
        Barrier = (delegate* unmanaged[Cdecl]<nint, int>)Symbol(handle, name, "MPI_Barrier");
        Abort = (delegate* unmanaged[Cdecl]<nint, int, int>)Symbol(handle, name, "MPI_Abort");
        ErrorString = (delegate* unmanaged[Cdecl]<int, byte*, int*, int>)Symbol(handle, name, "MPI_Error_string");
        ExecuteQuiet = NativeLibrary.TryGetExport(handle, "orte_execute_quiet", out nint quiet) ? (bool*)quiet : null;
    }

    /// <summary>The name the library was loaded by.</summary>
    public string Name { get; }

    /// <summary>MPI_COMM_WORLD.</summary>
    public nint CommWorld { get; }

    /// <summary>MPI_FLOAT.</summary>
    public nint Float { get; }

    /// <summary>MPI_DOUBLE.</summary>
    public nint Double { get; }

    /// <summary>MPI_INT.</summary>
    public nint Int { get; }

    /// <summary>MPI_INT64_T (C# <c>long</c> on every platform, where MPI_LONG follows the C compiler).</summary>
    public nint Int64 { get; }

    /// <summary>MPI_BYTE.</summary>
    public nint Byte { get; }

    /// <summary>MPI_SUM.</summary>
    public nint OpSum { get; }

    /// <summary>MPI_MAX.</summary>
    public nint OpMax { get; }

    /// <summary>MPI_ERRORS_RETURN: errors come back as return codes instead of aborting the job.</summary>
    public nint ErrorsReturn { get; }

    /// <summary><c>int MPI_Initialized(int *flag)</c>.</summary>
    public delegate* unmanaged[Cdecl]<int*, int> Initialized { get; }

    /// <summary><c>int MPI_Finalized(int *flag)</c>.</summary>
    public delegate* unmanaged[Cdecl]<int*, int> Finalized { get; }

    /// <summary><c>int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)</c>; argc and argv may be null.</summary>
    public delegate* unmanaged[Cdecl]<int*, byte***, int, int*, int> InitThread { get; }

    /// <summary><c>int MPI_Finalize(void)</c>.</summary>
    public delegate* unmanaged[Cdecl]<int> Finalize { get; }

    /// <summary><c>int MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler errhandler)</c>.</summary>
    public delegate* unmanaged[Cdecl]<nint, nint, int> CommSetErrhandler { get; }

    /// <summary><c>int MPI_Comm_rank(MPI_Comm comm, int *rank)</c>.</summary>
    public delegate* unmanaged[Cdecl]<nint, int*, int> CommRank { get; }

    /// <summary><c>int MPI_Comm_size(MPI_Comm comm, int *size)</c>.</summary>
    public delegate* unmanaged[Cdecl]<nint, int*, int> CommSize { get; }

    /// <summary><c>int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)</c>.</summary>
    public delegate* unmanaged[Cdecl]<void*, void*, int, nint, nint, nint, int> Allreduce { get; }

    /// <summary><c>int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm)</c>.</summary>
    public delegate* unmanaged[Cdecl]<void*, int, nint, int, nint, int> Bcast { get; }

    /// <summary><c>int MPI_Barrier(MPI_Comm comm)</c>.</summary>
    public delegate* unmanaged[Cdecl]<nint, int> Barrier { get; }

    /// <summary>
    /// Open MPI 4's run-time flag <c>bool orte_execute_quiet</c> (libopen-rte.so.40, found through libmpi's
    /// dependencies; the MCA parameter <c>orte_execute_quiet</c>, what <c>mpirun -q</c> sets), which silences this
    /// process's help messages (orte_show_help), MPI_Abort's banner among them; null where the library has none (Open MPI
    /// 5 has no ORTE). MPI_T cannot set it after MPI_Init (MPI_T_cvar_write refuses: it is read at start).
    /// </summary>
    public bool* ExecuteQuiet { get; }

    /// <summary><c>int MPI_Abort(MPI_Comm comm, int errorcode)</c>.</summary>
    public delegate* unmanaged[Cdecl]<nint, int, int> Abort { get; }

    /// <summary><c>int MPI_Error_string(int errorcode, char *string, int *resultlen)</c>.</summary>
    public delegate* unmanaged[Cdecl]<int, byte*, int*, int> ErrorString { get; }

    /// <summary>Loads the first of <paramref name="names"/> the loader finds (once per process and name).</summary>
    /// <exception cref="DistributedException">None is found, or the one found is not Open MPI's; one line naming the package.</exception>
    public static OpenMpiLibrary Load(IReadOnlyList<string> names)
    {
        lock (LoadGate)
        {
            foreach (string name in names)
            {
                if (Loaded.TryGetValue(name, out var library))
                {
                    return library;
                }

                if (NativeLibrary.TryLoad(name, out nint handle))
                {
                    library = new OpenMpiLibrary(name, handle);
                    Loaded[name] = library;
                    return library;
                }
            }

            string others = names.Count > 1 ? $" (nor {string.Join(", ", names.Skip(1))})" : "";
            throw new DistributedException($"Open MPI's {names[0]} was not found{others}; {InstallHint}.");
        }
    }

    /// <summary>Open MPI's text for <paramref name="code"/>, e.g. "MPI_ERR_COUNT: invalid count argument".</summary>
    public string Describe(int code)
    {
        byte* text = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        if (ErrorString(code, text, &length) != Success || length <= 0)
        {
            return $"MPI error {code}";
        }

        return Marshal.PtrToStringUTF8((nint)text, Math.Min(length, MaxErrorString)).Trim();
    }

    private static nint Symbol(nint handle, string name, string symbol) =>
        NativeLibrary.TryGetExport(handle, symbol, out nint address)
            ? address
            : throw new DistributedException($"{name} is not Open MPI's MPI library (it has no {symbol}); {InstallHint}.");
}
