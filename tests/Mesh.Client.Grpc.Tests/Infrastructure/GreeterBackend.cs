using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Mesh.Client.Grpc.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Grpc.Tests.Infrastructure;

/// <summary>
/// A real Grpc.AspNetCore server on 127.0.0.1 (HTTP/2 only: h2c, or TLS with ALPN), on a port the OS picks, serving
/// <see cref="Greeter"/> and the standard health service. What it does per call is set with <see cref="BeforeReply"/>.
/// </summary>
public sealed class GreeterBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _calls;
    private int _arrived;
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _stopped;

    private GreeterBackend(WebApplication app, string name, string scheme)
    {
        _app = app;
        Name = name;
        Scheme = scheme;
    }

    public string Name { get; }

    public string Scheme { get; }

    public int Port { get; private set; }

    public string Address => $"{Scheme}://127.0.0.1:{Port}";

    /// <summary>Calls that reached the service (any method), before <see cref="BeforeReply"/> ran.</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Runs in each call before it answers: hang, fail with an <see cref="RpcException"/>, or let it through.</summary>
    public Func<ServerCallContext, Task>? BeforeReply { get; set; }

    /// <summary>The server's health service (SERVING for "" and every name until a test says otherwise).</summary>
    public HealthServiceImpl Health { get; } = new();

    /// <summary>Completes when <paramref name="count"/> calls have reached the service.</summary>
    public Task WhenCallsReached(int count)
    {
        lock (_waiters)
        {
            if (_arrived >= count)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task;
        }
    }

    /// <summary>Runs in a server stream after its messages are written: fail the stream after them, for example.</summary>
    public Func<ServerCallContext, Task>? AfterStream { get; set; }

    /// <summary>The authority (Host) each call carried.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Authorities { get; } = new();

    internal async Task OnCallAsync(ServerCallContext context)
    {
        Authorities.Enqueue(context.Host);
        Interlocked.Increment(ref _calls);
        lock (_waiters)
        {
            _arrived++;
            foreach (var (count, reached) in _waiters)
            {
                if (_arrived >= count)
                {
                    reached.TrySetResult();
                }
            }
        }

        if (BeforeReply is { } before)
        {
            await before(context);
        }
    }

    public static Task<GreeterBackend> StartAsync(string name) => StartAsync(name, certificate: null);

    /// <summary>Starts a backend; with <paramref name="certificate"/>, it serves TLS (HTTP/2 by ALPN) with that certificate.</summary>
    public static async Task<GreeterBackend> StartAsync(string name, X509Certificate2? certificate, Action<string?>? onServerName = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            if (certificate is not null)
            {
                listen.UseHttps(https => https.ServerCertificateSelector = (_, serverName) =>
                {
                    onServerName?.Invoke(serverName);
                    return certificate;
                });
            }
        }));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<BackendRegistry>();
        var app = builder.Build();
        var backend = new GreeterBackend(app, name, certificate is null ? "http" : "https");
        backend.Health.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving);
        app.Services.GetRequiredService<BackendRegistry>().Backend = backend;
        app.MapGrpcService<GreeterService>();
        app.MapGrpcService<HealthEndpoint>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        backend.Port = new Uri(address).Port;
        return backend;
    }

    /// <summary>
    /// Kills the backend as a crashed process would look to its clients: the listener closes (new connections are
    /// refused) and open connections are aborted, with calls in flight on them.
    /// </summary>
    public async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _app.StopAsync(new CancellationToken(canceled: true));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Lets the services (created per call by Grpc.AspNetCore) find their backend.</summary>
    internal sealed class BackendRegistry
    {
        public GreeterBackend Backend { get; set; } = null!;
    }

    /// <summary>The standard health service, delegating to the backend's <see cref="HealthServiceImpl"/>.</summary>
    internal sealed class HealthEndpoint(BackendRegistry registry) : global::Grpc.Health.V1.Health.HealthBase
    {
        public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context) =>
            registry.Backend.Health.Check(request, context);
    }
}
