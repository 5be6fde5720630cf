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

    [LoggerMessage(EventId = MeshEventIds.RetryBudgetExhausted, Level = LogLevel.Debug,
        Message = "Retry budget of service '{Service}' spent; not retrying.")]
    public static partial void RetryBudgetExhausted(ILogger logger, string service);
}
