using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Peers;

/// <summary>
/// The two load-aware balancers as they picked before issue 15 (equal weights, no slow start): PeakEwma's cost is the
/// decayed estimate × (in flight + 1), LeastRequest compares in-flight counts; neither looks at how long the attempts in
/// flight have waited. Contenders in the same run as the current balancers, so before and after share the noise.
/// </summary>
internal sealed class BeforeStallBalancer(bool peakEwma, TimeProvider timeProvider) : ILoadBalancer
{
    private MeshEndpoint[] _routable = [];

    public void Update(EndpointSet endpoints)
    {
        AveragingStallPeaks.Configure(endpoints);
        Volatile.Write(ref _routable, endpoints.RoutableArray);
    }

    public MeshEndpoint? Pick(in PickContext context)
    {
        var routable = Volatile.Read(ref _routable);
        if (routable.Length < 2)
        {
            return routable.Length == 1 ? routable[0] : null;
        }

        long now = MonotonicClock.Ticks(timeProvider, timeProvider.GetTimestamp());
        int i = Random.Shared.Next(routable.Length);
        int j = Random.Shared.Next(routable.Length - 1);
        j = j >= i ? j + 1 : j;
        if (!context.Excluded.IsEmpty && (context.IsExcluded(routable[i]) || context.IsExcluded(routable[j])))
        {
            return !context.IsExcluded(routable[i]) ? routable[i] : !context.IsExcluded(routable[j]) ? routable[j] : null;
        }

        double first = Cost(routable[i].Load, now);
        double second = Cost(routable[j].Load, now);
        return first <= second ? routable[i] : routable[j];
    }

    private double Cost(EndpointLoad load, long now) =>
        peakEwma ? load.GetRttEstimateTicks(now) * (load.InFlight + 1) : load.InFlight;
}

/// <summary>
/// PeakEwma as it was before a success could replace a stall peak: the same balancer, with every endpoint's estimate
/// averaging a fast answer against a stall peak like against any other peak. A contender in the same run as the current
/// PeakEwma, so before and after share the noise.
/// </summary>
internal sealed class AveragingStallPeaks(TimeProvider timeProvider) : ILoadBalancer
{
    private readonly PeakEwmaBalancer _inner = new(timeProvider: timeProvider);

    public static void Configure(EndpointSet endpoints)
    {
        foreach (var endpoint in endpoints.Endpoints)
        {
            endpoint.Load.ReplacesDisprovedStallPeaks = false;
        }
    }

    public void Update(EndpointSet endpoints)
    {
        _inner.Update(endpoints);
        Configure(endpoints);
    }

    public MeshEndpoint? Pick(in PickContext context) => _inner.Pick(context);
}
