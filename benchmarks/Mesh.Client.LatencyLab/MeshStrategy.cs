using System.Runtime.InteropServices;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Health;
using Mesh.Client.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Client.LatencyLab;

/// <summary>
/// A request as the mesh sends it, in virtual time, on the mesh's real per-service machinery: a real
/// <see cref="ServiceState"/> (snapshot, routable subset, panic) with its real <see cref="OutlierDetector"/> (passive
/// ejection; its ejection timers run on the <see cref="VirtualClock"/>), <see cref="Resilience.RetryBudget"/> and
/// <see cref="Resilience.LatencyHistogram"/>, and a real balancer the service updates as endpoints are ejected and
/// re-admitted. The service's <see cref="MeshServiceOptions"/> decide what happens, as they do in production.
/// </summary>
/// <remarks>
/// The attempt loop is <c>MeshHandler</c>'s (<c>SendToServiceAsync</c>, <c>SendHedgedAsync</c>, <c>Pick</c>) written as
/// events, because <c>MeshHandler</c> itself is an async <see cref="HttpMessageHandler"/> whose awaits would leave the
/// simulation's single thread: deposit into the budget; pick an endpoint not yet tried (one probe at a time to an endpoint
/// probing after its ejection); an attempt that has not answered within <see cref="TimeoutOptions.Attempt"/> ends as
/// <see cref="AttemptOutcome.Timeout"/> (its lease records a penalised latency; the detector counts it) and is retried on
/// another endpoint if <see cref="RetryOptions.MaxAttempts"/> and the budget allow; with hedging, after the hedging delay
/// (a percentile of recent latencies, or the fixed delay) a second attempt goes to another endpoint, paid from the
/// budget, the first answer wins and the loser is cancelled (<see cref="AttemptOutcome.Canceled"/>, not a failure).
/// </remarks>
internal sealed class MeshStrategy(string name, MeshServiceOptions options, Func<Simulation, ILoadBalancer> createBalancer, int seed) : IRequestStrategy, IDisposable
{
    private ServiceState? _state;

    public string Name { get; } = name;

    /// <summary>Ejections during the run.</summary>
    public int Ejections { get; private set; }

    /// <summary>Hedges launched during the run.</summary>
    public int Hedges { get; private set; }

    /// <summary>Hedges not launched because no untried endpoint was left or the budget was spent.</summary>
    public int HedgesRefused { get; private set; }

    /// <summary>Retries launched during the run.</summary>
    public int Retries { get; private set; }

    public void Attach(Simulation simulation)
    {
        var errors = options.Validate("lab");
        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"Strategy '{Name}' has invalid options: {string.Join(" ", errors)}");
        }

        _state = new ServiceState("lab", new EndpointQuery("lab", ["http"]), options, createBalancer(simulation), simulation.Clock,
            NullLogger.Instance, random: new Random(seed));
        _state.HealthTransitioned += t => Ejections += t.Kind == HealthTransitionKind.Ejected ? 1 : 0;
        _state.OnEndpoints(simulation.Endpoints.Select(e => e.Address).ToArray());
    }

    public void Send(SimulatedRequest request, Simulation simulation) => new Request(this, _state!, request, simulation).Start();

    public void Dispose() => _state?.Dispose();

    /// <summary>One request's attempts: the current group (the first attempt and its hedges) and the retries after it.</summary>
    private sealed class Request(MeshStrategy owner, ServiceState state, SimulatedRequest request, Simulation simulation)
    {
        private readonly List<MeshEndpoint> _tried = [];
        private readonly List<Attempt> _running = [];
        private int _groups;
        private int _launchedInGroup;

        public void Start()
        {
            state.RetryBudget.Deposit();
            var endpoint = Pick();
            if (endpoint is null)
            {
                simulation.Finish(request, failed: true);
                return;
            }

            StartGroup(endpoint);
        }

        private void StartGroup(MeshEndpoint endpoint)
        {
            _launchedInGroup = 0;
            Launch(endpoint);
        }

        private void Launch(MeshEndpoint endpoint)
        {
            _tried.Add(endpoint);
            _launchedInGroup++;
            var attempt = simulation.StartAttempt(endpoint, OnAnswered);
            _running.Add(attempt);
            var timeout = state.Options.Timeouts.Attempt;
            if (timeout != Timeout.InfiniteTimeSpan)
            {
                simulation.At(simulation.Clock.Now + timeout, () =>
                {
                    if (attempt.TryFinish(AttemptOutcome.Timeout))
                    {
                        OnFailed(attempt, AttemptOutcome.Timeout);
                    }
                });
            }

            var hedging = state.Options.Hedging;
            if (hedging.Enabled && _launchedInGroup < hedging.MaxAttempts)
            {
                int group = _groups;
                simulation.At(simulation.Clock.Now + HedgeDelay(), () =>
                {
                    if (request.Finished || group != _groups || _running.Count == 0 || _launchedInGroup >= hedging.MaxAttempts)
                    {
                        return;
                    }

                    var next = Pick();
                    if (next is not null && state.RetryBudget.TryWithdraw())
                    {
                        owner.Hedges++;
                        Launch(next);
                    }
                    else
                    {
                        owner.HedgesRefused++;
                        _launchedInGroup = hedging.MaxAttempts; // nowhere else to go, or no budget: stop hedging
                    }
                });
            }
        }

        private void OnAnswered(Attempt attempt)
        {
            state.Detector?.OnAttemptCompleted(attempt.MeshEndpoint, AttemptOutcome.Success);
            state.Latency?.Record(simulation.Clock.Now - attempt.Started);
            _running.Remove(attempt);
            foreach (var loser in _running)
            {
                if (loser.TryFinish(AttemptOutcome.Canceled))
                {
                    state.Detector?.OnAttemptCompleted(loser.MeshEndpoint, AttemptOutcome.Canceled);
                }
            }

            _running.Clear();
            simulation.Finish(request);
        }

        private void OnFailed(Attempt attempt, AttemptOutcome outcome)
        {
            state.Detector?.OnAttemptCompleted(attempt.MeshEndpoint, outcome);
            _running.Remove(attempt);
            if (_running.Count > 0)
            {
                return; // a hedge of the same group is still running
            }

            _groups++;
            var retry = state.Options.Retry;
            if (!retry.Enabled || _groups >= retry.MaxAttempts)
            {
                simulation.Finish(request, failed: true);
                return;
            }

            var next = Pick();
            if (next is null || !state.RetryBudget.TryWithdraw())
            {
                simulation.Finish(request, failed: true);
                return;
            }

            owner.Retries++;
            StartGroup(next);
        }

        private TimeSpan HedgeDelay()
        {
            var hedging = state.Options.Hedging;
            return hedging.DelayPercentile is { } p && state.Latency?.GetPercentile(p) is { } percentile ? percentile : hedging.Delay;
        }

        /// <summary><c>MeshHandler.Pick</c>: an endpoint not yet tried; a probing endpoint takes one attempt at a time.</summary>
        private MeshEndpoint? Pick()
        {
            var endpoint = state.Balancer.Pick(new PickContext(null, null, CollectionsMarshal.AsSpan(_tried)));
            if (endpoint is null || endpoint.Health.TryBeginAttempt())
            {
                return endpoint;
            }

            var avoid = new List<MeshEndpoint>(_tried);
            for (int refusals = 0; refusals < 2 && !avoid.Contains(endpoint); refusals++)
            {
                avoid.Add(endpoint);
                var other = state.Balancer.Pick(new PickContext(null, null, CollectionsMarshal.AsSpan(avoid)));
                if (other is null)
                {
                    break;
                }

                endpoint = other;
                if (endpoint.Health.TryBeginAttempt())
                {
                    break;
                }
            }

            return endpoint;
        }
    }
}
