using Mesh.Client.Discovery;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

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
    [InlineData("http://catalog:80/api", "path, query or fragment")]
    [InlineData("fe80::1:80", "ambiguous")]
    public void Parse_rejects_bad_addresses_saying_why(string text, string reason)
    {
        var error = Assert.Throws<FormatException>(() => EndpointAddress.Parse(text));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadForms => new()
    {
        // Each of these was once accepted and sent somewhere else than written.
        { "127.0.0.1@evil.example:5101", "user information" },
        { "http://127.0.0.1@evil.example:5101", "user information" },
        { "http://admin:hunter2@10.0.0.1:80", "user information" },
        { "evil.example/x?:5101", "path, query or fragment" },
        { "127.0.0.1#frag:5101", "path, query or fragment" },
        { "http://catalog:80?x=1", "path, query or fragment" },
        { "http://catalog:80#top", "path, query or fragment" },
        { "a b:5101", "not a DNS name" },
        { "http://a b:5101", "not a DNS name" },
        { "http://127.0.0.1:0", "invalid port" },
        { "http://127.0.0.1:65536", "invalid port" },
        { "127.0.0.1:+80", "invalid port" },
        { "127.0.0.1:", "invalid port" },
        { "127.1:80", "not an IPv4 address" },
        { "0x7f.0.0.1:80", "not an IPv4 address" },
        { "010.0.0.1:80", "not an IPv4 address" },
        { "256.0.0.1:80", "not an IPv4 address" },
        { "under_score:80", "not a DNS name" },
        { "-lead.example:80", "not a DNS name" },
        { "double..dot:80", "not a DNS name" },
        { "trailing.dot.:80", "not a DNS name" },
        { "[fe80::1%eth0]:80", "not an IPv6 address" },
        { "[not-v6]:80", "not an IPv6 address" },
        { "[::1]x:80", "after the IPv6 address" },
        { "http://:80", "no host" },
    };

    [Theory]
    [MemberData(nameof(BadForms))]
    public void Every_lax_form_is_rejected_saying_why_and_Parse_throws_only_FormatException(string text, string reason)
    {
        Assert.False(EndpointAddress.TryParse(text, "http", "Services:catalog:http:0", out var endpoint, out var error));
        Assert.Null(endpoint);
        Assert.StartsWith("'Services:catalog:http:0' is '", error, StringComparison.Ordinal);
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => EndpointAddress.Parse(text));
    }

    [Theory]
    [InlineData("http://admin:hunter2@10.0.0.1:80", "'http://***@10.0.0.1:80'")]
    [InlineData("admin:hunter2@10.0.0.1:80", "'***@10.0.0.1:80'")]
    [InlineData("https://x:hunter2@h:1/p?token=hunter2", "'https://***@h:1/p?***'")]
    [InlineData("h:1/p#hunter2", "'h:1/p#***'")]
    public void Errors_never_quote_credentials_query_or_fragment(string text, string shown)
    {
        Assert.False(EndpointAddress.TryParse(text, "http", "Services:catalog:http", out _, out var error));

        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
        Assert.Contains($"'Services:catalog:http' is {shown}", error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", Assert.Throws<FormatException>(() => EndpointAddress.Parse(text)).Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", Assert.Throws<ArgumentException>(() => new EndpointAddress("http", text, 80)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("LOCALHOST:5101", "localhost:5101")]
    [InlineData("HTTP://LocalHost:5101/", "localhost:5101")]
    [InlineData("[0:0:0:0:0:0:0:1]:80", "[::1]:80")]
    [InlineData("[FE80:0000::0001]:80", "[fe80::1]:80")]
    [InlineData("bücher.example:80", "xn--bcher-kva.example:80")]
    [InlineData("BÜCHER.example:80", "xn--bcher-kva.example:80")]
    [InlineData("xn--bcher-kva.example:80", "xn--bcher-kva.example:80")]
    [InlineData("10.0.0.7:8080", "10.0.0.7:8080")]
    [InlineData("0.0.0.0:1", "0.0.0.0:1")]
    [InlineData("a-1.b2.example:65535", "a-1.b2.example:65535")]
    public void Spellings_of_one_address_have_one_canonical_key(string text, string authority)
    {
        var endpoint = EndpointAddress.Parse(text);

        Assert.Equal(authority, endpoint.Authority);
        Assert.Equal("http://" + authority, endpoint.Key);
        Assert.True(Uri.TryCreate(endpoint.Key + "/x?y=1", UriKind.Absolute, out var uri)); // what the request path builds
        Assert.Equal(endpoint.Port, uri.Port);
    }

    [Theory]
    [InlineData("evil.example/x?")]
    [InlineData("127.0.0.1@evil.example")]
    [InlineData("a b")]
    [InlineData("127.1")]
    [InlineData("[::1")]
    [InlineData("fe80::1%eth0")]
    public void The_constructor_takes_the_same_host_grammar(string host)
    {
        var error = Assert.Throws<ArgumentException>(() => new EndpointAddress("http", host, 80));
        Assert.Equal("host", error.ParamName);
        Assert.Equal("xn--bcher-kva.example", new EndpointAddress("http", "BÜCHER.Example", 80).Host);
        Assert.Equal("::1", new EndpointAddress("http", "[0::1]", 80).Host);
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
        var clock = new FakeTimeProvider();
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
        var clock = new FakeTimeProvider();
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
