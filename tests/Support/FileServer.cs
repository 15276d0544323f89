using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GpuNet.Tests.Support;

/// <summary>
/// A minimal HTTP/1.1 file server on 127.0.0.1 for download tests: GET of its files with "Range: bytes=N-", one
/// connection per request, and a transfer that breaks off once after a given number of body bytes.
/// </summary>
internal sealed class FileServer : IDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<string, byte[]> files = new();
    private readonly ConcurrentDictionary<string, int> dropOnce = new();
    private readonly CancellationTokenSource stop = new();

    public FileServer()
    {
        listener.Start();
        _ = Task.Run(AcceptAsync);
    }

    /// <summary>The base URL, ending in a slash.</summary>
    public string Url => $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/";

    /// <summary>Each request as "NAME" or "NAME bytes=N-".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>Serves <paramref name="bytes"/> at /<paramref name="name"/>.</summary>
    public void Add(string name, byte[] bytes) => files[name] = bytes;

    /// <summary>The next transfer of <paramref name="name"/> closes the connection after <paramref name="bytes"/> body bytes.</summary>
    public void DropOnce(string name, int bytes) => dropOnce[name] = bytes;

    public void Dispose()
    {
        if (!stop.IsCancellationRequested)
        {
            stop.Cancel();
            listener.Stop();
        }
    }

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => Serve(client));
        }
    }

    private void Serve(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var header = new StringBuilder();
            while (!header.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                int b = stream.ReadByte();
                if (b < 0)
                {
                    return;
                }

                header.Append((char)b);
            }

            var lines = header.ToString().Split("\r\n");
            string name = lines[0].Split(' ')[1].TrimStart('/');
            string? range = lines.FirstOrDefault(l => l.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))?.Split(':', 2)[1].Trim();
            Requests.Enqueue(range is null ? name : $"{name} {range}");
            if (!files.TryGetValue(name, out var bytes))
            {
                Write(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }

            int start = range is null ? 0 : int.Parse(range["bytes=".Length..].TrimEnd('-'), CultureInfo.InvariantCulture);
            if (start >= bytes.Length)
            {
                Write(stream, $"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{bytes.Length}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }

            string status = range is null ? "200 OK" : "206 Partial Content";
            string contentRange = range is null ? "" : $"Content-Range: bytes {start}-{bytes.Length - 1}/{bytes.Length}\r\n";
            Write(stream, $"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {bytes.Length - start}\r\n{contentRange}Connection: close\r\n\r\n");
            int count = bytes.Length - start;
            if (dropOnce.TryRemove(name, out int drop))
            {
                count = Math.Min(count, drop);
            }

            stream.Write(bytes, start, count);
            stream.Flush();
        }
    }

    private static void Write(Stream stream, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        stream.Write(bytes);
    }
}
