using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Mesh.Client.Grpc.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.GrpcBench;

/// <summary>
/// The backends, in a child process so the client's allocations and CPU are measured alone: <c>serve N DELAY_MS</c>
/// starts N Grpc.AspNetCore servers (h2c) on 127.0.0.1, prints <c>ports p1,p2,...</c>, then reads commands on stdin:
/// <c>delay PORT MS</c> changes one server's answer time.
/// </summary>
internal static class Servers
{
    public static async Task<int> ServeAsync(int count, int delayMs)
    {
        var delays = new ConcurrentDictionary<int, int>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            for (int i = 0; i < count; i++)
            {
                k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2);
            }
        });
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(delays);
        builder.Services.AddSingleton(new DefaultDelay(delayMs));
        var app = builder.Build();
        app.MapGrpcService<BenchGreeter>();
        await app.StartAsync();
        var ports = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a).Port).ToList();
        Console.WriteLine("ports " + string.Join(',', ports));
        while (Console.ReadLine() is { } line)
        {
            var parts = line.Split(' ');
            if (parts is ["delay", var port, var ms])
            {
                delays[int.Parse(port)] = int.Parse(ms);
                Console.WriteLine("ok");
            }
            else if (parts is ["quit"])
            {
                break;
            }
        }

        await app.StopAsync();
        return 0;
    }

    internal sealed record DefaultDelay(int Milliseconds);

    private sealed class BenchGreeter(ConcurrentDictionary<int, int> delays, DefaultDelay fallback) : Greeter.GreeterBase
    {
        private static readonly HelloReply s_reply = new() { Message = "hello", Backend = "b" };

        public override async Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
        {
            int port = context.GetHttpContext().Connection.LocalPort;
            int delay = delays.TryGetValue(port, out int d) ? d : fallback.Milliseconds;
            if (delay > 0)
            {
                await Task.Delay(delay, context.CancellationToken);
            }

            return s_reply;
        }
    }
}

/// <summary>A child process running <see cref="Servers.ServeAsync"/>.</summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, IReadOnlyList<int> ports)
    {
        _process = process;
        Ports = ports;
    }

    public IReadOnlyList<int> Ports { get; }

    public static ServerProcess Start(int count, int delayMs)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        string self = typeof(ServerProcess).Assembly.Location;
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            info.ArgumentList.Add(self);
        }

        info.ArgumentList.Add("serve");
        info.ArgumentList.Add(count.ToString());
        info.ArgumentList.Add(delayMs.ToString());
        var process = Process.Start(info)!;
        string line = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the server process ended");
        var ports = line["ports ".Length..].Split(',').Select(int.Parse).ToList();
        return new ServerProcess(process, ports);
    }

    public void SetDelay(int port, int milliseconds)
    {
        _process.StandardInput.WriteLine($"delay {port} {milliseconds}");
        _process.StandardInput.Flush();
        _ = _process.StandardOutput.ReadLine();
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.WriteLine("quit");
            if (!_process.WaitForExit(5000))
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
