using System.Diagnostics;
using System.Globalization;
using System.Net;
using Mesh.Client.Chaos;
using Microsoft.Extensions.DependencyInjection;

// Chaos run for Mesh.Client's health and resilience: 10 loopback backends, one killed or restarted every 2 s, 5 % of
// responses 503, 1 % hang until cut off (by the mesh's default attempt timeout: nothing is configured for it), 1 % reset
// the connection after the response headers. Reports requests, failures seen by callers, attempts per request
// (counted at the backends) and latency percentiles. Goal: 0 failed idempotent requests while a backend is up.
//
//   dotnet run -c Release --project benchmarks/Mesh.Client.Chaos -- --duration 60
//
// Options: --duration <s> (60), --concurrency <n> (16), --backends <n> (10), --no-hedging, --seed <n>, --verbose.
var settings = ChaosSettings.Parse(args);
var random = new Random(settings.Seed);
var backends = new ChaosBackend[settings.Backends];
for (int i = 0; i < backends.Length; i++)
{
    backends[i] = await ChaosBackend.StartAsync(0, settings.Seed + i);
}

var services = new ServiceCollection();
services.AddMeshClient().AddStaticEndpoints("chaos", backends.Select(b => $"http://127.0.0.1:{b.Port}").ToArray());
services.AddHttpClient("chaos", c => c.BaseAddress = new Uri("http://chaos")).AddMeshHandler(o =>
{
    // No attempt timeout is configured: the mesh's default (10 s) cuts off the 1 % that hang.
    o.Retry.MaxAttempts = 8; // 5 % of answers are 503 on every backend: 8 tries make a caller-visible one ~1e-10 likely
    o.PassiveHealth.BaseEjectionTime = TimeSpan.FromSeconds(5);
    // Up to 9 of 10 backends can be dead at once in this run: let health remove all of them from rotation rather
    // than fall back to routing to every member (Envoy's defaults, 10 % and 50 %, assume a mostly healthy fleet).
    o.PassiveHealth.MaxEjectionPercent = 90;
    o.Panic.ThresholdPercent = 0;
    o.HealthCheck.Path = "/health";
    o.HealthCheck.Interval = TimeSpan.FromSeconds(1);
    o.Hedging.Enabled = settings.Hedging;
    // A fixed delay: the p99 of loopback answers is a few milliseconds, and on a busy 2-core machine a hedge that early
    // goes out for a large share of requests and spends the retry budget that a hung attempt's retry then needs.
    o.Hedging.Delay = TimeSpan.FromMilliseconds(50);
});
await using var provider = services.BuildServiceProvider();
var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("chaos");

using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(settings.DurationSeconds));
long requests = 0, failures = 0, kills = 0, restarts = 0, printed = 0;
var latencies = new List<double>[settings.Concurrency];
var failureKinds = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();

var chaos = Task.Run(async () =>
{
    while (!stop.IsCancellationRequested)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2), stop.Token);
        }
        catch (OperationCanceledException)
        {
            break;
        }

        var backend = backends[random.Next(backends.Length)];
        if (backend.IsUp && backends.Count(b => b.IsUp) > 1)
        {
            await backend.KillAsync();
            kills++;
        }
        else if (!backend.IsUp && await backend.TryRestartAsync())
        {
            restarts++;
        }
    }
});

var workers = Enumerable.Range(0, settings.Concurrency).Select(w => Task.Run(async () =>
{
    var mine = latencies[w] = new List<double>(100_000);
    while (!stop.IsCancellationRequested)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.GetAsync(new Uri("/work", UriKind.Relative), CancellationToken.None);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Interlocked.Increment(ref failures);
                failureKinds.AddOrUpdate(((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
            }
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref failures);
            failureKinds.AddOrUpdate(ex.GetType().Name, 1, (_, n) => n + 1);
            if (settings.Verbose && Interlocked.Increment(ref printed) <= 3)
            {
                Console.Error.WriteLine(ex);
            }
        }

        mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        Interlocked.Increment(ref requests);
    }
})).ToArray();

await Task.WhenAll(workers);
await chaos;
long attempts = backends.Sum(b => b.Attempts);
var all = latencies.SelectMany(l => l).Order().ToArray();
double P(double p) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)Math.Ceiling(p / 100 * all.Length) - 1)];

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
    duration      {settings.DurationSeconds} s, {settings.Backends} backends, {settings.Concurrency} callers, hedging {(settings.Hedging ? "on" : "off")}
    chaos         {kills} kills, {restarts} restarts (one every 2 s); 5 % 503, 1 % hang, 1 % reset after the headers
    requests      {requests} ({requests / (double)settings.DurationSeconds:0} /s)
    failures      {failures} seen by callers{(failureKinds.IsEmpty ? "" : " (" + string.Join(", ", failureKinds.Select(k => $"{k.Key}: {k.Value}")) + ")")}
    attempts      {attempts} at the backends, {attempts / (double)Math.Max(1, requests):0.000} per request
    latency (ms)  p50 {P(50):0.0}  p90 {P(90):0.0}  p99 {P(99):0.0}  p99.9 {P(99.9):0.0}  max {P(100):0.0}
    """));

foreach (var backend in backends)
{
    await backend.DisposeAsync();
}

return failures == 0 ? 0 : 1;
