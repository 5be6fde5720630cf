using Microsoft.Extensions.Logging;

namespace Mesh.Client.Health;

/// <summary>The log messages of health transitions (event ids 100-119).</summary>
internal static partial class HealthLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Warning,
        Message = "Service '{Service}': ejected endpoint {Endpoint} for {Seconds:0.#} s (ejection {Times} in a row): {Reason}.")]
    public static partial void Ejected(ILogger logger, string service, string endpoint, double seconds, int times, string reason);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information,
        Message = "Service '{Service}': ejection of {Endpoint} ended; its next outcome decides re-admission.")]
    public static partial void EjectionEnded(ILogger logger, string service, string endpoint);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information,
        Message = "Service '{Service}': re-admitted endpoint {Endpoint} ({Reason}).")]
    public static partial void Readmitted(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning,
        Message = "Service '{Service}': endpoint {Endpoint} met the ejection rule ({Reason}) but {Ejected} of {Members} endpoints are already ejected (the most allowed); not ejected.")]
    public static partial void EjectionSkipped(ILogger logger, string service, string endpoint, string reason, int ejected, int members);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning,
        Message = "Service '{Service}': heartbeats mark endpoint {Endpoint} unhealthy: {Reason}.")]
    public static partial void ActiveUnhealthy(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information,
        Message = "Service '{Service}': heartbeats mark endpoint {Endpoint} healthy.")]
    public static partial void ActiveHealthy(ILogger logger, string service, string endpoint);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning,
        Message = "Service '{Service}' is in panic: {Available} of {Members} endpoints available, below the threshold; {Action}.")]
    public static partial void PanicEntered(ILogger logger, string service, int available, int members, string action);

    [LoggerMessage(EventId = 107, Level = LogLevel.Information,
        Message = "Service '{Service}' left panic: {Available} of {Members} endpoints available.")]
    public static partial void PanicExited(ILogger logger, string service, int available, int members);
}
