using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mesh.Client.Kubernetes.Routes;

// The parts of gateway.networking.k8s.io/v1 HTTPRoute the projection reads, or reports as unsupported. KubernetesClient
// has no Gateway API models; these are deliberately small. Fields the mesh cannot apply are kept as raw JSON only so
// that their presence can be reported, never silently dropped.

internal sealed class HttpRouteList
{
    [JsonPropertyName("metadata")]
    public ListMeta? Metadata { get; set; }

    [JsonPropertyName("items")]
    public List<HttpRoute>? Items { get; set; }
}

internal sealed class ListMeta
{
    [JsonPropertyName("resourceVersion")]
    public string? ResourceVersion { get; set; }

    [JsonPropertyName("continue")]
    public string? Continue { get; set; }
}

internal sealed class HttpRoute
{
    [JsonPropertyName("metadata")]
    public ObjectMeta? Metadata { get; set; }

    [JsonPropertyName("spec")]
    public HttpRouteSpec? Spec { get; set; }
}

internal sealed class ObjectMeta
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("namespace")]
    public string? Namespace { get; set; }

    [JsonPropertyName("resourceVersion")]
    public string? ResourceVersion { get; set; }

    [JsonPropertyName("creationTimestamp")]
    public DateTimeOffset? CreationTimestamp { get; set; }
}

internal sealed class HttpRouteSpec
{
    [JsonPropertyName("parentRefs")]
    public List<ParentRef>? ParentRefs { get; set; }

    [JsonPropertyName("hostnames")]
    public List<string>? Hostnames { get; set; }

    [JsonPropertyName("rules")]
    public List<HttpRouteRule>? Rules { get; set; }
}

internal sealed class ParentRef
{
    [JsonPropertyName("group")]
    public string? Group { get; set; }

    [JsonPropertyName("kind")]
    public string? Kind { get; set; }

    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("namespace")]
    public string? Namespace { get; set; }

    [JsonPropertyName("port")]
    public int? Port { get; set; }

    [JsonPropertyName("sectionName")]
    public string? SectionName { get; set; }
}

internal sealed class HttpRouteRule
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("matches")]
    public List<HttpRouteMatch>? Matches { get; set; }

    [JsonPropertyName("filters")]
    public List<HttpRouteFilter>? Filters { get; set; }

    [JsonPropertyName("backendRefs")]
    public List<HttpBackendRef>? BackendRefs { get; set; }

    [JsonPropertyName("timeouts")]
    public HttpRouteTimeouts? Timeouts { get; set; }

    [JsonPropertyName("retry")]
    public HttpRouteRetry? Retry { get; set; }

    [JsonPropertyName("sessionPersistence")]
    public JsonElement? SessionPersistence { get; set; }
}

internal sealed class HttpRouteMatch
{
    [JsonPropertyName("path")]
    public HttpPathMatch? Path { get; set; }

    [JsonPropertyName("headers")]
    public List<HttpValueMatch>? Headers { get; set; }

    [JsonPropertyName("queryParams")]
    public List<HttpValueMatch>? QueryParams { get; set; }

    [JsonPropertyName("method")]
    public string? Method { get; set; }
}

internal sealed class HttpPathMatch
{
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("value")]
    public string? Value { get; set; }
}

internal sealed class HttpValueMatch
{
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("value")]
    public string? Value { get; set; }
}

internal sealed class HttpRouteFilter
{
    [JsonPropertyName("type")]
    public string? Type { get; set; }
}

internal sealed class HttpBackendRef
{
    [JsonPropertyName("group")]
    public string? Group { get; set; }

    [JsonPropertyName("kind")]
    public string? Kind { get; set; }

    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("namespace")]
    public string? Namespace { get; set; }

    [JsonPropertyName("port")]
    public int? Port { get; set; }

    [JsonPropertyName("weight")]
    public int? Weight { get; set; }

    [JsonPropertyName("filters")]
    public List<HttpRouteFilter>? Filters { get; set; }
}

internal sealed class HttpRouteTimeouts
{
    [JsonPropertyName("request")]
    public string? Request { get; set; }

    [JsonPropertyName("backendRequest")]
    public string? BackendRequest { get; set; }
}

internal sealed class HttpRouteRetry
{
    [JsonPropertyName("codes")]
    public List<int>? Codes { get; set; }

    [JsonPropertyName("attempts")]
    public int? Attempts { get; set; }

    [JsonPropertyName("backoff")]
    public string? Backoff { get; set; }
}

/// <summary>How the route watch reads HTTPRoutes out of API responses.</summary>
internal static class HttpRouteJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
