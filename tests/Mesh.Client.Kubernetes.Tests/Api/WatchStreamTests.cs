using System.Text;
using Mesh.Client.Kubernetes.Api;

namespace Mesh.Client.Kubernetes.Tests.Api;

public sealed class WatchStreamTests
{
    private const string Added = """{"type":"ADDED","object":{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"catalog-abc","resourceVersion":"1001"},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true}}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}}""";

    /// <summary>A stream that hands out one byte per read: every event arrives in many pieces.</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
    }

    [Fact]
    public async Task Events_split_across_many_reads_are_decoded_whole()
    {
        var text = Added + "\n" + Added.Replace("ADDED", "MODIFIED", StringComparison.Ordinal).Replace("1001", "1002", StringComparison.Ordinal) + "\n";
        using var stream = new WatchStream(new TrickleStream(Encoding.UTF8.GetBytes(text)));
        var first = await stream.ReadAsync(CancellationToken.None);
        var second = await stream.ReadAsync(CancellationToken.None);
        Assert.Equal(WatchEventType.Added, first!.Value.Type);
        Assert.Equal("10.0.0.1", first.Value.Slice!.Endpoints![0].Addresses![0]);
        Assert.Equal("1002", second!.Value.Slice!.Metadata!.ResourceVersion);
        Assert.Null(await stream.ReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_stream_ending_inside_an_event_is_an_error_not_half_an_event()
    {
        using var stream = new WatchStream(new MemoryStream(Encoding.UTF8.GetBytes(Added[..40])));
        await Assert.ThrowsAsync<IOException>(() => stream.ReadAsync(CancellationToken.None).AsTask());
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"type":"ADDED"}""")]
    [InlineData("""{"type":"RENAMED","object":{}}""")]
    [InlineData("""{"type":"MODIFIED","object":{"metadata":{"resourceVersion":"5"}}}""")]
    public void Malformed_lines_decode_to_an_error_that_quotes_no_content(string line)
    {
        var decoded = WatchStream.Decode(Encoding.UTF8.GetBytes(line));
        Assert.Null(decoded.Type);
        Assert.NotNull(decoded.DecodeError);
    }

    [Fact]
    public void An_error_event_carries_its_status()
    {
        var decoded = WatchStream.Decode("""{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"""u8);
        Assert.Equal(WatchEventType.Error, decoded.Type);
        Assert.Equal(410, decoded.Status!.Code);
        Assert.Equal("Expired", decoded.Status.Reason);
    }
}
