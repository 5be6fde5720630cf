using System.Net;
using System.Net.Sockets;
using Mesh.Client.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Mesh.Client.Tests.Integration;

/// <summary>
/// An attempt lasts until its response ends, on real Kestrel backends: a body in progress keeps its endpoint loaded, a
/// body that breaks after the headers counts against its endpoint (and, when small, is retried before the caller sees
/// it), and a request that never left the client is retried for any method.
/// </summary>
public sealed class ResponseLifetimeTests
{
    private static ServiceProvider Mesh(Action<IMeshClientBuilder> endpoints, Action<MeshServiceOptions>? configure = null) =>
        MeshTestHost.Build(endpoints, handler: o =>
        {
            o.Balancer = BalancerNames.RoundRobin;
            configure?.Invoke(o);
        });

    private static MeshEndpoint EndpointOf(IServiceProvider provider, TestBackend backend)
    {
        Assert.True(provider.GetRequiredService<ServiceRegistry>().GetClient(MeshTestHost.ClientName).TryGet(new RouteKey("http", "catalog"), out var state));
        return state.Endpoints.Find($"http://{backend.Authority}")!;
    }

    [Fact]
    public async Task A_body_being_read_keeps_its_endpoint_in_flight_until_it_ends()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync("streaming");
        backend.Handler = async ctx =>
        {
            await ctx.Response.WriteAsync("first part;");
            await ctx.Response.Body.FlushAsync();
            await release.Task;
            await ctx.Response.WriteAsync("second part");
        };
        using var provider = Mesh(m => m.AddStaticEndpoints("catalog", backend.Address));
        var client = provider.Client();

        using var response = await client.GetAsync(new Uri("/stream", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        var endpoint = EndpointOf(provider, backend);
        Assert.Equal(1, endpoint.InFlight); // the headers came back; the attempt has not ended
        var reading = response.Content.ReadAsStringAsync();
        release.SetResult();

        Assert.Equal("first part;second part", await reading);
        Assert.Equal(0, endpoint.InFlight);
        Assert.Equal(HealthOpinion.Unknown, endpoint.Health.Passive);
        Assert.Equal(0, endpoint.Health.ConsecutiveFailures);
    }

    [Fact]
    public async Task A_caller_that_disposes_a_body_unread_ends_the_attempt_without_counting_it()
    {
        await using var backend = await TestBackend.StartAsync("large");
        backend.Handler = ctx => ctx.Response.WriteAsync(new string('x', 200_000)); // chunked, too large to be read inside the attempt
        using var provider = Mesh(m => m.AddStaticEndpoints("catalog", backend.Address));

        using (var response = await provider.Client().GetAsync(new Uri("/big", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(1, EndpointOf(provider, backend).InFlight);
        }

        var endpoint = EndpointOf(provider, backend);
        Assert.Equal(0, endpoint.InFlight);
        Assert.Equal(0, endpoint.Health.ConsecutiveFailures);
    }

    [Fact]
    public async Task A_small_body_reset_after_the_headers_is_retried_elsewhere_and_counts_against_its_endpoint()
    {
        await using var resetting = await TestBackend.StartAsync("resetting");
        resetting.Handler = ResetAfterHeadersAsync(contentLength: 1000);
        await using var healthy = await TestBackend.StartAsync("healthy");
        using var provider = Mesh(m => m.AddStaticEndpoints("catalog", resetting.Address, healthy.Address), o => o.PassiveHealth.MaxEjectionPercent = 50);
        var client = provider.Client();

        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("healthy", await client.GetStringAsync(new Uri("/items", UriKind.Relative)));
        }

        var endpoint = EndpointOf(provider, resetting);
        Assert.InRange(resetting.Count, 1, 5); // tried, failed, ejected after 5 failures in a row at most
        Assert.Equal(HealthOpinion.Unhealthy, endpoint.Health.Passive);
        Assert.Equal(0, endpoint.InFlight);
    }

    [Theory]
    [InlineData(false)] // read as a stream (GetStringAsync)
    [InlineData(true)] // buffered by HttpClient (GetAsync, ResponseContentRead): the content copies itself
    public async Task A_streamed_body_reset_after_the_headers_reaches_the_caller_and_counts_against_its_endpoint(bool buffered)
    {
        await using var resetting = await TestBackend.StartAsync("resetting");
        resetting.Handler = ResetAfterHeadersAsync(contentLength: null); // chunked: streamed to the caller as it comes
        using var provider = Mesh(m => m.AddStaticEndpoints("catalog", resetting.Address), o => o.PassiveHealth.ConsecutiveFailures = 3);
        var client = provider.Client();

        for (int i = 0; i < 3; i++)
        {
            var uri = new Uri("/items", UriKind.Relative);
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => buffered ? client.GetAsync(uri) : client.GetStringAsync(uri));
        }

        var endpoint = EndpointOf(provider, resetting);
        Assert.Equal(HealthOpinion.Unhealthy, endpoint.Health.Passive); // three body failures in a row ejected it
        Assert.Equal(0, endpoint.InFlight);
    }

    [Fact]
    public async Task Posts_to_a_service_where_two_of_eight_endpoints_refuse_connections_all_succeed()
    {
        var backends = new List<TestBackend>();
        for (int i = 0; i < 6; i++)
        {
            backends.Add(await TestBackend.StartAsync($"b{i}"));
        }

        var refusing = new[] { ClosedPort(), ClosedPort() };
        try
        {
            var addresses = backends.Select(b => b.Address).Concat(refusing.Select(p => $"http://127.0.0.1:{p}")).ToArray();
            using var provider = Mesh(m => m.AddStaticEndpoints("catalog", addresses), o => o.PassiveHealth.Enabled = false);
            var client = provider.Client();

            for (int i = 0; i < 80; i++)
            {
                using var response = await client.PostAsync(new Uri("/orders", UriKind.Relative), new StringContent($"order {i}"));
                response.EnsureSuccessStatusCode();
            }

            // Every POST reached a live backend exactly once: none was lost, none was sent twice.
            Assert.Equal(80, backends.Sum(b => b.Count));
            Assert.Equal(80, backends.SelectMany(b => b.Received).Select(r => System.Text.Encoding.UTF8.GetString(r.Body)).Distinct().Count());
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_post_whose_endpoint_answered_and_then_broke_is_not_sent_again()
    {
        await using var resetting = await TestBackend.StartAsync("resetting");
        resetting.Handler = ResetAfterHeadersAsync(contentLength: 1000);
        await using var healthy = await TestBackend.StartAsync("healthy");
        using var provider = Mesh(m => m.AddStaticEndpoints("catalog", resetting.Address, healthy.Address));

        // Round robin sends one of the two to the resetting endpoint: that POST left the client, so it is not sent again.
        int failed = 0;
        for (int i = 0; i < 2; i++)
        {
            try
            {
                using var response = await provider.Client().PostAsync(new Uri("/orders", UriKind.Relative), new StringContent("once"));
            }
            catch (HttpRequestException)
            {
                failed++;
            }
        }

        Assert.Equal(1, failed);
        Assert.Equal(1, resetting.Count);
        Assert.Equal(1, healthy.Count);
    }

    /// <summary>Sends the headers (and part of a body), then resets the connection.</summary>
    private static Func<HttpContext, Task> ResetAfterHeadersAsync(int? contentLength) => async ctx =>
    {
        if (contentLength is { } length)
        {
            ctx.Response.ContentLength = length;
        }

        await ctx.Response.WriteAsync("partial");
        await ctx.Response.Body.FlushAsync();
        ctx.Features.Get<IHttpResponseBodyFeature>()!.Writer.CancelPendingFlush();
        ctx.Abort();
    };

    /// <summary>A port nothing listens on: bound and released, so connections to it are refused.</summary>
    private static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
