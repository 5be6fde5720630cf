using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>What a test backend saw of one request.</summary>
public sealed record ReceivedRequest(string Method, string PathAndQuery, string Host, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>
/// A real Kestrel server on 127.0.0.1 with a port the OS picks. It answers every request with 200 and its own name
/// (override with <see cref="Handler"/>), and records what it received.
/// </summary>
public sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedRequest> _received = new();

    private TestBackend(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    public string Name { get; }

    public int Port { get; private set; }

    /// <summary><c>http://127.0.0.1:port</c> (https for an https backend).</summary>
    public string Address => $"{Scheme}://127.0.0.1:{Port}";

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Authority => $"127.0.0.1:{Port}";

    public IReadOnlyCollection<ReceivedRequest> Received => _received;

    public int Count => _received.Count;

    /// <summary>Replaces the default answer; receives the context after the request was recorded.</summary>
    public Func<HttpContext, Task>? Handler { get; set; }

    /// <summary>The scheme the backend listens with.</summary>
    public string Scheme { get; private init; } = "http";

    /// <param name="name">What the backend answers with.</param>
    /// <param name="configure">Changes to the web application.</param>
    /// <param name="listenOn">Where to listen; default 127.0.0.1 on a port the OS picks (DNS tests listen on 127.0.0.2, 127.0.0.3...).</param>
    public static Task<TestBackend> StartAsync(string name = "backend", Action<WebApplicationBuilder>? configure = null, IPEndPoint? listenOn = null) =>
        StartAsync(name, configure, listen: null, scheme: "http", listenOn);

    /// <summary>Starts an https backend; <paramref name="https"/> sets up its TLS (certificate, SNI callback).</summary>
    public static Task<TestBackend> StartHttpsAsync(string name, Action<Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions> https) =>
        StartAsync(name, configure: null, listen: l => l.UseHttps(https), scheme: "https", listenOn: null);

    private static async Task<TestBackend> StartAsync(string name, Action<WebApplicationBuilder>? configure,
        Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions>? listen, string scheme, IPEndPoint? listenOn)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.UseKestrel(k => k.Listen(listenOn ?? new IPEndPoint(IPAddress.Loopback, 0), l => listen?.Invoke(l)));
        configure?.Invoke(builder);
        var app = builder.Build();
        var backend = new TestBackend(app, name) { Scheme = scheme };
        app.Run(backend.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        backend.Port = new Uri(address).Port;
        return backend;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _received.Enqueue(new ReceivedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString,
            context.Request.Host.Value ?? string.Empty, headers, body.ToArray()));
        if (Handler is { } handler)
        {
            await handler(context);
            return;
        }

        await context.Response.WriteAsync(Name);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
