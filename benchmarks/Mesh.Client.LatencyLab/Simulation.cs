using Mesh.Client.Discovery;
using Mesh.Client.Routing;

namespace Mesh.Client.LatencyLab;

/// <summary>
/// A discrete-event simulation of one client sending a scenario's traffic to its replicas, in virtual time. Requests
/// arrive at a constant rate; an <see cref="IRequestStrategy"/> decides how each is sent (which real balancer picks,
/// whether it retries, hedges or ejects); attempts hold real <see cref="EndpointLease"/>s, so the balancers see the
/// same in-flight counts and latency samples they would see in production.
/// </summary>
internal sealed class Simulation
{
    private readonly PriorityQueue<Action, (TimeSpan Time, long Sequence)> _events = new();
    private readonly List<double> _latenciesMs = [];
    private readonly List<(int Endpoint, TimeSpan Sent)> _attemptLog = [];
    private readonly Random _serverRandom;
    private long _sequence;

    public Simulation(Scenario scenario)
    {
        Scenario = scenario;
        Clock = new VirtualClock(At);
        _serverRandom = new Random(scenario.Seed);
        Endpoints = new EndpointSet(Enumerable.Range(0, scenario.Endpoints).Select(i => new MeshEndpoint("http", $"10.0.0.{i + 1}", 8080)));
    }

    public Scenario Scenario { get; }

    public VirtualClock Clock { get; }

    /// <summary>The replicas, fresh for this run (their live load starts empty).</summary>
    public EndpointSet Endpoints { get; }

    /// <summary>End-to-end latency of every finished request, in milliseconds, in finishing order.</summary>
    public IReadOnlyList<double> LatenciesMs => _latenciesMs;

    /// <summary>Requests that ended without a successful answer (every attempt failed; counted in the latencies too).</summary>
    public int Failed { get; private set; }

    /// <summary>Attempts started, hedges and retries included.</summary>
    public int Attempts { get; private set; }

    /// <summary>
    /// Every attempt started, in sending order: which replica (index into the endpoints) and when. Latencies alone
    /// cannot say which replica a slow request met, nor whether a replica got its share back after a stall.
    /// </summary>
    public IReadOnlyList<(int Endpoint, TimeSpan Sent)> AttemptLog => _attemptLog;

    /// <summary>Runs <paramref name="action"/> at virtual time <paramref name="time"/> (events at the same time run in order of scheduling).</summary>
    public void At(TimeSpan time, Action action) => _events.Enqueue(action, (time, _sequence++));

    /// <summary>
    /// Starts an attempt against <paramref name="endpoint"/> now: the replica answers after its service time, the
    /// lease completes (latency into the endpoint's estimate), then <paramref name="onCompleted"/> runs.
    /// </summary>
    public Attempt StartAttempt(MeshEndpoint endpoint, Action<Attempt> onCompleted)
    {
        int index = IndexOf(endpoint);
        var attempt = new Attempt(endpoint, endpoint.Begin(Clock), Clock.Now);
        Attempts++;
        _attemptLog.Add((index, Clock.Now));
        var serviceTime = Scenario.ServiceTime(index, Clock.Now, _serverRandom);
        At(Clock.Now + serviceTime, () =>
        {
            if (attempt.TryFinish(AttemptOutcome.Success))
            {
                onCompleted(attempt);
            }
        });
        return attempt;
    }

    /// <summary>Records a request as answered now (or, <paramref name="failed"/>, as ended now without an answer).</summary>
    public void Finish(SimulatedRequest request, bool failed = false)
    {
        if (!request.Finished)
        {
            request.Finished = true;
            Failed += failed ? 1 : 0;
            _latenciesMs.Add((Clock.Now - request.Start).TotalMilliseconds);
        }
    }

    /// <summary>Sends the scenario's traffic through <paramref name="strategy"/> and runs until every request has finished.</summary>
    public void Run(IRequestStrategy strategy)
    {
        strategy.Attach(this);
        long total = (long)(Scenario.RequestsPerSecond * Scenario.Duration.TotalSeconds);
        var interval = TimeSpan.FromTicks(TimeSpan.TicksPerSecond / Scenario.RequestsPerSecond);
        for (long i = 0; i < total; i++)
        {
            var start = TimeSpan.FromTicks(interval.Ticks * i);
            At(start, () => strategy.Send(new SimulatedRequest(Clock.Now), this));
        }

        while (_events.TryDequeue(out var action, out var key))
        {
            Clock.MoveTo(key.Time);
            action();
        }
    }

    private int IndexOf(MeshEndpoint endpoint)
    {
        var all = Endpoints.Endpoints;
        for (int i = 0; i < all.Length; i++)
        {
            if (string.Equals(all[i].Key, endpoint.Key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new ArgumentException($"{endpoint} is not one of the simulation's endpoints.", nameof(endpoint));
    }
}

/// <summary>One request from the client's point of view: when it arrived and whether it has been answered.</summary>
internal sealed class SimulatedRequest(TimeSpan start)
{
    public TimeSpan Start { get; } = start;

    public bool Finished { get; set; }
}

/// <summary>
/// One attempt against one replica. A strategy may end it before the replica answers: <see cref="Cancel"/> (a losing
/// hedge) or <see cref="TryFinish"/> with <see cref="AttemptOutcome.Timeout"/> (the attempt timeout); the replica's
/// later answer is then ignored.
/// </summary>
internal sealed class Attempt(MeshEndpoint endpoint, EndpointLease lease, TimeSpan started)
{
    private bool _done;

    public MeshEndpoint MeshEndpoint { get; } = endpoint;

    public TimeSpan Started { get; } = started;

    /// <summary>Whether the attempt has ended (answered, timed out or cancelled).</summary>
    public bool IsDone => _done;

    /// <summary>Cancels the attempt if it is still running: the lease completes as cancelled and its answer is ignored.</summary>
    public void Cancel() => TryFinish(AttemptOutcome.Canceled);

    /// <summary>Ends the attempt with <paramref name="outcome"/> (its lease completes); false if it had already ended.</summary>
    public bool TryFinish(AttemptOutcome outcome)
    {
        if (_done)
        {
            return false;
        }

        _done = true;
        lease.Complete(outcome);
        return true;
    }
}
