using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>
/// One replica of a Deployment: real Kestrel on 127.0.0.1 with a port the OS picks, HTTP/1.1 keep-alive as a pod
/// serves it. <c>GET</c> answers with the pod's name; <c>POST</c> checks its body against the SHA-256 the caller sent
/// in <see cref="BodyHashHeader"/> (400 if they differ) and echoes it back. The pod counts what it served, and what
/// reached it before the test published it ready or after the test declared it gone; it can hold one request until its
/// shutdown. It can stop as an application does on SIGTERM (graceful: stop listening, finish what is in flight, close
/// idle connections), reset its idle keep-alive connections (RST, as a crashing process or a dropping proxy does), or
/// be killed (every connection reset, nothing drained).
/// </summary>
public sealed class KestrelPod : IAsyncDisposable
{
    public const string BodyHashHeader = "X-Body-Sha256";

    /// <summary>Who sent a request: the pod reports it for the request it holds.</summary>
    public const string CallerHeader = "X-Caller";

    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);
    private WebApplication _app = null!;
    private int _stopped;
    private long _served;
    private long _servedAfterGone;
    private volatile bool _gone;
    private volatile bool _ready;
    private long _servedBeforeReady;
    private string? _holdMethod;
    private TaskCompletionSource<string> _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _drained;

    private KestrelPod(string name)
    {
        Name = name;
    }

    public string Name { get; }

    public int Port { get; private set; }

    /// <summary><c>127.0.0.1:port</c>, as the mesh's diagnostics show the endpoint.</summary>
    public string Authority => $"127.0.0.1:{Port}";

    /// <summary>Requests the pod's application received.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Requests the pod's application received before <see cref="MarkReady"/>.</summary>
    public long ServedBeforeReady => Interlocked.Read(ref _servedBeforeReady);

    /// <summary>Requests the pod's application received after <see cref="MarkGone"/>.</summary>
    public long ServedAfterGone => Interlocked.Read(ref _servedAfterGone);

    /// <summary>Held requests that were answered once the pod's shutdown asked their connection to close.</summary>
    public int Drained => Volatile.Read(ref _drained);

    public static async Task<KestrelPod> StartAsync(string name)
    {
        var pod = new KestrelPod(name);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.Use(pod.TrackConnection)));
        var app = builder.Build();
        app.Run(pod.HandleAsync);
        await app.StartAsync();
        pod._app = app;
        pod.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return pod;
    }

    /// <summary>The pod is about to be published ready: until now, no client could know it as an endpoint.</summary>
    public void MarkReady() => _ready = true;

    /// <summary>From now on, no request may reach this pod: the test has seen every client stop using it.</summary>
    public void MarkGone() => _gone = true;

    /// <summary>
    /// Holds the next request with <paramref name="method"/> until Kestrel, shutting down, asks its connection to close:
    /// a request in flight when the pod is told to stop. The task completes, with the request's
    /// <see cref="CallerHeader"/>, once the request is held.
    /// </summary>
    public Task<string> HoldNext(string method)
    {
        _held = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _holdMethod, method);
        return _held.Task;
    }

    /// <summary>
    /// Resets (RST) every connection with no request in progress. A request that arrives on one at that moment meets
    /// the reset: the race every HTTP/1.1 client has with a server closing an idle keep-alive connection.
    /// </summary>
    public int ResetIdleConnections()
    {
        int reset = 0;
        foreach (var connection in _connections.Values)
        {
            if (Volatile.Read(ref connection.Active) == 0)
            {
                reset += Reset(connection.Socket) ? 1 : 0;
            }
        }

        return reset;
    }

    /// <summary>What SIGTERM does to an ASP.NET Core application: stop listening, finish the requests in flight, close the connections.</summary>
    public Task StopGracefullyAsync() => StopAsync(graceful: true);

    /// <summary>What SIGKILL does: every connection reset at once, nothing drained. Returns how many were reset.</summary>
    public async Task<int> KillAsync()
    {
        int reset = 0;
        foreach (var connection in _connections.Values)
        {
            reset += Reset(connection.Socket) ? 1 : 0;
        }

        await StopAsync(graceful: false);
        return reset;
    }

    private async Task StopAsync(bool graceful)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            // A cancelled token makes Kestrel abort what is left instead of waiting for it.
            await _app.StopAsync(graceful ? CancellationToken.None : new CancellationToken(canceled: true));
            await _app.DisposeAsync();
        }
    }

    private static bool Reset(Socket? socket)
    {
        if (socket is null)
        {
            return false;
        }

        try
        {
            // Linger on with a zero timeout: close sends RST instead of FIN.
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private ConnectionDelegate TrackConnection(ConnectionDelegate next) => async context =>
    {
        var connection = new Connection(context.Features.Get<IConnectionSocketFeature>()?.Socket);
        _connections[context.ConnectionId] = connection;
        try
        {
            await next(context);
        }
        finally
        {
            _connections.TryRemove(context.ConnectionId, out _);
        }
    };

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _served);
        if (!_ready)
        {
            Interlocked.Increment(ref _servedBeforeReady);
        }

        if (_gone)
        {
            Interlocked.Increment(ref _servedAfterGone);
        }

        var connection = _connections.GetValueOrDefault(context.Connection.Id);
        if (connection is not null)
        {
            Interlocked.Increment(ref connection.Active);
        }

        try
        {
            // The pod's pace (a few milliseconds of work), so that requests are in flight whenever it is told to stop.
            await Task.Delay(Random.Shared.Next(0, 3));
            if (HttpMethods.IsPost(context.Request.Method))
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                var received = body.ToArray();
                string expected = context.Request.Headers[BodyHashHeader].ToString();
                if (!string.Equals(Convert.ToHexString(SHA256.HashData(received)), expected, StringComparison.OrdinalIgnoreCase))
                {
                    context.Response.StatusCode = StatusCodes.Status400BadRequest;
                    await context.Response.WriteAsync($"{Name}: the body ({received.Length} bytes) does not match its hash");
                    return;
                }

                await HoldIfAskedAsync(context);
                context.Response.Headers["X-Pod"] = Name;
                context.Response.ContentLength = received.Length;
                await context.Response.Body.WriteAsync(received);
                return;
            }

            await HoldIfAskedAsync(context);
            await context.Response.WriteAsync(Name);
        }
        finally
        {
            if (connection is not null)
            {
                Interlocked.Decrement(ref connection.Active);
            }
        }
    }

    private async Task HoldIfAskedAsync(HttpContext context)
    {
        string? wanted = Volatile.Read(ref _holdMethod);
        if (wanted != context.Request.Method || Interlocked.CompareExchange(ref _holdMethod, null, wanted) != wanted)
        {
            return;
        }

        // Kestrel's graceful shutdown asks every connection to close; one with a request in flight closes after its answer.
        var closing = context.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested
            ?? throw new InvalidOperationException("Kestrel did not offer IConnectionLifetimeNotificationFeature");
        var closeRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = closing.Register(() => closeRequested.TrySetResult());
        _held.TrySetResult(context.Request.Headers[CallerHeader].ToString());
        await closeRequested.Task;
        Interlocked.Increment(ref _drained);
    }

    public ValueTask DisposeAsync() => new(StopAsync(graceful: false));

    private sealed class Connection(Socket? socket)
    {
        public Socket? Socket { get; } = socket;

        public int Active;
    }
}
