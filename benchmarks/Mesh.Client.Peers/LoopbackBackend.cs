using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Peers;

/// <summary>
/// A Kestrel backend on 127.0.0.1. Answers after a delay drawn from N(mean, sd) (none when mean is zero), or after
/// <see cref="StallLatency"/> for requests that arrive inside its stall window. Counts every attempt it receives, in
/// one-second bins from <see cref="Reset"/>.
/// </summary>
internal sealed class LoopbackBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Random _random;
    private readonly double _meanMs;
    private readonly double _sdMs;
    private long _attempts;
    private long _originTimestamp;
    private int[] _bins = new int[1];
    private TimeSpan _stallFrom = TimeSpan.MaxValue;
    private TimeSpan _stallUntil = TimeSpan.MaxValue;
    private System.Collections.Concurrent.ConcurrentQueue<TimeSpan> _stalledArrivals = new();

    private LoopbackBackend(WebApplication app, int seed, double meanMs, double sdMs)
    {
        _app = app;
        _random = new Random(seed);
        _meanMs = meanMs;
        _sdMs = sdMs;
    }

    public static readonly TimeSpan StallLatency = TimeSpan.FromSeconds(2);

    public int Port { get; private set; }

    public string Url => $"http://127.0.0.1:{Port}";

    public long Attempts => Interlocked.Read(ref _attempts);

    /// <summary>Attempts received in each second since <see cref="Reset"/>.</summary>
    public int[] Bins => _bins;

    /// <summary>When each request answered after the stall arrived, measured from the stall's start.</summary>
    public IReadOnlyCollection<TimeSpan> StalledArrivals => _stalledArrivals;

    public static async Task<LoopbackBackend> StartAsync(int seed, double meanMs, double sdMs)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var backend = new LoopbackBackend(app, seed, meanMs, sdMs);
        app.Run(backend.HandleAsync);
        await app.StartAsync();
        backend.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return backend;
    }

    /// <summary>Zeroes the counters, starts the clock, and sets the stall window (relative to now; none if null).</summary>
    public void Reset(int seconds, TimeSpan? stallFrom = null, TimeSpan? stallUntil = null)
    {
        _bins = new int[seconds + 30];
        Interlocked.Exchange(ref _attempts, 0);
        _stallFrom = stallFrom ?? TimeSpan.MaxValue;
        _stallUntil = stallUntil ?? TimeSpan.MaxValue;
        _stalledArrivals = new();
        Volatile.Write(ref _originTimestamp, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    private Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _attempts);
        var since = System.Diagnostics.Stopwatch.GetElapsedTime(Volatile.Read(ref _originTimestamp));
        var bins = _bins;
        int bin = (int)since.TotalSeconds;
        if (bin >= 0 && bin < bins.Length)
        {
            Interlocked.Increment(ref bins[bin]);
        }

        if (since >= _stallFrom && since < _stallUntil)
        {
            _stalledArrivals.Enqueue(since - _stallFrom);
            return DelayThenAnswer(context, StallLatency);
        }

        if (_meanMs <= 0)
        {
            return context.Response.WriteAsync("ok");
        }

        double u1, u2;
        lock (_random)
        {
            u1 = 1.0 - _random.NextDouble();
            u2 = _random.NextDouble();
        }

        double normal = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2); // Box-Muller
        return DelayThenAnswer(context, TimeSpan.FromMilliseconds(Math.Max(0, _meanMs + (_sdMs * normal))));
    }

    private static async Task DelayThenAnswer(HttpContext context, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return; // a hedge's loser, cancelled by its client
        }

        await context.Response.WriteAsync("ok");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
