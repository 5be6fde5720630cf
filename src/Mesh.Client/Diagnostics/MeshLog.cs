using Microsoft.Extensions.Logging;

namespace Mesh.Client.Diagnostics;

/// <summary>
/// The mesh's discovery and resilience log messages: state changes only (endpoints updated, resolver failing and
/// recovered, retry budget spent). Health transitions (ejections, re-admissions, heartbeat verdicts, panic) are logged
/// by <c>Health/HealthLog</c> where they happen, with their reasons. Nothing is logged per request above Debug. Ids
/// come from <see cref="MeshEventIds"/>.
/// </summary>
internal static partial class MeshLog
{
    [LoggerMessage(EventId = MeshEventIds.EndpointsUpdated, Level = LogLevel.Information,
        Message = "Service '{Service}' now has {Count} endpoints (resolver '{Resolver}').")]
    public static partial void EndpointsUpdated(ILogger logger, string service, string resolver, int count);

    [LoggerMessage(EventId = MeshEventIds.ResolverFailed, Level = LogLevel.Warning,
        Message = "Resolver '{Resolver}' failed to refresh service '{Service}'; keeping the last good endpoints. {Error}")]
    public static partial void ResolverFailed(ILogger logger, string service, string resolver, string error, Exception exception);

    [LoggerMessage(EventId = MeshEventIds.ResolverRecovered, Level = LogLevel.Information,
        Message = "Resolver '{Resolver}' recovered for service '{Service}'.")]
    public static partial void ResolverRecovered(ILogger logger, string service, string resolver);

    [LoggerMessage(EventId = MeshEventIds.RoutesUpdated, Level = LogLevel.Information,
        Message = "Service '{Service}' now has {Count} routes from route source '{Source}'.")]
    public static partial void RoutesUpdated(ILogger logger, string service, string source, int count);

    [LoggerMessage(EventId = MeshEventIds.RoutesShadowed, Level = LogLevel.Warning,
        Message = "Service '{Service}' has {Count} routes from route source '{Source}', not applied: the service's options have routes of their own, which take precedence.")]
    public static partial void RoutesShadowed(ILogger logger, string service, string source, int count);

    [LoggerMessage(EventId = MeshEventIds.RouteFieldIgnored, Level = LogLevel.Warning,
        Message = "Route source '{Source}' left out part of the routes of service '{Service}' that the mesh does not support: {Note}")]
    public static partial void RouteFieldIgnored(ILogger logger, string service, string source, string note);

    [LoggerMessage(EventId = MeshEventIds.RouteSourceFailed, Level = LogLevel.Warning,
        Message = "Route source '{Source}' failed for service '{Service}'; keeping the last good routes. {Error}")]
    public static partial void RouteSourceFailed(ILogger logger, string service, string source, string error, Exception exception);

    [LoggerMessage(EventId = MeshEventIds.RetryBudgetExhausted, Level = LogLevel.Debug,
        Message = "Retry budget of service '{Service}' spent; not retrying.")]
    public static partial void RetryBudgetExhausted(ILogger logger, string service);
}
