using Microsoft.Extensions.Logging;

namespace Mesh.Client.Diagnostics;

/// <summary>
/// The mesh's log messages: state changes only (endpoints updated, resolver failing and recovered, ejections,
/// re-admissions, heartbeat verdicts, panic). Nothing is logged per request above Debug. Ids come from
/// <see cref="MeshEventIds"/>.
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

    [LoggerMessage(EventId = MeshEventIds.EndpointEjected, Level = LogLevel.Warning,
        Message = "Endpoint {Endpoint} of service '{Service}' ejected by passive health.")]
    public static partial void EndpointEjected(ILogger logger, string service, string endpoint);

    [LoggerMessage(EventId = MeshEventIds.EndpointReadmitted, Level = LogLevel.Information,
        Message = "Endpoint {Endpoint} of service '{Service}' re-admitted after ejection.")]
    public static partial void EndpointReadmitted(ILogger logger, string service, string endpoint);

    [LoggerMessage(EventId = MeshEventIds.EndpointUnhealthy, Level = LogLevel.Warning,
        Message = "Endpoint {Endpoint} of service '{Service}' marked unhealthy by heartbeats.")]
    public static partial void EndpointUnhealthy(ILogger logger, string service, string endpoint);

    [LoggerMessage(EventId = MeshEventIds.EndpointHealthy, Level = LogLevel.Information,
        Message = "Endpoint {Endpoint} of service '{Service}' healthy again by heartbeats.")]
    public static partial void EndpointHealthy(ILogger logger, string service, string endpoint);

    [LoggerMessage(EventId = MeshEventIds.PanicEntered, Level = LogLevel.Warning,
        Message = "Service '{Service}' entered panic: {Available} of {Count} endpoints available; routing to all of them.")]
    public static partial void PanicEntered(ILogger logger, string service, int available, int count);

    [LoggerMessage(EventId = MeshEventIds.PanicLeft, Level = LogLevel.Information,
        Message = "Service '{Service}' left panic: {Available} of {Count} endpoints available.")]
    public static partial void PanicLeft(ILogger logger, string service, int available, int count);

    [LoggerMessage(EventId = MeshEventIds.RetryBudgetExhausted, Level = LogLevel.Debug,
        Message = "Retry budget of service '{Service}' spent; not retrying.")]
    public static partial void RetryBudgetExhausted(ILogger logger, string service);
}
