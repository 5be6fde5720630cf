using Mesh.Client.Diagnostics;

namespace Mesh.Client.Routing;

/// <summary>Builds <see cref="MeshSnapshot"/>s from the service registry.</summary>
internal sealed class MeshDiagnostics : IMeshDiagnostics
{
    private readonly ServiceRegistry _registry;

    public MeshDiagnostics(ServiceRegistry registry)
    {
        _registry = registry;
    }

    public MeshSnapshot GetSnapshot()
    {
        var time = _registry.TimeProvider;
        long nowTicks = MonotonicClock.Ticks(time, time.GetTimestamp());
        var now = time.GetUtcNow();
        var services = new List<ServiceSnapshot>();
        foreach (var state in _registry.All)
        {
            services.Add(Snapshot(state, nowTicks, now));
        }

        services.Sort(static (a, b) =>
        {
            int byClient = string.CompareOrdinal(a.ClientName, b.ClientName);
            return byClient != 0 ? byClient : string.CompareOrdinal(a.ServiceName, b.ServiceName);
        });
        return new MeshSnapshot { Timestamp = now, Services = services, RejectedConfiguration = _registry.Configuration.Rejections };
    }

    private static ServiceSnapshot Snapshot(ServiceState state, long nowTicks, DateTimeOffset now)
    {
        var set = state.Endpoints;
        var endpoints = new EndpointSnapshot[set.Count];
        for (int i = 0; i < endpoints.Length; i++)
        {
            var endpoint = set[i];
            var load = endpoint.Load;
            var health = endpoint.Health;
            endpoints[i] = new EndpointSnapshot
            {
                Key = endpoint.Key,
                Address = endpoint.Authority,
                Zone = endpoint.Zone,
                Weight = endpoint.Weight,
                State = EndpointStates.Of(health),
                IsRoutable = set.IsRoutable(i),
                PassiveHealth = health.Passive,
                ActiveHealth = health.Active,
                // The ejection end is kept on the service's monotonic clock; shown as wall-clock time from now.
                EjectedUntil = health.IsEjected ? now + TimeSpan.FromTicks(Math.Max(0, health.EjectedUntilTicks - nowTicks)) : null,
                TimesEjected = health.TimesEjected,
                RttEstimate = TimeSpan.FromTicks((long)load.GetRttEstimateTicks(nowTicks)),
                HasRttSample = load.HasSample,
                InFlight = load.InFlight,
                Requests = load.Completed,
            };
        }

        return new ServiceSnapshot
        {
            ClientName = state.ClientName,
            ServiceName = state.ServiceName,
            Resolver = state.ResolverName,
            Balancer = state.Options.Balancer.ToString(),
            IsResolved = state.IsResolved,
            IsPanic = set.IsPanic,
            LastError = state.LastError?.Message,
            Endpoints = endpoints,
        };
    }
}
