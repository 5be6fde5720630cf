using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Demo;

/// <summary>
/// One backend: a Kestrel server on 127.0.0.1 that answers after a latency drawn around <see cref="BaseLatency"/>
/// (times <see cref="SlowFactor"/> while it is slow). It can be stopped (connections refused) and started again on
/// the same port.
/// </summary>
internal sealed class DemoBackend : IAsyncDisposable
{
    private WebApplication? _app;

    public DemoBackend(string name, TimeSpan baseLatency)
    {
        Name = name;
        BaseLatency = baseLatency;
    }

    public string Name { get; }

    public int Port { get; private set; }

    public TimeSpan BaseLatency { get; }

    /// <summary>Multiplies the latency; 1 is normal.</summary>
    public double SlowFactor { get; set; } = 1;

    public bool IsUp => _app is not null;

    public string Address => $"http://127.0.0.1:{Port}";

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, Port)); // Port 0 the first time: the OS picks.
        var app = builder.Build();
        app.Run(HandleAsync);
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

        // Latency ~ N(base, base/10), never below 1 ms.
        double u1 = 1 - Random.Shared.NextDouble(), u2 = Random.Shared.NextDouble();
        double normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        double ms = Math.Max(1, (BaseLatency.TotalMilliseconds + (normal * BaseLatency.TotalMilliseconds / 10)) * SlowFactor);
        await Task.Delay(TimeSpan.FromMilliseconds(ms), context.RequestAborted);
        context.Response.Headers["X-Backend"] = Name;
        await context.Response.WriteAsync(Name);
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
