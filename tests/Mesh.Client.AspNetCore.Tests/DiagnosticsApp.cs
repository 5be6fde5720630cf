using System.Net;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.AspNetCore.Tests;

/// <summary>
/// A running application as a user would have it: Kestrel on 127.0.0.1 (port chosen by the OS), the mesh with a
/// service <c>catalog</c> on three real backends, <c>MapMeshDiagnostics("/mesh")</c>, and traffic flowing through
/// the mesh client in the background.
/// </summary>
public sealed class DiagnosticsApp : IAsyncDisposable
{
    public const string ClientName = "storefront";
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stop = new();
    private Task _traffic = Task.CompletedTask;

    private DiagnosticsApp(WebApplication app, IReadOnlyList<TestBackend> backends)
    {
        _app = app;
        Backends = backends;
    }

    public IReadOnlyList<TestBackend> Backends { get; }

    /// <summary><c>http://127.0.0.1:port</c> of the application.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public IServiceProvider Services => _app.Services;

    public HttpClient MeshClient => Services.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);

    public static async Task<DiagnosticsApp> StartAsync(int backendCount = 3)
    {
        var backends = new List<TestBackend>();
        for (int i = 0; i < backendCount; i++)
        {
            backends.Add(await TestBackend.StartAsync($"catalog-{i}"));
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddMeshClient().AddStaticEndpoints("catalog", backends.Select(b => b.Address).ToArray());
        // Round robin, so the tests know how many requests each endpoint gets.
        builder.Services.AddHttpClient(ClientName, c => c.BaseAddress = new Uri("http://catalog"))
            .AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        var app = builder.Build();
        app.MapMeshDiagnostics("/mesh");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DiagnosticsApp(app, backends) { BaseAddress = new Uri(address) };
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

        _stop.Dispose();
    }
}
