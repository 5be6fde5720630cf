using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Health;
using Mesh.Client.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>Builds a service state without DI, with a <see cref="FakeTimeProvider"/>, and records its health transitions.</summary>
internal sealed class HealthTestKit : IDisposable
{
    public HealthTestKit(int endpoints, Action<MeshServiceOptions>? configure = null, Func<HttpMessageHandler>? probeHandler = null, int seed = 42,
        Func<TimeProvider, ILoadBalancer>? balancer = null)
    {
        Options = new MeshServiceOptions();
        Options.PassiveHealth.EjectionJitter = 0;
        Options.HealthCheck.Jitter = 0;
        configure?.Invoke(Options);
        Assert.Empty(Options.Validate("test"));
        Time = new FakeTimeProvider();
        State = new ServiceState("test", new EndpointQuery("catalog", ["http"]), Options, balancer?.Invoke(Time) ?? new RoundRobinBalancer(), Time,
            NullLogger.Instance, probeHandlerFactory: probeHandler, random: new Random(seed));
        State.HealthTransitioned += t =>
        {
            lock (Transitions)
            {
                Transitions.Add(t);
            }
        };
        State.OnEndpoints(Enumerable.Range(0, endpoints).Select(i => new EndpointAddress("http", "10.0.0." + (i + 1), 80)).ToArray());
        Members = State.Endpoints.Endpoints.ToArray();
    }

    public MeshServiceOptions Options { get; }

    public FakeTimeProvider Time { get; }

    public ServiceState State { get; }

    public MeshEndpoint[] Members { get; }

    public List<HealthTransition> Transitions { get; } = [];

    public OutlierDetector Detector => State.Detector!;

    public int Count(HealthTransitionKind kind)
    {
        lock (Transitions)
        {
            return Transitions.Count(t => t.Kind == kind);
        }
    }

    public HealthTransition Last(HealthTransitionKind kind)
    {
        lock (Transitions)
        {
            return Transitions.Last(t => t.Kind == kind);
        }
    }

    public void Complete(MeshEndpoint endpoint, AttemptOutcome outcome, int times = 1)
    {
        for (int i = 0; i < times; i++)
        {
            endpoint.Begin(Time).Complete(outcome);
            Detector.OnAttemptCompleted(endpoint, outcome);
        }
    }

    public bool IsRoutable(MeshEndpoint endpoint) => State.Endpoints.Routable.ToArray().Contains(endpoint);

    public void Dispose() => State.Dispose();
}
