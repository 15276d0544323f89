using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace GpuNet.Engine.Checkpoints;

/// <summary>One tensor of a safetensors file: F32 or I64 values and a shape.</summary>
public sealed record SafeTensor(string DType, long[] Shape, byte[] Data)
{
    /// <summary>An F32 tensor of <paramref name="values"/> with <paramref name="shape"/>.</summary>
    public static SafeTensor FromFloats(float[] values, params long[] shape) =>
        new("F32", shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>An I64 scalar (shape []).</summary>
    public static SafeTensor FromInt64(long value) => new("I64", [], BitConverter.GetBytes(value));

    /// <summary>The values as floats (F32 only).</summary>
    public float[] ToFloats() => DType == "F32" ? MemoryMarshal.Cast<byte, float>(Data).ToArray() : throw new InvalidOperationException($"Tensor is {DType}, not F32.");

    /// <summary>The single value of an I64 scalar.</summary>
    public long ToInt64() => DType == "I64" && Data.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(Data) : throw new InvalidOperationException($"Tensor is not an I64 scalar.");
}

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each name to its dtype,
/// shape and [begin, end) byte offsets in the data that follows, and "__metadata__" (string to string).
/// The reader checks every offset, size and shape against the file before reading a byte of data.
/// </summary>
public static class SafeTensors
{
    /// <summary>The largest header accepted.</summary>
    public const long MaxHeaderBytes = 100L << 20;

    private static readonly Dictionary<string, int> ElementSizes = new() { ["F32"] = 4, ["I64"] = 8 };

    /// <summary>Serializes <paramref name="tensors"/> (in the given order) and <paramref name="metadata"/>.</summary>
    public static byte[] Serialize(IReadOnlyList<(string Name, SafeTensor Tensor)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, tensor) in tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", tensor.DType);
                json.WriteStartArray("shape");
                foreach (long d in tensor.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.Data.Length;
            }

            json.WriteEndObject();
        }

        // Pad the header with spaces so the data starts 8-byte aligned.
        int padding = (int)((8 - (header.Length % 8)) % 8);
        long headerLength = header.Length + padding;
        using var file = new MemoryStream();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)headerLength);
        file.Write(length);
        header.WriteTo(file);
        file.Write(Enumerable.Repeat((byte)' ', padding).ToArray());
        foreach (var (_, tensor) in tensors)
        {
            file.Write(tensor.Data);
        }

        return file.ToArray();
    }

    /// <summary>Parses a safetensors file's bytes; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="CheckpointException">The bytes are not a well-formed safetensors file.</exception>
    public static (Dictionary<string, SafeTensor> Tensors, Dictionary<string, string> Metadata) Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 8)
        {
            throw new CheckpointException($"{source}: {bytes.Length} bytes is too short for a safetensors file.");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || headerLength > (ulong)(bytes.Length - 8))
        {
            throw new CheckpointException($"{source}: header length {headerLength} exceeds the file ({bytes.Length} bytes) or the {MaxHeaderBytes}-byte limit.");
        }

        var data = bytes[(8 + (int)headerLength)..];
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(Encoding.UTF8.GetString(bytes.Slice(8, (int)headerLength)));
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{source}: the header is not valid JSON ({GpuNetException.OneLine(e.Message)}).", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{source}: the header is not a JSON object.");
            }

            var tensors = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var ranges = new List<(long Begin, long End, string Name)>();
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw new CheckpointException($"{source}: __metadata__ is not an object.");
                    }

                    foreach (var m in entry.Value.EnumerateObject())
                    {
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String
                            ? m.Value.GetString()!
                            : throw new CheckpointException($"{source}: metadata '{m.Name}' is not a string.");
                    }

                    continue;
                }

                var (tensor, begin, end) = ParseEntry(entry, data, source);
                tensors[entry.Name] = tensor;
                ranges.Add((begin, end, entry.Name));
            }

            ranges.Sort((a, b) => a.Begin.CompareTo(b.Begin));
            for (int i = 1; i < ranges.Count; i++)
            {
                if (ranges[i].Begin < ranges[i - 1].End)
                {
                    throw new CheckpointException($"{source}: tensors '{ranges[i - 1].Name}' and '{ranges[i].Name}' overlap.");
                }
            }

            return (tensors, metadata);
        }
    }

    private static (SafeTensor Tensor, long Begin, long End) ParseEntry(JsonProperty entry, ReadOnlySpan<byte> data, string source)
    {
        string name = entry.Name;
        var value = entry.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
        {
            throw new CheckpointException($"{source}: tensor '{name}' lacks a string dtype, a shape array or two data_offsets.");
        }

        string type = dtype.GetString()!;
        if (!ElementSizes.TryGetValue(type, out int elementSize))
        {
            throw new CheckpointException($"{source}: tensor '{name}' has dtype {type}; only F32 and I64 are read.");
        }

        var dims = new List<long>();
        long count = 1;
        foreach (var d in shape.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0 || dim > int.MaxValue)
            {
                throw new CheckpointException($"{source}: tensor '{name}' has an invalid dimension {d}.");
            }

            dims.Add(dim);
            count = dim == 0 ? 0 : count > long.MaxValue / dim ? long.MaxValue : count * dim;
        }

        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin || end > data.Length)
        {
            throw new CheckpointException($"{source}: tensor '{name}' has data offsets [{offsets[0]}, {offsets[1]}] outside the {data.Length} data bytes.");
        }

        if (count > (end - begin) / elementSize || count * elementSize != end - begin)
        {
            throw new CheckpointException($"{source}: tensor '{name}' of shape [{string.Join(", ", dims)}] {type} needs {(count > int.MaxValue ? "too many" : (count * elementSize).ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes but its offsets span {end - begin}.");
        }

        return (new SafeTensor(type, [.. dims], data[(int)begin..(int)end].ToArray()), begin, end);
    }
}
