using Mesh.Client;
using System.Diagnostics;
using System.Net;
using Mesh.Client.Demo;
using Mesh.Client.Diagnostics;
using Mesh.Client.Grpc.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spectre.Console;

DemoOptions options;
try
{
    options = DemoOptions.Parse(args);
}
catch (ArgumentException ex)
{
    AnsiConsole.MarkupLine($"[red]{Markup.Escape(ex.Message)}[/]");
    return 2;
}

if (!AnsiConsole.Profile.Capabilities.Interactive)
{
    AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 120); // a log or pipe has no width to fit
}

if (options.Help)
{
    Console.WriteLine(DemoOptions.Usage);
    return 0;
}

// 1. Backends on 127.0.0.1, ports chosen by the OS; latencies differ a little, as real replicas do.
var backends = new List<DemoBackend>();
for (int i = 0; i < options.Backends; i++)
{
    var backend = new DemoBackend($"backend-{i + 1}", TimeSpan.FromMilliseconds(20 + (i * 3)), options.Grpc);
    await backend.StartAsync();
    backends.Add(backend);
}

// 2. The mesh: service 'catalog' is those backends; the client sends to http://catalog. The app hosting it also serves
//    the mesh's live diagnostics page.
var web = WebApplication.CreateSlimBuilder();
web.Logging.ClearProviders();
web.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
var services = web.Services;
services.AddMeshClient().AddStaticEndpoints("catalog", backends.Select(b => b.Address).ToArray());
services.AddDemoMetrics(); // OpenTelemetry → Prometheus at /metrics, what samples/grafana's dashboard queries
void ConfigureMesh(MeshServiceOptions o)
{
    if (options.Balancer is { } balancer)
    {
        o.Balancer = balancer;
    }

    if (options.Health)
    {
        // Shorter than production defaults so a demo of seconds shows ejection, probing and return.
        o.PassiveHealth.BaseEjectionTime = TimeSpan.FromSeconds(3);
        if (options.Grpc)
        {
            o.HealthCheck.GrpcService = ""; // grpc.health.v1.Health/Check, the server's overall health
        }
        else
        {
            o.HealthCheck.Path = "/health";
        }

        o.HealthCheck.Interval = TimeSpan.FromSeconds(1);
        o.HealthCheck.Timeout = TimeSpan.FromMilliseconds(500);
        o.SlowStart.Window = TimeSpan.FromSeconds(5);
        o.Timeouts.Attempt = TimeSpan.FromSeconds(2);
    }
    else
    {
        o.PassiveHealth.Enabled = false;
        o.Retry.Enabled = false;
    }

    if (options.Hedging)
    {
        o.Hedging.Enabled = true;
        o.Hedging.DelayPercentile = 95;
    }
}

if (options.Grpc)
{
    // The two lines gRPC users write: the Greeter client goes through the mesh, one pick per call.
    services.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = new Uri("http://catalog"))
        .AddMeshHandler(ConfigureMesh);
}
else
{
    services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
        .AddMeshHandler(ConfigureMesh);
}

await using var app = web.Build();
app.MapMeshDiagnostics("/mesh");
app.MapDemoMetrics();
await app.StartAsync();
string pageUrl = app.Urls.First() + "/mesh";
string metricsUrl = app.Urls.First() + DemoMetrics.Path;
var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
var greeter = options.Grpc ? app.Services.GetRequiredService<Greeter.GreeterClient>() : null;
var diagnostics = app.Services.GetRequiredService<IMeshDiagnostics>();
string balancerName = options.Balancer?.ToString() ?? new MeshServiceOptions().Balancer + " (default)";

// 3. The scenario: one backend turns slow for a while, the last one dies and comes back.
var stats = backends.ToDictionary(b => b.Name, _ => new BackendStats());
var events = new List<string>();
var clock = Stopwatch.StartNew();
using var stop = new CancellationTokenSource(options.Duration);
var scenario = options.Chaos ? RunScenarioAsync(stop.Token) : Task.CompletedTask;

int errors = 0;
var callerLatencies = new List<double>();
var errorKinds = new Dictionary<string, int>();
var workers = Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(() => WorkAsync(stop.Token))).ToArray();

AnsiConsole.MarkupLine($"Mesh diagnostics page while the demo runs: [link]{Markup.Escape(pageUrl)}[/]; Prometheus metrics: [link]{Markup.Escape(metricsUrl)}[/]");
if (AnsiConsole.Profile.Capabilities.Interactive)
{
    await AnsiConsole.Live(Render()).AutoClear(false).StartAsync(async context =>
    {
        while (!stop.IsCancellationRequested)
        {
            context.UpdateTarget(Render());
            try
            {
                await Task.Delay(250, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    });
}
else
{
    while (!stop.IsCancellationRequested)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(5), stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        AnsiConsole.WriteLine($"t={clock.Elapsed.TotalSeconds:0}s requests={stats.Values.Sum(s => s.Requests)} errors={Volatile.Read(ref errors)}");
    }
}

await Task.WhenAll(workers);
await scenario;
PrintSummary();
await app.StopAsync();
foreach (var backend in backends)
{
    await backend.DisposeAsync();
}

return 0;

async Task WorkAsync(CancellationToken cancellationToken)
{
    while (!cancellationToken.IsCancellationRequested)
    {
        long start = Stopwatch.GetTimestamp();
        if (greeter is not null)
        {
            try
            {
                var reply = await greeter.SayHelloAsync(new HelloRequest { Name = "demo" }, cancellationToken: cancellationToken);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                stats[reply.Backend].Record(ms, Stopwatch.GetTimestamp());
                lock (callerLatencies)
                {
                    callerLatencies.Add(ms);
                }
            }
            catch (Grpc.Core.RpcException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Grpc.Core.RpcException ex)
            {
                CountError($"gRPC {ex.StatusCode}");
            }

            continue;
        }

        try
        {
            using var response = await client.GetAsync(new Uri("/work", UriKind.Relative), cancellationToken);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (response.IsSuccessStatusCode && response.Headers.TryGetValues("X-Backend", out var names))
            {
                stats[names.First()].Record(ms, Stopwatch.GetTimestamp());
                lock (callerLatencies)
                {
                    callerLatencies.Add(ms);
                }
            }
            else
            {
                CountError($"HTTP {(int)response.StatusCode}");
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            CountError(ex.GetType().Name);
        }
    }
}

void CountError(string kind)
{
    Interlocked.Increment(ref errors);
    lock (errorKinds)
    {
        errorKinds[kind] = errorKinds.GetValueOrDefault(kind) + 1;
    }
}

async Task RunScenarioAsync(CancellationToken cancellationToken)
{
    var slow = backends[0];
    var dying = backends[^1];
    var d = options.Duration;
    var steps = new (TimeSpan At, string Text, Func<Task> Act)[]
    {
        (d * 0.2, $"{slow.Name} turns 8x slower", () => { slow.SlowFactor = 8; return Task.CompletedTask; }),
        (d * 0.35, $"{dying.Name} dies (connections refused)", dying.StopAsync),
        (d * 0.55, $"{slow.Name} recovers", () => { slow.SlowFactor = 1; return Task.CompletedTask; }),
        (d * 0.7, $"{dying.Name} comes back", dying.StartAsync),
    };
    foreach (var (at, text, act) in steps)
    {
        var wait = at - clock.Elapsed;
        try
        {
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }

        await act();
        lock (events)
        {
            events.Add($"{clock.Elapsed.TotalSeconds,5:0.0}s  {text}");
        }
    }
}

Table BackendTable(bool overall)
{
    var table = new Table().Border(TableBorder.Rounded)
        .AddColumn("backend").AddColumn("address").AddColumn("backend is").AddColumn("mesh sees")
        .AddColumn(new TableColumn("requests").RightAligned()).AddColumn(new TableColumn("share").RightAligned());
    if (overall)
    {
        table.AddColumn(new TableColumn("p50 ms").RightAligned()).AddColumn(new TableColumn("p99 ms").RightAligned());
    }
    else
    {
        table.AddColumn(new TableColumn("req/s (2 s)").RightAligned()).AddColumn(new TableColumn("p50 ms (2 s)").RightAligned())
            .AddColumn("traffic now");
    }

    int total = Math.Max(1, stats.Values.Sum(s => s.Requests));
    var seen = diagnostics.GetSnapshot().Services.SelectMany(s => s.Endpoints).ToDictionary(e => e.Key);
    long now = Stopwatch.GetTimestamp();
    double maxRate = Math.Max(1, stats.Values.Max(s => s.Recent(TimeSpan.FromSeconds(2), now, Stopwatch.Frequency).Rate));
    foreach (var backend in backends)
    {
        var s = stats[backend.Name];
        string state = !backend.IsUp ? "[red]down[/]" : backend.SlowFactor > 1 ? "[yellow]slow[/]" : "[green]up[/]";
        string view = !seen.TryGetValue(backend.Address, out var endpoint) ? "-" : endpoint.State switch
        {
            EndpointState.Ejected => $"[red]ejected[/] ({endpoint.TimesEjected}x)",
            EndpointState.Unhealthy => "[red]unhealthy[/]",
            _ => $"[green]available[/] {endpoint.RttEstimate.TotalMilliseconds:0} ms",
        };
        var row = new List<string> { backend.Name, backend.Address, state, view, s.Requests.ToString("N0"), $"{100.0 * s.Requests / total:0.0} %" };
        if (overall)
        {
            var (p50, p99) = s.Overall();
            row.Add(Format(p50));
            row.Add(Format(p99));
        }
        else
        {
            var (rate, p50) = s.Recent(TimeSpan.FromSeconds(2), now, Stopwatch.Frequency);
            row.Add($"{rate:0}");
            row.Add(Format(p50));
            row.Add($"[blue]{new string('█', (int)Math.Round(20 * rate / maxRate))}[/]");
        }

        table.AddRow(row.ToArray());
    }

    return table;
}

Rows Render()
{
    var header = new Markup(
        $"[bold]Mesh.Client demo[/]{(options.Grpc ? " (gRPC)" : "")}  service [aqua]catalog[/]  balancer [aqua]{Markup.Escape(balancerName)}[/]  " +
        $"t={clock.Elapsed.TotalSeconds:0.0}s / {options.Duration.TotalSeconds:0}s  " +
        $"requests {stats.Values.Sum(s => s.Requests):N0}  errors [{(Volatile.Read(ref errors) == 0 ? "green" : "red")}]{Volatile.Read(ref errors):N0}[/]" +
        $"{Environment.NewLine}live page: [link]{Markup.Escape(pageUrl)}[/]");
    string[] lines;
    lock (events)
    {
        lines = events.ToArray();
    }

    return new Rows(header, BackendTable(overall: false), new Markup(Markup.Escape(string.Join(Environment.NewLine, lines))));
}

void PrintSummary()
{
    double[] all;
    lock (callerLatencies)
    {
        all = callerLatencies.Order().ToArray();
    }

    AnsiConsole.WriteLine();
    AnsiConsole.MarkupLine($"[bold]Summary[/] after {clock.Elapsed.TotalSeconds:0.0}s, balancer {Markup.Escape(balancerName)}:");
    AnsiConsole.Write(BackendTable(overall: true));
    AnsiConsole.MarkupLine(
        $"caller latency p50 {Format(BackendStats.Percentile(all, 0.5))} ms, p99 {Format(BackendStats.Percentile(all, 0.99))} ms, " +
        $"p99.9 {Format(BackendStats.Percentile(all, 0.999))} ms; {all.Length:N0} succeeded, {errors:N0} failed" +
        (errorKinds.Count == 0 ? "." : $" ({Markup.Escape(string.Join(", ", errorKinds.Select(k => $"{k.Key}: {k.Value}")))})."));
    foreach (var line in events)
    {
        AnsiConsole.MarkupLine($"  {Markup.Escape(line)}");
    }
}

static string Format(double ms) => double.IsNaN(ms) ? "-" : ms.ToString("0.0");
