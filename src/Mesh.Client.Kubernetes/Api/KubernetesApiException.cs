using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;

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

    /// <summary>KubernetesClient's exception for a non-success status, with the body parsed as a Status when it is one.</summary>
    public static KubernetesApiException From(string operation, HttpOperationException exception)
    {
        V1Status? status = null;
        if (exception.Response?.Content is { Length: > 0 } body)
        {
            try
            {
                status = KubernetesJson.Deserialize<V1Status>(body);
            }
            catch (JsonException)
            {
                // not a Status body (a proxy's HTML page, say): the status code alone describes the failure
            }
        }

        return new KubernetesApiException(operation, exception.Response?.StatusCode ?? HttpStatusCode.InternalServerError, status);
    }

    /// <summary>A watch <c>ERROR</c> event's Status.</summary>
    public static KubernetesApiException From(string operation, V1Status? status) =>
        new(operation, (HttpStatusCode)(status?.Code ?? 500), status);

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
