using System.Net;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.AspNetCore.Tests;

/// <summary>
/// A running application as a user would have it: Kestrel on 127.0.0.1 (port chosen by the OS), the mesh with a
/// service <c>catalog</c> on three real backends, <c>MapMeshDiagnostics("/mesh")</c>, and traffic flowing through
/// the mesh client in the background. With a canary, also a service <c>catalog-v2</c> on one slower backend, and a
/// route <c>canary</c> on <c>catalog</c> (from configuration) that sends it 20 % of the requests; the mesh's clock can
/// then be moved ahead (<see cref="Clock"/>) to fill the charts' five minutes without waiting for them.
/// </summary>
public sealed class DiagnosticsApp : IAsyncDisposable
{
    public const string ClientName = "storefront";
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stop = new();
    private Task _traffic = Task.CompletedTask;

    private DiagnosticsApp(WebApplication app, IReadOnlyList<TestBackend> backends, TestBackend? canary, SteppedClock? clock)
    {
        _app = app;
        Backends = backends;
        Canary = canary;
        Clock = clock;
    }

    public IReadOnlyList<TestBackend> Backends { get; }

    /// <summary>The backend of <c>catalog-v2</c>, when started with a canary.</summary>
    public TestBackend? Canary { get; }

    /// <summary>The mesh's clock, when started with a canary.</summary>
    public SteppedClock? Clock { get; }

    /// <summary><c>http://127.0.0.1:port</c> of the application.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public IServiceProvider Services => _app.Services;

    public HttpClient MeshClient => Services.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);

    public static async Task<DiagnosticsApp> StartAsync(int backendCount = 3, bool canary = false)
    {
        var backends = new List<TestBackend>();
        for (int i = 0; i < backendCount; i++)
        {
            backends.Add(await TestBackend.StartAsync($"catalog-{i}"));
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var mesh = builder.Services.AddMeshClient().AddStaticEndpoints("catalog", backends.Select(b => b.Address).ToArray());
        TestBackend? v2 = null;
        SteppedClock? clock = null;
        if (canary)
        {
            v2 = await TestBackend.StartAsync("catalog-v2");
            mesh.AddStaticEndpoints("catalog-v2", v2.Address);
            clock = new SteppedClock();
            builder.Services.AddSingleton<TimeProvider>(clock);
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Mesh:Services:catalog:Routes:0:Name"] = "canary",
                ["Mesh:Services:catalog:Routes:0:Backends:0:Service"] = "catalog",
                ["Mesh:Services:catalog:Routes:0:Backends:0:Weight"] = "80",
                ["Mesh:Services:catalog:Routes:0:Backends:1:Service"] = "catalog-v2",
                ["Mesh:Services:catalog:Routes:0:Backends:1:Weight"] = "20",
            });
        }
        // Round robin, so the tests know how many requests each endpoint gets.
        builder.Services.AddHttpClient(ClientName, c => c.BaseAddress = new Uri("http://catalog"))
            .AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        var app = builder.Build();
        app.MapMeshDiagnostics("/mesh");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DiagnosticsApp(app, backends, v2, clock) { BaseAddress = new Uri(address) };
    }

    /// <summary>Sends <paramref name="count"/> requests through the mesh and checks each succeeded.</summary>
    public async Task SendAsync(int count)
    {
        var client = MeshClient;
        for (int i = 0; i < count; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        }
    }

    /// <summary>
    /// Keeps traffic flowing through the mesh until disposal, one request every 20 ms: load for the page to show,
    /// never used to wait for anything.
    /// </summary>
    public void StartTraffic()
    {
        _traffic = Task.Run(async () =>
        {
            var client = MeshClient;
            using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            try
            {
                while (await pace.WaitForNextTickAsync(_stop.Token))
                {
                    using var response = await client.GetAsync(new Uri("/items", UriKind.Relative), _stop.Token);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
        });
    }

    /// <summary>
    /// Makes <paramref name="backend"/> answer every request with 503, as a replica that lost its database would: passive
    /// health ejects it after five failures in a row (each failed request is retried on another endpoint, so callers
    /// see no error).
    /// </summary>
    public static void Break(TestBackend backend) =>
        backend.Handler = ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _traffic;
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var backend in Backends)
        {
            await backend.DisposeAsync();
        }

        if (Canary is not null)
        {
            await Canary.DisposeAsync();
        }

        _stop.Dispose();
    }
}

/// <summary>
/// The system clock, plus an offset a test moves ahead: time passes as usual (latencies are real), and a jump of ten
/// seconds starts the next bucket of the diagnostics charts at once.
/// </summary>
public sealed class SteppedClock : TimeProvider
{
    private long _offsetTicks;

    public override long TimestampFrequency => System.TimestampFrequency;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Volatile.Read(ref _offsetTicks));

    public override long GetTimestamp() =>
        System.GetTimestamp() + (long)(Volatile.Read(ref _offsetTicks) * (double)System.TimestampFrequency / TimeSpan.TicksPerSecond);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}
