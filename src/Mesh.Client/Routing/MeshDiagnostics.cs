using System.Text;
using Mesh.Client.Diagnostics;
using Mesh.Client.Routing.Routes;

namespace Mesh.Client.Routing;

/// <summary>Builds <see cref="MeshSnapshot"/>s from the service registry.</summary>
internal sealed class MeshDiagnostics : IMeshDiagnostics
{
    private readonly ServiceRegistry _registry;

    public MeshDiagnostics(ServiceRegistry registry)
    {
        _registry = registry;
        registry.RecordTraffic(); // someone looks: the charts' series start now
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
                Traffic = TrafficBuckets.Read(endpoint.TrafficIfAny, nowTicks, now),
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
            Routes = state.Policies.Routes is { } routes ? Snapshot(routes, nowTicks, now) : [],
            RouteSource = state.Options.Routes.Count > 0 ? OptionsRouteSource : state.RouteSourceName,
            RouteWarnings = RouteWarnings(state),
        };
    }

    /// <summary>What <see cref="ServiceSnapshot.RouteSource"/> says when the service's options have routes.</summary>
    internal const string OptionsRouteSource = "options";

    private static string[] RouteWarnings(ServiceState state)
    {
        var warnings = new List<string>();
        if (state.RouteError is { } error)
        {
            warnings.Add(error.Message);
        }

        warnings.AddRange(state.IgnoredRouteFields);
        if (state.Options.Routes.Count > 0 && state.DiscoveredRoutes.Count > 0)
        {
            warnings.Add($"{state.DiscoveredRoutes.Count} routes from route source '{state.RouteSourceName}' are set aside: the service's options have routes of their own.");
        }

        return warnings.Count == 0 ? [] : warnings.ToArray();
    }

    private static RouteSnapshot[] Snapshot(RouteTable table, long nowTicks, DateTimeOffset now)
    {
        var routes = new RouteSnapshot[table.Routes.Count];
        for (int r = 0; r < routes.Length; r++)
        {
            var route = table.Routes[r];
            long totalWeight = 0;
            long totalRequests = 0;
            foreach (var backend in route.Backends)
            {
                totalWeight += backend.Weight;
                totalRequests += backend.Requests;
            }

            var backends = new RouteBackendSnapshot[route.Backends.Length];
            for (int b = 0; b < backends.Length; b++)
            {
                var backend = route.Backends[b];
                long requests = backend.Requests;
                backends[b] = new RouteBackendSnapshot
                {
                    Service = backend.Service,
                    Weight = backend.Weight,
                    ConfiguredShare = totalWeight > 0 ? backend.Weight / (double)totalWeight : 0,
                    Requests = requests,
                    ObservedShare = totalRequests > 0 ? requests / (double)totalRequests : 0,
                    Traffic = TrafficBuckets.Read(backend.TrafficIfAny, nowTicks, now),
                };
            }

            routes[r] = new RouteSnapshot
            {
                Name = route.Name,
                Match = MatchSummary(route.Source),
                IsSticky = route.Source.Sticky,
                Backends = backends,
            };
        }

        return routes;
    }

    /// <summary>A route's matches in one line: <c> | </c> between matches (any holds), <c>, </c> between conditions (all hold).</summary>
    internal static string MatchSummary(MeshRoute route)
    {
        if (route.Matches.Count == 0)
        {
            return "*";
        }

        var text = new StringBuilder();
        foreach (var match in route.Matches)
        {
            if (text.Length > 0)
            {
                text.Append(" | ");
            }

            int start = text.Length;
            if (match.Path is { } path)
            {
                text.Append(path.Type).Append(' ').Append(path.Value ?? "/");
            }

            if (match.Method is { } method)
            {
                Separate(text, start).Append(method);
            }

            foreach (var header in match.Headers)
            {
                Separate(text, start).Append("header ").Append(header.Name).Append(Operator(header.Type)).Append(header.Value);
            }

            foreach (var query in match.QueryParameters)
            {
                Separate(text, start).Append("query ").Append(query.Name).Append(Operator(query.Type)).Append(query.Value);
            }

            if (text.Length == start)
            {
                text.Append('*');
            }
        }

        return text.ToString();

        static StringBuilder Separate(StringBuilder text, int start) => text.Length > start ? text.Append(", ") : text;

        static string Operator(RouteValueMatchType type) => type == RouteValueMatchType.RegularExpression ? " ~ " : " = ";
    }
}
