using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Mesh.Client.Diagnostics;
using Mesh.Client.Kubernetes.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Mesh.Client.Kubernetes.Tests.Integration;

/// <summary>
/// A Deployment's RollingUpdate (maxSurge 1, maxUnavailable 0) of six replicas, seen through the stand-in API server,
/// while several callers send GETs and POSTs with bodies through <c>AddHttpClient(...).AddMeshHandler()</c>. Per
/// replica: a new pod starts, is published not ready, then ready, and takes traffic; the old pod is marked terminating
/// (ready false, as kubelet reports it), shuts down, and leaves the slice. Not one request may fail, no request may
/// reach a pod before it is published ready, every new pod must take traffic, and nothing may reach a pod once every
/// caller has moved on from it. Each pod is its own slice: the pods share 127.0.0.1 and differ by port, and a slice's
/// endpoints share its ports.
/// </summary>
/// <remarks>
/// Two of the tests shut the old pod down once the mesh has dropped it, as a pod with a preStop delay does; the third
/// ends it before the mesh hears of it, with the callers paused while it goes. That is as far as HTTP/1.1 lets a client
/// promise: a POST written onto a keep-alive connection at the moment the server closes it ends without a response, and
/// neither SocketsHttpHandler nor the mesh may send it again, since the server may have acted on it. A connection that
/// is already closed, or refused, costs nothing: the attempt never left the client and goes elsewhere, whatever the
/// method.
/// </remarks>
public sealed class RollingDeploymentTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Replicas = 6;
    private const int Callers = 4;

    // Waits are bounded generously: on a machine with a load of 20, a watch event can take seconds to land.
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(90);

    private readonly List<KestrelPod> _pods = [];
    private readonly ConcurrentDictionary<string, bool> _podNames = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly ConcurrentQueue<string> _failedAttempts = new();
    private readonly ConcurrentDictionary<string, int> _failedAttemptsTo = new(StringComparer.Ordinal);
    private readonly AsyncSignal _progress = new();
    private readonly long[] _epochDone = new long[Callers];
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private KubernetesTestCluster _cluster = null!;
    private Func<HashSet<string>> _meshEndpoints = () => [];
    private long _epoch;
    private TaskCompletionSource _trafficGate = Open();
    private int _paused;
    private long _gets;
    private long _posts;

    public async Task InitializeAsync()
    {
        _cluster = await KubernetesTestCluster.StartAsync();
        _cluster.Api.AddService("default", "catalog");
    }

    public async Task DisposeAsync()
    {
        foreach (var pod in _pods)
        {
            await pod.DisposeAsync();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task A_rolling_update_with_graceful_shutdown_fails_no_request()
    {
        int drained = 0;
        await RollAsync(async (old, step) =>
        {
            // A request in flight at the old pod when it is told to stop, a POST or a GET by turns: the pod holds it until
            // its shutdown asks the connection to close, so graceful shutdown has something to drain.
            string caller = await old.HoldNext(step % 2 == 0 ? "POST" : "GET").WaitAsync(WaitTimeout);

            // kubelet's view of a terminating pod: not ready; serving while it still answers, which depends on the app.
            bool serving = step / 2 % 2 == 0;
            _cluster.Api.SetSlice("default", "catalog", SliceOf(old), [Terminating(old, serving)], PortOf(old));
            await WaitForMeshAsync(endpoints => !endpoints.Contains(old.Authority), $"the mesh to drop terminating {old.Name}");
            await QuiesceAsync(except: int.Parse(caller, System.Globalization.CultureInfo.InvariantCulture));
            if (step % 3 == 2)
            {
                // Some pods drop their idle keep-alive connections abruptly (RST) before shutting down; the client still
                // holds them in its pool.
                old.ResetIdleConnections();
            }

            // Stop listening, close the idle connections, answer the held request (with Connection: close), then exit.
            await old.StopGracefullyAsync();
            drained += old.Drained;
            _cluster.Api.DeleteSlice("default", SliceOf(old));
            await QuiesceAsync();
            old.MarkGone();
        });

        Assert.Equal(Replicas, drained);
    }

    [Fact]
    public async Task A_rolling_update_whose_old_pods_are_killed_after_leaving_the_slice_fails_no_request()
    {
        int reset = 0;
        await RollAsync(async (old, _) =>
        {
            // The pod keeps serving while it terminates, and dies without draining once it has left the slice and every
            // caller has moved on: its connections, still pooled by the client, are reset.
            _cluster.Api.SetSlice("default", "catalog", SliceOf(old), [Terminating(old, serving: true)], PortOf(old));
            await WaitForMeshAsync(endpoints => !endpoints.Contains(old.Authority), $"the mesh to drop terminating {old.Name}");
            _cluster.Api.DeleteSlice("default", SliceOf(old));
            await QuiesceAsync();
            old.MarkGone();

            // Another round of every caller while the pod still listens: a request reaching it now would be counted.
            await QuiesceAsync();
            reset += await old.KillAsync();
        });

        Assert.True(reset > 0, "no pooled connection was left for the kills to reset");
    }

    [Fact]
    public async Task A_rolling_update_whose_old_pods_are_gone_before_the_mesh_hears_of_it_fails_no_request()
    {
        await RollAsync(async (old, step) =>
        {
            // The process ends while its endpoint is still published ready (it crashed, or exited on SIGTERM before the
            // endpoint update went out). The callers pause meanwhile: a request in flight in a process that dies is lost
            // with it, whatever the client does, and a POST written onto a keep-alive connection the server is closing
            // may have been acted on, so neither may be sent again.
            await PauseTrafficAsync();
            if (step % 2 == 0)
            {
                await old.KillAsync();
            }
            else
            {
                await old.StopGracefullyAsync();
            }

            // The mesh still picks the pod: its pooled connections are dead and new ones are refused, so each such
            // attempt never left the client and is sent elsewhere, POSTs included.
            ResumeTraffic();
            await _progress.WaitUntilAsync(() => _failedAttemptsTo.ContainsKey($"GET {old.Authority}") && _failedAttemptsTo.ContainsKey($"POST {old.Authority}"),
                $"a GET and a POST to meet dead {old.Name}", WaitTimeout, Describe);
            _cluster.Api.SetSlice("default", "catalog", SliceOf(old), [Terminating(old, serving: false)], PortOf(old));
            await WaitForMeshAsync(endpoints => !endpoints.Contains(old.Authority), $"the mesh to drop {old.Name}");
            _cluster.Api.DeleteSlice("default", SliceOf(old));
            await QuiesceAsync();
            old.MarkGone();
        }, o => o.PassiveHealth.Enabled = false); // ejection would spare the dead pod its turns; without it, every turn must be retried

        Assert.All(_failedAttempts, a => Assert.Contains(": ConnectionError ", a, StringComparison.Ordinal));
    }

    /// <summary>
    /// Starts six pods and the traffic, then replaces the pods one at a time: the new pod starts, is published not ready,
    /// then ready, and takes traffic; then <paramref name="retire"/> takes the old pod down. Asserts what a rolling update
    /// promises the callers.
    /// </summary>
    private async Task RollAsync(Func<KestrelPod, int, Task> retire, Action<MeshServiceOptions>? configure = null)
    {
        var current = new List<KestrelPod>();
        for (int i = 0; i < Replicas; i++)
        {
            var pod = await StartPodAsync($"v1-{i}");
            pod.MarkReady();
            _cluster.Api.SetSlice("default", "catalog", SliceOf(pod), [Ready(pod)], PortOf(pod));
            current.Add(pod);
        }

        var services = new ServiceCollection();
        services.AddMeshClient().AddKubernetes(_cluster.Configure);
        services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
            .AddMeshHandler(o =>
            {
                // The steps wait for a given pod's turn (a new pod's first request, a request to hold, an attempt on a
                // dead pod). Under Peak-EWMA that turn comes when the pod's latency estimate beats the others', which on a
                // loaded machine can take tens of seconds after one slow answer; round robin gives it within a round.
                o.Balancer = BalancerNames.RoundRobin;
                // A pod holding a request until its shutdown is not a hung pod: that attempt may last as long as a step.
                o.Timeouts.Attempt = WaitTimeout;
                configure?.Invoke(o);
            })
            .AddHttpMessageHandler(() => new AttemptRecorder(_failedAttempts, _failedAttemptsTo));
        await using var provider = services.BuildServiceProvider();
        var diagnostics = provider.GetRequiredService<IMeshDiagnostics>();
        _meshEndpoints = () => diagnostics.GetSnapshot().Services.SingleOrDefault(s => s.ServiceName == "catalog")?.Endpoints
            .Select(e => e.Address).ToHashSet(StringComparer.Ordinal) ?? [];
        var factory = provider.GetRequiredService<IHttpClientFactory>();
        using var stop = new CancellationTokenSource();
        var callers = Enumerable.Range(0, Callers).Select(c => Task.Run(() => CallAsync(factory.CreateClient("catalog"), c, stop.Token))).ToArray();
        try
        {
            // Every old pod has taken traffic, so each has keep-alive connections pooled in the client when it goes.
            await _progress.WaitUntilAsync(() => current.TrueForAll(p => p.Served > 0), "every v1 pod to serve", WaitTimeout, Describe);
            Log("every v1 pod served");
            for (int step = 0; step < Replicas; step++)
            {
                var next = await StartPodAsync($"v2-{step}");
                _cluster.Api.SetSlice("default", "catalog", SliceOf(next), [Starting(next)], PortOf(next));
                next.MarkReady();
                _cluster.Api.SetSlice("default", "catalog", SliceOf(next), [Ready(next)], PortOf(next));
                await WaitForMeshAsync(endpoints => endpoints.Contains(next.Authority), $"the mesh to add {next.Name}");
                Log($"the mesh added {next.Name}");
                await _progress.WaitUntilAsync(() => next.Served > 0, $"{next.Name} to serve", WaitTimeout, Describe);
                Log($"{next.Name} served");
                current.Add(next);

                await retire(current[0], step);
                Log($"{current[0].Name} retired");
                current.RemoveAt(0);
            }

            var final = current.Select(p => p.Authority).ToHashSet(StringComparer.Ordinal);
            await WaitForMeshAsync(endpoints => endpoints.SetEquals(final), "the mesh to hold exactly the v2 pods");
            await QuiesceAsync();
        }
        catch
        {
            // A request a pod holds would keep its caller, and this test, waiting: stopping the pods lets every caller end.
            foreach (var pod in _pods)
            {
                await pod.DisposeAsync();
            }

            throw;
        }
        finally
        {
            await stop.CancelAsync();
            ResumeTraffic();
            await Task.WhenAll(callers);
            output.WriteLine(Describe());
        }

        Assert.True(_failures.IsEmpty, $"{_failures.Count} of {_gets + _posts} requests failed:\n{string.Join('\n', _failures.Take(20))}");
        Assert.True(_gets > 0 && _posts > 0, Describe());
        Assert.All(_pods, p => Assert.True(p.ServedBeforeReady == 0, $"{p.Name} received {p.ServedBeforeReady} requests before it was ready"));
        Assert.All(current, p => Assert.True(p.Served > 0, $"{p.Name} served nothing"));
        Assert.All(_pods, p => Assert.True(p.ServedAfterGone == 0, $"{p.Name} received {p.ServedAfterGone} requests after it was gone"));
    }

    private void Log(string what) =>
        output.WriteLine($"{_clock.Elapsed.TotalSeconds:0.000} s: {what} (GETs {Interlocked.Read(ref _gets)}, POSTs {Interlocked.Read(ref _posts)})");

    private async Task<KestrelPod> StartPodAsync(string name)
    {
        var pod = await KestrelPod.StartAsync(name);
        _pods.Add(pod);
        _podNames[name] = true;
        return pod;
    }

    private Task WaitForMeshAsync(Func<HashSet<string>, bool> condition, string what) =>
        _progress.WaitUntilAsync(() => condition(_meshEndpoints()), what, WaitTimeout, Describe);

    /// <summary>
    /// Returns once every caller (but <paramref name="except"/>) has completed a request it started after this call.
    /// Callers send one request at a time, so every request they started before, and every retry of one, has ended: an
    /// endpoint the mesh had dropped before this call is reached by no request still under way.
    /// </summary>
    private Task QuiesceAsync(int except = -1)
    {
        long epoch = Interlocked.Increment(ref _epoch);
        return _progress.WaitUntilAsync(() =>
        {
            for (int i = 0; i < _epochDone.Length; i++)
            {
                if (i != except && Volatile.Read(ref _epochDone[i]) < epoch)
                {
                    return false;
                }
            }

            return true;
        }, "every caller to complete a request", WaitTimeout, Describe);
    }

    /// <summary>Holds every caller before its next request; returns once none has a request under way.</summary>
    private Task PauseTrafficAsync()
    {
        Volatile.Write(ref _trafficGate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return _progress.WaitUntilAsync(() => Volatile.Read(ref _paused) == Callers, "every caller to pause", WaitTimeout, Describe);
    }

    private void ResumeTraffic() => Volatile.Read(ref _trafficGate).TrySetResult();

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private async Task CallAsync(HttpClient client, int caller, CancellationToken stop)
    {
        var random = new Random(caller);
        for (long n = 0; !stop.IsCancellationRequested; n++)
        {
            var gate = Volatile.Read(ref _trafficGate);
            if (!gate.Task.IsCompleted)
            {
                Interlocked.Increment(ref _paused);
                _progress.Pulse();
                await gate.Task;
                Interlocked.Decrement(ref _paused);
            }

            long epoch = Interlocked.Read(ref _epoch);
            bool post = (n + caller) % 2 == 0;
            try
            {
                string? problem = post ? await PostAsync(client, caller, random) : await GetAsync(client, caller);
                if (problem is not null)
                {
                    _failures.Enqueue(problem);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or MeshException)
            {
                _failures.Enqueue($"{(post ? "POST" : "GET")}: {Flatten(ex)}");
            }

            Interlocked.Increment(ref post ? ref _posts : ref _gets);
            Volatile.Write(ref _epochDone[caller], epoch);
            _progress.Pulse();
        }
    }

    private async Task<string?> GetAsync(HttpClient client, int caller)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/items", UriKind.Relative));
        request.Headers.Add(KestrelPod.CallerHeader, caller.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        return response.StatusCode == HttpStatusCode.OK && _podNames.ContainsKey(body) ? null : $"GET: {(int)response.StatusCode} {body}";
    }

    private static async Task<string?> PostAsync(HttpClient client, int caller, Random random)
    {
        var sent = new byte[random.Next(1, 48 * 1024)];
        random.NextBytes(sent);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/orders", UriKind.Relative)) { Content = new ByteArrayContent(sent) };
        request.Headers.Add(KestrelPod.CallerHeader, caller.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(KestrelPod.BodyHashHeader, Convert.ToHexString(SHA256.HashData(sent)));
        using var response = await client.SendAsync(request);
        var echoed = await response.Content.ReadAsByteArrayAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return $"POST: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(echoed)}";
        }

        return echoed.AsSpan().SequenceEqual(sent) ? null : $"POST: {sent.Length} bytes sent, {echoed.Length} different bytes echoed";
    }

    private static string Flatten(Exception ex)
    {
        var parts = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
        {
            parts.Add($"{e.GetType().Name}: {e.Message}");
        }

        return string.Join(" ---> ", parts);
    }

    private string Describe() =>
        $"GETs {Interlocked.Read(ref _gets)}, POSTs {Interlocked.Read(ref _posts)}, failed {_failures.Count}; "
        + $"mesh endpoints [{string.Join(", ", _meshEndpoints().Order(StringComparer.Ordinal))}]; "
        + $"pods: {string.Join(", ", _pods.Select(p => $"{p.Name} {p.Authority} served {p.Served}"))}; "
        + $"attempts failed and retried: {_failedAttempts.Count} [{string.Join(" | ", _failedAttempts.Take(10))}]";

    private static string SliceOf(KestrelPod pod) => $"catalog-{pod.Name}";

    private static (string?, int)[] PortOf(KestrelPod pod) => [("http", pod.Port)];

    private static FakeEndpoint Starting(KestrelPod pod) => new("127.0.0.1", Ready: false, Serving: false, Terminating: false, Pod: $"catalog-{pod.Name}");

    private static FakeEndpoint Ready(KestrelPod pod) => new("127.0.0.1", Ready: true, Serving: true, Terminating: false, Pod: $"catalog-{pod.Name}");

    private static FakeEndpoint Terminating(KestrelPod pod, bool serving) =>
        new("127.0.0.1", Ready: false, Serving: serving, Terminating: true, Pod: $"catalog-{pod.Name}");

    /// <summary>Below the mesh: keeps the attempts that failed at the transport, and counts them by method and endpoint.</summary>
    private sealed class AttemptRecorder(ConcurrentQueue<string> failed, ConcurrentDictionary<string, int> byEndpoint) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                string endpoint = request.RequestUri!.Authority;
                failed.Enqueue($"{request.Method} {endpoint}: {ex.HttpRequestError} {Flatten(ex)}");
                byEndpoint.AddOrUpdate($"{request.Method} {endpoint}", 1, (_, n) => n + 1);
                throw;
            }
        }
    }
}
