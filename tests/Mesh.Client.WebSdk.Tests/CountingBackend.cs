using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace WebSdkConsumer;

/// <summary>A real Kestrel server on 127.0.0.1, on a port the OS picks; it answers with its name and counts requests.</summary>
internal sealed class CountingBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _count;

    private CountingBackend(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    public string Name { get; }

    public Uri Address { get; private set; } = null!;

    public int Count => Volatile.Read(ref _count);

    public static async Task<CountingBackend> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var backend = new CountingBackend(app, name);
        app.Run(context =>
        {
            Interlocked.Increment(ref backend._count);
            return context.Response.WriteAsync(name);
        });
        await app.StartAsync();
        backend.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
