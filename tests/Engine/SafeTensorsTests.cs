using System.Buffers.Binary;
using System.Text;
using GpuNet.Engine;
using GpuNet.Engine.Checkpoints;

namespace GpuNet.Tests.Engine;

public sealed class SafeTensorsTests
{
    private static byte[] WithHeader(string json, int dataBytes)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        return file;
    }

    [Fact]
    public void RoundTripsTensorsAndMetadataWithAlignedData()
    {
        var bytes = SafeTensors.Serialize(
            [("0.weight", SafeTensor.FromFloats([1, 2, 3, 4, 5, 6], 2, 3)), ("0.bias", SafeTensor.FromFloats([7, 8], 2)), ("1.num_batches_tracked", SafeTensor.FromInt64(42))],
            new Dictionary<string, string> { ["format"] = "pt", ["note"] = "x" });
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0ul, (8 + headerLength) % 8);
        var (tensors, metadata) = SafeTensors.Parse(bytes, "test");
        Assert.Equal([1f, 2, 3, 4, 5, 6], tensors["0.weight"].ToFloats());
        Assert.Equal([2L, 3], tensors["0.weight"].Shape);
        Assert.Equal([7f, 8], tensors["0.bias"].ToFloats());
        Assert.Equal(42, tensors["1.num_batches_tracked"].ToInt64());
        Assert.Equal("x", metadata["note"]);
    }

    public static TheoryData<string, byte[], string> HostileFiles() => new()
    {
        { "too short", new byte[5], "too short" },
        { "header longer than file", WithHeader("{}", 0)[..9], "exceeds" },
        { "not JSON", WithHeader("{nope", 0), "not valid JSON" },
        { "not an object", WithHeader("[1]", 0), "not a JSON object" },
        { "offsets past the end", WithHeader("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4), "outside" },
        { "size disagrees with shape", WithHeader("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8), "needs" },
        { "huge shape", WithHeader("""{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}""", 8), "needs" },
        { "negative dimension", WithHeader("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4), "invalid dimension" },
        { "reversed offsets", WithHeader("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", 4), "outside" },
        { "overlap", WithHeader("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8), "overlap" },
        { "unknown dtype", WithHeader("""{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}""", 4), "only F32 and I64" },
        { "missing fields", WithHeader("""{"a":{"dtype":"F32"}}""", 0), "lacks" },
        { "metadata not strings", WithHeader("""{"__metadata__":{"a":1}}""", 0), "not a string" },
    };

    [Theory]
    [MemberData(nameof(HostileFiles))]
    public void HostileHeadersAreRejectedWithOneLine(string what, byte[] bytes, string expected)
    {
        var error = Assert.Throws<CheckpointException>(() => SafeTensors.Parse(bytes, what));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith(what, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
