using Mesh.Client.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Health;

/// <summary>The log messages of health transitions (event ids 100-119, declared in MeshEventIds).</summary>
internal static partial class HealthLog
{
    [LoggerMessage(EventId = MeshEventIds.EndpointEjected, Level = LogLevel.Warning,
        Message = "Service '{Service}': ejected endpoint {Endpoint} for {Seconds:0.#} s (ejection {Times} in a row): {Reason}.")]
    public static partial void Ejected(ILogger logger, string service, string endpoint, double seconds, int times, string reason);

    [LoggerMessage(EventId = MeshEventIds.EjectionEnded, Level = LogLevel.Information,
        Message = "Service '{Service}': ejection of {Endpoint} ended; its next outcome decides re-admission.")]
    public static partial void EjectionEnded(ILogger logger, string service, string endpoint);

    [LoggerMessage(EventId = MeshEventIds.EndpointReadmitted, Level = LogLevel.Information,
        Message = "Service '{Service}': re-admitted endpoint {Endpoint} ({Reason}).")]
    public static partial void Readmitted(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(EventId = MeshEventIds.EjectionSkipped, Level = LogLevel.Warning,
        Message = "Service '{Service}': endpoint {Endpoint} met the ejection rule ({Reason}) but {Ejected} of {Members} endpoints are already ejected (the most allowed); not ejected.")]
    public static partial void EjectionSkipped(ILogger logger, string service, string endpoint, string reason, int ejected, int members);

    [LoggerMessage(EventId = MeshEventIds.EndpointUnhealthy, Level = LogLevel.Warning,
        Message = "Service '{Service}': heartbeats mark endpoint {Endpoint} unhealthy: {Reason}.")]
    public static partial void ActiveUnhealthy(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(EventId = MeshEventIds.EndpointHealthy, Level = LogLevel.Information,
        Message = "Service '{Service}': heartbeats mark endpoint {Endpoint} healthy.")]
    public static partial void ActiveHealthy(ILogger logger, string service, string endpoint);

    [LoggerMessage(EventId = MeshEventIds.PanicEntered, Level = LogLevel.Warning,
        Message = "Service '{Service}' is in panic: {Available} of {Members} endpoints available, below the threshold; {Action}.")]
    public static partial void PanicEntered(ILogger logger, string service, int available, int members, string action);

    [LoggerMessage(EventId = MeshEventIds.PanicLeft, Level = LogLevel.Information,
        Message = "Service '{Service}' left panic: {Available} of {Members} endpoints available.")]
    public static partial void PanicExited(ILogger logger, string service, int available, int members);

    /// <summary>Logs <paramref name="transition"/> with its own event id.</summary>
    public static void Write(ILogger logger, string service, in HealthTransition transition)
    {
        string endpoint = transition.Endpoint?.Key ?? string.Empty;
        switch (transition.Kind)
        {
            case HealthTransitionKind.Ejected:
                HealthLog.Ejected(logger, service, endpoint, transition.Duration.TotalSeconds, transition.TimesEjected, transition.Reason);
                break;
            case HealthTransitionKind.EjectionEnded:
                HealthLog.EjectionEnded(logger, service, endpoint);
                break;
            case HealthTransitionKind.Readmitted:
                HealthLog.Readmitted(logger, service, endpoint, transition.Reason);
                break;
            case HealthTransitionKind.EjectionSkipped:
                HealthLog.EjectionSkipped(logger, service, endpoint, transition.Reason,
                    transition.Members - transition.Available, transition.Members);
                break;
            case HealthTransitionKind.ActiveUnhealthy:
                HealthLog.ActiveUnhealthy(logger, service, endpoint, transition.Reason);
                break;
            case HealthTransitionKind.ActiveHealthy:
                HealthLog.ActiveHealthy(logger, service, endpoint);
                break;
            case HealthTransitionKind.PanicEntered:
                HealthLog.PanicEntered(logger, service, transition.Available, transition.Members, transition.Reason);
                break;
            case HealthTransitionKind.PanicExited:
                HealthLog.PanicExited(logger, service, transition.Available, transition.Members);
                break;
        }
    }
}
