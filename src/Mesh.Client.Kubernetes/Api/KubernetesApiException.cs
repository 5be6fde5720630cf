using System.Net;

namespace Mesh.Client.Kubernetes.Api;

/// <summary>
/// The API server answered a request with an error status (in the response, or as a watch <c>ERROR</c> event). The
/// message names the operation, the status and the server's own explanation; it never carries credentials.
/// </summary>
internal sealed class KubernetesApiException : HttpRequestException
{
    public KubernetesApiException(string operation, HttpStatusCode statusCode, V1Status? status)
        : base(Describe(operation, statusCode, status), inner: null, statusCode)
    {
        Reason = status?.Reason;
    }

    /// <summary>The status's machine-readable reason (<c>Expired</c>, <c>Gone</c>, <c>NotFound</c>, <c>Unauthorized</c>, ...).</summary>
    public string? Reason { get; }

    /// <summary>Whether the resource version asked for is too old: relist (HTTP 410, or reason <c>Expired</c>/<c>Gone</c>).</summary>
    public bool IsGone => StatusCode == HttpStatusCode.Gone || Reason is "Expired" or "Gone";

    private static string Describe(string operation, HttpStatusCode statusCode, V1Status? status)
    {
        string text = $"Kubernetes API {operation} failed: {(int)statusCode} {statusCode}";
        if (!string.IsNullOrEmpty(status?.Reason) && !string.Equals(status.Reason, statusCode.ToString(), StringComparison.Ordinal))
        {
            text += $" ({status.Reason})";
        }

        return string.IsNullOrEmpty(status?.Message) ? text + "." : $"{text}: {status.Message}";
    }
}
