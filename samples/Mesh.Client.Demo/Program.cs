using Mesh.Client;
using System.Diagnostics;
using System.Net;
using Mesh.Client.Demo;
using Mesh.Client.Diagnostics;
using Mesh.Client.Grpc.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
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

// 1. Backends on 127.0.0.1, ports chosen by the OS; latencies differ a little, as real replicas do. The canary scene has
//    two versions of the service, each its own mesh service, and the last v2 replica is bad.
var backends = new List<DemoBackend>();
if (options.Canary)
{
    foreach (var (version, service) in new[] { ("v1", CanaryRoute.Stable), ("v2", CanaryRoute.Canary) })
    {
        for (int i = 0; i < options.BackendCount; i++)
        {
            var backend = new DemoBackend($"{version}-{i + 1}", TimeSpan.FromMilliseconds(20 + (i * 3)), service: service);
            await backend.StartAsync();
            backends.Add(backend);
        }
    }

    backends[^1].Bad = options.Chaos;
}
else
{
    for (int i = 0; i < options.BackendCount; i++)
    {
        var backend = new DemoBackend($"backend-{i + 1}", TimeSpan.FromMilliseconds(20 + (i * 3)), options.Grpc);
        await backend.StartAsync();
        backends.Add(backend);
    }
}

// 2. The mesh: service 'catalog' is those backends (in the canary scene, a route over the two versions); the client
//    sends to http://catalog. The app hosting it also serves the mesh's live diagnostics page.
var web = WebApplication.CreateSlimBuilder();
web.Logging.ClearProviders();
web.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
var services = web.Services;
var mesh = services.AddMeshClient();
var phases = CanaryPhase.Rollout();
CanaryRoute? canaryRoute = null;
if (options.Canary)
{
    // 'catalog' has no replicas of its own: its route sends every request to catalog-v1 or catalog-v2, and the route
    // lives in the application's configuration, where an operator (or a rollout controller) changes its weights.
    mesh.AddStaticEndpoints(CanaryRoute.Service);
    mesh.AddStaticEndpoints(CanaryRoute.Stable, backends.Where(b => b.Service == CanaryRoute.Stable).Select(b => b.Address).ToArray());
    mesh.AddStaticEndpoints(CanaryRoute.Canary, backends.Where(b => b.Service == CanaryRoute.Canary).Select(b => b.Address).ToArray());
    canaryRoute = new CanaryRoute(phases[0].StableWeight, phases[0].CanaryWeight);
    ((IConfigurationBuilder)web.Configuration).Add(canaryRoute);
}
else
{
    mesh.AddStaticEndpoints("catalog", backends.Select(b => b.Address).ToArray());
}

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

AnsiConsole.MarkupLine($"Mesh diagnostics page while the demo runs: [link]{Markup.Escape(pageUrl)}[/]; Prometheus metrics: [link]{Markup.Escape(metricsUrl)}[/]");

// 3. The scenario: one backend turns slow for a while, the last one dies and comes back. Or the canary rollout: the
//    route's weights change in configuration while the bad v2 replica is found and ejected.
var stats = backends.ToDictionary(b => b.Name, _ => new BackendStats());
var byName = backends.ToDictionary(b => b.Name);
var events = new List<string>();
int phase = 0;
var clock = Stopwatch.StartNew();
using var stop = new CancellationTokenSource(options.Duration);
var scenario = canaryRoute is not null ? Task.WhenAll(RunCanaryAsync(canaryRoute, stop.Token), WatchEjectionsAsync(stop.Token))
    : options.Chaos ? RunScenarioAsync(stop.Token)
    : Task.CompletedTask;

int errors = 0;
var callerLatencies = new List<double>();
var errorKinds = new Dictionary<string, int>();
var workers = Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(() => WorkAsync(stop.Token))).ToArray();

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

        AnsiConsole.WriteLine($"t={clock.Elapsed.TotalSeconds:0}s requests={stats.Values.Sum(s => s.Requests)} errors={Volatile.Read(ref errors)}" +
            (canaryRoute is null ? "" : " " + CanaryShares(TimeSpan.FromSeconds(2))));
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
        int sentIn = Volatile.Read(ref phase); // the split a request went out under, not the one it came back under
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
                string name = names.First();
                stats[name].Record(ms, Stopwatch.GetTimestamp());
                if (canaryRoute is not null)
                {
                    phases[sentIn].Record(byName[name].Service == CanaryRoute.Canary);
                }

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
        if (!await WaitUntilAsync(at, cancellationToken))
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

// Waits until the run's clock reads `at`; false when the run ended first.
async Task<bool> WaitUntilAsync(TimeSpan at, CancellationToken cancellationToken)
{
    var wait = at - clock.Elapsed;
    try
    {
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }

        return true;
    }
    catch (OperationCanceledException)
    {
        return false;
    }
}

async Task RunCanaryAsync(CanaryRoute route, CancellationToken cancellationToken)
{
    AddEvent($"{WeightsText(phases[0])} at start");
    for (int i = 1; i < phases.Length; i++)
    {
        if (!await WaitUntilAsync(options.Duration * phases[i].At, cancellationToken))
        {
            return;
        }

        // What an operator's edit of appsettings.json does: the configuration reloads and the mesh applies the new weights.
        route.SetWeights(phases[i].StableWeight, phases[i].CanaryWeight);
        var now = clock.Elapsed;
        phases[i - 1].Ended = now;
        phases[i].Started = now;
        Volatile.Write(ref phase, i);
        AddEvent($"{WeightsText(phases[i])} (configuration reloaded)");
    }
}

// Polls what the mesh sees of the bad replica, so the story says when passive health took it out and let it back in.
async Task WatchEjectionsAsync(CancellationToken cancellationToken)
{
    var bad = backends.Where(b => b.Bad).ToArray();
    var ejected = new bool[bad.Length];
    var ejectedUntil = new DateTimeOffset?[bad.Length];
    while (bad.Length > 0 && !cancellationToken.IsCancellationRequested)
    {
        var snapshot = diagnostics.GetSnapshot();
        var seen = Seen(snapshot);
        for (int i = 0; i < bad.Length; i++)
        {
            if (!seen.TryGetValue((bad[i].Service, bad[i].Address), out var endpoint))
            {
                continue;
            }

            // A later end time is a new ejection, even when the replica came back and failed again between two polls (the
            // end time itself wobbles by a tick or so from one snapshot to the next).
            if (endpoint.State == EndpointState.Ejected && endpoint.EjectedUntil > (ejectedUntil[i] ?? DateTimeOffset.MinValue) + TimeSpan.FromSeconds(1))
            {
                AddEvent($"{bad[i].Name} ejected by passive health for {(endpoint.EjectedUntil - snapshot.Timestamp)?.TotalSeconds:0} s " +
                    $"(ejection {endpoint.TimesEjected}{(ejected[i] ? ", it failed again at once on its return" : "")})");
                ejected[i] = true;
                ejectedUntil[i] = endpoint.EjectedUntil;
            }
            else if (endpoint.State != EndpointState.Ejected && ejected[i])
            {
                AddEvent($"{bad[i].Name} back in rotation, its ejection over; latency estimate after its failures {endpoint.RttEstimate.TotalMilliseconds:N0} ms");
                ejected[i] = false;
            }
        }

        try
        {
            await Task.Delay(100, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }
    }
}

void AddEvent(string text)
{
    string line = $"{clock.Elapsed.TotalSeconds,5:0.0}s  {text}";
    lock (events)
    {
        events.Add(line);
    }

    if (!AnsiConsole.Profile.Capabilities.Interactive)
    {
        AnsiConsole.WriteLine(line); // a log has no live table: the rollout's steps go out as they happen
    }
}

static string WeightsText(CanaryPhase p) =>
    $"route '{CanaryRoute.Name}' of {CanaryRoute.Service}: {CanaryRoute.Stable} weight {p.StableWeight}, {CanaryRoute.Canary} weight {p.CanaryWeight}";

static Dictionary<(string Service, string Key), EndpointSnapshot> Seen(MeshSnapshot snapshot) =>
    snapshot.Services.SelectMany(s => s.Endpoints.Select(e => (s.ServiceName, e))).ToDictionary(p => (p.ServiceName, p.e.Key), p => p.e);

// The weight each version has in the application's configuration now, as a share of the route's total.
double ConfiguredShare(int backend)
{
    double Weight(int i) => double.TryParse(app.Configuration[CanaryRoute.WeightKey(i)], System.Globalization.CultureInfo.InvariantCulture, out double w) ? w : 0;
    double total = Weight(0) + Weight(1);
    return total == 0 ? 0 : 100 * Weight(backend) / total;
}

// Requests per second each version answered over the last window.
(double Stable, double Canary) VersionRates(TimeSpan window)
{
    long now = Stopwatch.GetTimestamp();
    double stable = 0, canary = 0;
    foreach (var backend in backends)
    {
        double rate = stats[backend.Name].Recent(window, now, Stopwatch.Frequency).Rate;
        if (backend.Service == CanaryRoute.Canary)
        {
            canary += rate;
        }
        else
        {
            stable += rate;
        }
    }

    return (stable, canary);
}

string CanaryShares(TimeSpan window)
{
    var (stable, canary) = VersionRates(window);
    double total = Math.Max(stable + canary, double.Epsilon);
    return $"{CanaryRoute.Stable} {ConfiguredShare(0):0} % (last {window.TotalSeconds:0} s: {100 * stable / total:0.0} %), " +
        $"{CanaryRoute.Canary} {ConfiguredShare(1):0} % (last {window.TotalSeconds:0} s: {100 * canary / total:0.0} %)";
}

Table VersionTable()
{
    var table = new Table().Border(TableBorder.Rounded)
        .AddColumn("service").AddColumn(new TableColumn("weight").RightAligned()).AddColumn(new TableColumn("share (2 s)").RightAligned())
        .AddColumn(new TableColumn("req/s (2 s)").RightAligned()).AddColumn("replicas").AddColumn("traffic now");
    var (stable, canary) = VersionRates(TimeSpan.FromSeconds(2));
    double total = Math.Max(stable + canary, double.Epsilon);
    var seen = Seen(diagnostics.GetSnapshot());
    foreach (var (index, service, rate) in new[] { (0, CanaryRoute.Stable, stable), (1, CanaryRoute.Canary, canary) })
    {
        var replicas = backends.Where(b => b.Service == service).ToArray();
        int ejected = replicas.Count(b => seen.TryGetValue((service, b.Address), out var e) && e.State != EndpointState.Available);
        table.AddRow(service, $"{ConfiguredShare(index):0} %", $"{100 * rate / total:0.0} %", $"{rate:0}",
            ejected == 0 ? $"{replicas.Length} available" : $"{replicas.Length - ejected} available, [red]{ejected} out[/]",
            $"[blue]{new string('█', (int)Math.Round(20 * rate / total))}[/]");
    }

    return table;
}

Table PhaseTable()
{
    var table = new Table().Border(TableBorder.Rounded)
        .AddColumn("weights v1/v2").AddColumn(new TableColumn("from s").RightAligned()).AddColumn(new TableColumn("to s").RightAligned())
        .AddColumn(new TableColumn("requests").RightAligned())
        .AddColumn(new TableColumn($"{CanaryRoute.Stable} share").RightAligned()).AddColumn(new TableColumn($"{CanaryRoute.Canary} share").RightAligned());
    for (int i = 0; i <= Volatile.Read(ref phase); i++)
    {
        var p = phases[i];
        long total = Math.Max(1, p.Stable + p.Canary);
        table.AddRow($"{p.StableWeight}/{p.CanaryWeight}", $"{p.Started.TotalSeconds:0.0}", $"{(p.Ended ?? clock.Elapsed).TotalSeconds:0.0}",
            (p.Stable + p.Canary).ToString("N0"), $"{100.0 * p.Stable / total:0.0} %", $"{100.0 * p.Canary / total:0.0} %");
    }

    return table;
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
    var seen = Seen(diagnostics.GetSnapshot());
    long now = Stopwatch.GetTimestamp();
    double maxRate = Math.Max(1, stats.Values.Max(s => s.Recent(TimeSpan.FromSeconds(2), now, Stopwatch.Frequency).Rate));
    foreach (var backend in backends)
    {
        var s = stats[backend.Name];
        string state = !backend.IsUp ? "[red]down[/]" : backend.Bad ? "[red]bad: 503s, resets[/]" : backend.SlowFactor > 1 ? "[yellow]slow[/]" : "[green]up[/]";
        string view = !seen.TryGetValue((backend.Service, backend.Address), out var endpoint) ? "-" : endpoint.State switch
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
    string service = canaryRoute is null ? "service [aqua]catalog[/]"
        : $"service [aqua]{CanaryRoute.Service}[/], route [aqua]{CanaryRoute.Name}[/] to [aqua]{CanaryRoute.Stable}[/] and [aqua]{CanaryRoute.Canary}[/]";
    var header = new Markup(
        $"[bold]Mesh.Client demo[/]{(options.Grpc ? " (gRPC)" : "")}  {service}  balancer [aqua]{Markup.Escape(balancerName)}[/]  " +
        $"t={clock.Elapsed.TotalSeconds:0.0}s / {options.Duration.TotalSeconds:0}s  " +
        $"requests {stats.Values.Sum(s => s.Requests):N0}  errors [{(Volatile.Read(ref errors) == 0 ? "green" : "red")}]{Volatile.Read(ref errors):N0}[/]" +
        $"{Environment.NewLine}live page: [link]{Markup.Escape(pageUrl)}[/]");
    string[] lines;
    lock (events)
    {
        lines = events.ToArray();
    }

    var log = new Markup(Markup.Escape(string.Join(Environment.NewLine, lines)));
    return canaryRoute is null ? new Rows(header, BackendTable(overall: false), log) : new Rows(header, VersionTable(), BackendTable(overall: false), log);
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
    if (canaryRoute is not null)
    {
        AnsiConsole.MarkupLine("Which version answered while each split was in force:");
        AnsiConsole.Write(PhaseTable());
        var seen = Seen(diagnostics.GetSnapshot());
        foreach (var bad in backends.Where(b => b.Bad))
        {
            long attempts = seen.TryGetValue((bad.Service, bad.Address), out var endpoint) ? endpoint.Requests : 0;
            AnsiConsole.MarkupLine($"{bad.Name} took {attempts:N0} attempts and failed them all; " +
                (!options.Health ? "with retries off, callers saw those failures."
                    : errors == 0 ? $"each was retried on another {Markup.Escape(bad.Service)} replica, so no caller saw one."
                    : "retries covered those the retry budget allowed."));
        }
    }

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
