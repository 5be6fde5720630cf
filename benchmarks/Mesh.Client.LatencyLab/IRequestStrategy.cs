using Mesh.Client.Balancing;

namespace Mesh.Client.LatencyLab;

/// <summary>
/// How the simulated client sends each request: the hook later experiments plug into. A strategy owns a real
/// <see cref="ILoadBalancer"/>; it may also react to completions (passive ejection: republish the endpoint set with an
/// endpoint unroutable), start several attempts (hedging: a second attempt after a delay, cancel the loser), or retry.
/// </summary>
internal interface IRequestStrategy
{
    /// <summary>The name the results table shows.</summary>
    string Name { get; }

    /// <summary>Called once before the run, with the simulation whose endpoints and clock to use.</summary>
    void Attach(Simulation simulation);

    /// <summary>Sends one request; must eventually call <see cref="Simulation.Finish"/> for it.</summary>
    void Send(SimulatedRequest request, Simulation simulation);
}

/// <summary>One attempt per request, to whatever the balancer picks: what the mesh does without retries or hedging.</summary>
internal sealed class SingleAttemptStrategy(string name, Func<Simulation, ILoadBalancer> createBalancer) : IRequestStrategy
{
    private ILoadBalancer? _balancer;

    public string Name { get; } = name;

    public void Attach(Simulation simulation)
    {
        _balancer = createBalancer(simulation);
        _balancer.Update(simulation.Endpoints);
    }

    public void Send(SimulatedRequest request, Simulation simulation)
    {
        var endpoint = _balancer!.Pick(new PickContext()) ?? throw new InvalidOperationException("The balancer picked nothing.");
        simulation.StartAttempt(endpoint, _ => simulation.Finish(request));
    }
}
