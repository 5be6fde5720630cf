using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Demo;

/// <summary>
/// One backend: a Kestrel server on 127.0.0.1 that answers after a latency drawn around <see cref="BaseLatency"/>
/// (times <see cref="SlowFactor"/> while it is slow). It can be stopped (connections refused) and started again on
/// the same port, and it can be made bad (<see cref="Bad"/>).
/// </summary>
internal sealed class DemoBackend : IAsyncDisposable
{
    private WebApplication? _app;

    public DemoBackend(string name, TimeSpan baseLatency, bool grpc = false, string service = "catalog")
    {
        Name = name;
        BaseLatency = baseLatency;
        Grpc = grpc;
        Service = service;
    }

    /// <summary>The mesh service this backend is a replica of.</summary>
    public string Service { get; }

    /// <summary>Serves gRPC (the Greeter and the standard health service) over h2c instead of HTTP/1.1.</summary>
    public bool Grpc { get; }

    public string Name { get; }

    public int Port { get; private set; }

    public TimeSpan BaseLatency { get; }

    /// <summary>Multiplies the latency; 1 is normal.</summary>
    public double SlowFactor { get; set; } = 1;

    /// <summary>
    /// A bad replica, as a broken release is: it answers three requests in four with 503 at once and resets the
    /// connection on the fourth, while its /health still answers 200, so only passive health, which watches real
    /// traffic, can tell (HTTP only).
    /// </summary>
    public bool Bad { get; set; }

    public bool IsUp => _app is not null;

    public string Address => $"http://127.0.0.1:{Port}";

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Port 0 the first time: the OS picks. gRPC without TLS is HTTP/2 with prior knowledge (h2c): HTTP/2 only.
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, Port, l => l.Protocols = Grpc ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2));
        if (Grpc)
        {
            builder.Services.AddGrpc();
            builder.Services.AddSingleton(this);
            // SERVING for the server's overall health (""): a slow backend is alive, only a dead one fails its heartbeat.
            var health = new global::Grpc.HealthCheck.HealthServiceImpl();
            health.SetStatus("", global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving);
            builder.Services.AddSingleton(health);
        }

        var app = builder.Build();
        if (Grpc)
        {
            app.MapGrpcService<DemoGreeter>();
            app.MapGrpcService<global::Grpc.HealthCheck.HealthServiceImpl>();
        }
        else
        {
            app.Run(HandleAsync);
        }

        await app.StartAsync();
        Port = new Uri(app.Urls.First()).Port;
        _app = app;
    }

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _app, null) is { } app)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path == "/health")
        {
            return; // 200 at once: a slow backend is alive, only a dead one fails its heartbeat
        }

        if (Bad)
        {
            if (Random.Shared.Next(4) == 0)
            {
                context.Abort(); // the caller sees the connection reset before any response
            }
            else
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            }

            return;
        }

        await Task.Delay(NextLatency(), context.RequestAborted);
        context.Response.Headers["X-Backend"] = Name;
        await context.Response.WriteAsync(Name);
    }

    /// <summary>Latency ~ N(base, base/10) times <see cref="SlowFactor"/>, never below 1 ms.</summary>
    public TimeSpan NextLatency()
    {
        double u1 = 1 - Random.Shared.NextDouble(), u2 = Random.Shared.NextDouble();
        double normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        return TimeSpan.FromMilliseconds(Math.Max(1, (BaseLatency.TotalMilliseconds + (normal * BaseLatency.TotalMilliseconds / 10)) * SlowFactor));
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
