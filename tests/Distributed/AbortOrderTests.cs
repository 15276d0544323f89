using GpuNet.Cli;
using GpuNet.Engine;
using GpuNet.Engine.Distributed;

namespace GpuNet.Tests.Distributed;

/// <summary>
/// A rank that fails aborts the job before it disposes anything (disposal may block, e.g. a device or NCCL waiting for
/// peers), for every exception type, with the error's exit code and one line naming the rank.
/// </summary>
public sealed class AbortOrderTests
{
    /// <summary>Rank 1 of 2 whose abort is recorded (and then throws, since a test process must live on).</summary>
    private sealed class RecordingRank(List<string> log) : ICommunicator
    {
        public int Rank => 1;

        public int Size => 2;

        public int LocalRank => 1;

        public string Backend => "recording";

        public void Abort(int exitCode)
        {
            log.Add($"abort {exitCode}");
            throw new InvalidOperationException("aborted");
        }

        public void AllReduceSum(Span<float> values) => throw new NotSupportedException();

        public void AllReduceSum(Span<double> values) => throw new NotSupportedException();

        public void AllReduceSum(Span<long> values) => throw new NotSupportedException();

        public void AllReduceMax(Span<int> values) => throw new NotSupportedException();

        public void Broadcast(Span<byte> data, int root) => throw new NotSupportedException();

        public void Broadcast(Span<float> data, int root) => throw new NotSupportedException();

        public void Barrier() => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }

    private sealed class Held(List<string> log) : IDisposable
    {
        public void Dispose() => log.Add("dispose");
    }

    public static TheoryData<string, int> Failures => new()
    {
        { "data", 1 },
        { "usage", 2 },
        { "out of memory", 1 },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void TheAbortComesBeforeAnyDisposal(string failure, int exitCode)
    {
        var log = new List<string>();
        using var error = new StringWriter();
        Exception thrown = failure switch
        {
            "data" => new DataException("bad file"),
            "usage" => new ConfigurationException("bad option"),
#pragma warning disable CA2201 // The runtime's own exception is the point: the abort must not exclude it.
            _ => new OutOfMemoryException("no memory"),
#pragma warning restore CA2201
        };
        int Run()
        {
            using var device = new Held(log);
            throw thrown;
        }

        // The recording abort throws inside the filter, which then lets the original exception go on: here, not in a job.
        Assert.Same(thrown, Assert.ThrowsAny<Exception>(() => TrainCommand.RunOrAbort(new RecordingRank(log), Run, error)));
        Assert.Equal([$"abort {exitCode}", "dispose"], log);
        Assert.Equal($"gpunet (rank 1 of 2): {thrown.Message}", error.ToString().Trim());
    }

    [Fact]
    public void OneProcessNeverAborts()
    {
        var log = new List<string>();
        using var single = new SingleProcess();
        Assert.Throws<DataException>(() => TrainCommand.RunOrAbort(single, () => throw new DataException("bad file")));
        Assert.Equal(7, TrainCommand.RunOrAbort(single, () => 7));
        Assert.Empty(log);
    }
}
