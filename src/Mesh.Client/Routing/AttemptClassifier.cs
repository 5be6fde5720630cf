using System.Net;

namespace Mesh.Client.Routing;

/// <summary>Decides what an attempt's response or exception says about the endpoint.</summary>
internal static class AttemptClassifier
{
    /// <summary>
    /// A response counts against the endpoint when its status says the endpoint (or what stands in front of it) could
    /// not serve: 502, 503 and 504. Other statuses, 500 included, are the application's answer.
    /// </summary>
    public static AttemptOutcome Classify(HttpResponseMessage response) => response.StatusCode switch
    {
        HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => AttemptOutcome.FailureStatus,
        _ => AttemptOutcome.Success,
    };

    /// <summary>
    /// An exception counts against the endpoint unless the caller cancelled: a caller's cancellation says nothing
    /// about the endpoint (YARP #2062).
    /// </summary>
    public static AttemptOutcome Classify(Exception exception, CancellationToken callerToken) => exception switch
    {
        OperationCanceledException when callerToken.IsCancellationRequested => AttemptOutcome.Canceled,
        OperationCanceledException => AttemptOutcome.Timeout,
        _ => AttemptOutcome.ConnectFailure,
    };
}
