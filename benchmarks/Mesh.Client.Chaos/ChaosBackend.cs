using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Chaos;

/// <summary>A Kestrel backend on loopback that answers 503 to 5 % of requests, hangs on 1 % and resets 1 % after the headers; can be killed and restarted on its port.</summary>
internal sealed class ChaosBackend : IAsyncDisposable
{
    private readonly Random _random;
    private WebApplication? _app;
    private long _attempts;

    private ChaosBackend(int seed)
    {
        _random = new Random(seed);
    }

    public int Port { get; private set; }

    public bool IsUp => _app is not null;

    public long Attempts => Interlocked.Read(ref _attempts);

    public static async Task<ChaosBackend> StartAsync(int port, int seed)
    {
        var backend = new ChaosBackend(seed);
        await backend.StartOnAsync(port);
        return backend;
    }

    private async Task StartOnAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.Zero); // a kill, not a drain
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _app = app;
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path == "/health")
        {
            await context.Response.WriteAsync("healthy"); // heartbeats: up means healthy; faults are for traffic
            return;
        }

        Interlocked.Increment(ref _attempts);
        int roll;
        lock (_random)
        {
            roll = _random.Next(100);
        }

        if (roll < 5)
        {
            context.Response.StatusCode = 503;
            return;
        }

        if (roll == 5)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (roll == 6)
        {
            // Headers, part of the body, then a reset: the caller must not see it (the mesh reads a small body inside
            // the attempt and retries elsewhere).
            context.Response.ContentLength = 100;
            await context.Response.WriteAsync("partial");
            await context.Response.Body.FlushAsync();
            context.Abort();
            return;
        }

        await context.Response.WriteAsync("ok");
    }

    public async Task KillAsync()
    {
        var app = _app;
        _app = null;
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async Task<bool> TryRestartAsync()
    {
        try
        {
            await StartOnAsync(Port);
            return true;
        }
        catch (IOException)
        {
            return false; // the port is not free yet; the next tick tries again
        }
    }

    public ValueTask DisposeAsync() => new(KillAsync());
}

/// <summary>Command-line settings of the chaos run.</summary>
internal sealed record ChaosSettings(int DurationSeconds, int Concurrency, int Backends, bool Hedging, int Seed, bool Verbose = false)
{
    public static ChaosSettings Parse(string[] args)
    {
        var settings = new ChaosSettings(60, 16, 10, true, 1);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            settings = args[i] switch
            {
                "--duration" => settings with { DurationSeconds = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                "--concurrency" => settings with { Concurrency = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                "--backends" => settings with { Backends = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                "--seed" => settings with { Seed = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                "--no-hedging" => settings with { Hedging = false },
                "--verbose" => settings with { Verbose = true },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Options: --duration <s>, --concurrency <n>, --backends <n>, --no-hedging, --seed <n>, --verbose."),
            };
        }

        return settings;
    }
}
