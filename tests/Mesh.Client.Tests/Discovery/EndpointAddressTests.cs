using Mesh.Client.Tests.Infrastructure;
using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Discovery;

public sealed class EndpointAddressTests
{
    [Theory]
    [InlineData("http://127.0.0.1:5001", "http", "127.0.0.1", 5001, "127.0.0.1:5001")]
    [InlineData("https://catalog-1.internal", "https", "catalog-1.internal", 443, "catalog-1.internal:443")]
    [InlineData("10.0.0.7:8080", "http", "10.0.0.7", 8080, "10.0.0.7:8080")]
    [InlineData("[::1]:9000", "http", "::1", 9000, "[::1]:9000")]
    [InlineData("http://[fe80::1]:81/", "http", "fe80::1", 81, "[fe80::1]:81")]
    public void Parse_reads_scheme_host_port_and_authority(string text, string scheme, string host, int port, string authority)
    {
        var endpoint = EndpointAddress.Parse(text);

        Assert.Equal(scheme, endpoint.Scheme);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(authority, endpoint.Authority);
        Assert.Equal(authority, endpoint.HashKey);
        Assert.Equal($"{scheme}://{authority}", endpoint.Key);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("catalog", "no port")]
    [InlineData("catalog:0", "invalid port")]
    [InlineData("catalog:70000", "invalid port")]
    [InlineData("ftp://files:21", "scheme 'ftp'")]
    [InlineData("http://catalog:80/api", "path or query")]
    [InlineData("fe80::1:80", "ambiguous")]
    public void Parse_rejects_bad_addresses_saying_why(string text, string reason)
    {
        var error = Assert.Throws<FormatException>(() => EndpointAddress.Parse(text));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Hash_key_can_be_given_and_weight_must_be_positive()
    {
        Assert.Equal("pod-a", new EndpointAddress("http", "10.0.0.1", 80, hashKey: "pod-a").HashKey);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EndpointAddress("http", "10.0.0.1", 80, weight: 0));
    }

    [Fact]
    public void Lease_counts_in_flight_and_records_latency_except_for_cancellation()
    {
        var clock = new Infrastructure.ManualTimeProvider();
        var endpoint = EndpointAddress.Parse("127.0.0.1:80").Live();

        var lease = endpoint.Begin(clock);
        Assert.Equal(1, endpoint.Load.InFlight);
        clock.Advance(TimeSpan.FromMilliseconds(120));
        Assert.Equal(TimeSpan.FromMilliseconds(120), lease.Complete(AttemptOutcome.Success));
        Assert.Equal(0, endpoint.Load.InFlight);
        Assert.True(endpoint.Load.HasSample);

        var cancelled = EndpointAddress.Parse("127.0.0.1:81").Live();
        cancelled.Begin(clock).Complete(AttemptOutcome.Canceled);
        Assert.Equal(0, cancelled.Load.InFlight);
        Assert.False(cancelled.Load.HasSample);
    }

    [Fact]
    public void A_cancelled_attempt_longer_than_the_estimate_raises_it_and_a_shorter_one_records_nothing()
    {
        var clock = new Infrastructure.ManualTimeProvider();
        var endpoint = EndpointAddress.Parse("127.0.0.1:80").Live();
        long Now() => MonotonicClock.Ticks(clock, clock.GetTimestamp());
        var first = endpoint.Begin(clock);
        clock.Advance(TimeSpan.FromMilliseconds(100));
        first.Complete(AttemptOutcome.Success);

        // A losing hedge cancelled after 20 ms: shorter than the 100 ms estimate, so nothing is learned.
        var quick = endpoint.Begin(clock);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        quick.Complete(AttemptOutcome.Canceled);
        Assert.InRange(endpoint.Load.GetRttEstimateTicks(Now()), TimeSpan.FromMilliseconds(99.7).Ticks, TimeSpan.FromMilliseconds(100).Ticks); // decayed for 20 ms only

        // One cancelled after 350 ms without an answer: the endpoint took at least that long, the new peak.
        var stuck = endpoint.Begin(clock);
        clock.Advance(TimeSpan.FromMilliseconds(350));
        stuck.Complete(AttemptOutcome.Canceled);
        Assert.Equal(TimeSpan.FromMilliseconds(350).Ticks, endpoint.Load.GetRttEstimateTicks(Now()), 0);
        Assert.Equal(0, endpoint.Health.ConsecutiveFailures);
    }
}
