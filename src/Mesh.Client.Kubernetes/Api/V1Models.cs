using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mesh.Client.Kubernetes.Api;

// The subset of the Kubernetes API objects the resolver reads, shaped and named as in the API reference
// (https://kubernetes.io/docs/reference/kubernetes-api/) and as the KubernetesClient package names them, so that
// package could replace this folder. Fields the resolver does not use are left out; unknown fields are ignored.

/// <summary><c>ObjectMeta</c>: the parts the resolver reads.</summary>
internal sealed class V1ObjectMeta
{
    public string? Name { get; set; }

    public string? Namespace { get; set; }

    public string? ResourceVersion { get; set; }

    public IDictionary<string, string>? Labels { get; set; }
}

/// <summary><c>ListMeta</c>.</summary>
internal sealed class V1ListMeta
{
    public string? ResourceVersion { get; set; }

    public string? Continue { get; set; }
}

/// <summary><c>discovery.k8s.io/v1 EndpointSlice</c>.</summary>
internal sealed class V1EndpointSlice
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public V1ObjectMeta? Metadata { get; set; }

    /// <summary><c>IPv4</c>, <c>IPv6</c> or <c>FQDN</c>.</summary>
    public string? AddressType { get; set; }

    public IList<V1Endpoint>? Endpoints { get; set; }

    public IList<V1EndpointPort>? Ports { get; set; }
}

/// <summary><c>discovery.k8s.io/v1 EndpointSliceList</c>.</summary>
internal sealed class V1EndpointSliceList
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public V1ListMeta? Metadata { get; set; }

    public IList<V1EndpointSlice>? Items { get; set; }
}

/// <summary>One endpoint of a slice (usually a pod).</summary>
internal sealed class V1Endpoint
{
    public IList<string>? Addresses { get; set; }

    public V1EndpointConditions? Conditions { get; set; }

    public V1EndpointHints? Hints { get; set; }

    public string? Hostname { get; set; }

    public string? NodeName { get; set; }

    public V1ObjectReference? TargetRef { get; set; }

    public string? Zone { get; set; }
}

/// <summary>
/// An endpoint's conditions. Per the API reference a missing <c>ready</c> means ready, a missing <c>serving</c> means
/// the same as <c>ready</c>, and a missing <c>terminating</c> means not terminating.
/// </summary>
internal sealed class V1EndpointConditions
{
    public bool? Ready { get; set; }

    public bool? Serving { get; set; }

    public bool? Terminating { get; set; }
}

/// <summary>Topology hints: the zones (and nodes) that should route to this endpoint.</summary>
internal sealed class V1EndpointHints
{
    public IList<V1ForZone>? ForZones { get; set; }
}

/// <summary>One zone of <see cref="V1EndpointHints.ForZones"/>.</summary>
internal sealed class V1ForZone
{
    public string? Name { get; set; }
}

/// <summary>A reference to the object behind an endpoint (a pod).</summary>
internal sealed class V1ObjectReference
{
    public string? Kind { get; set; }

    public string? Name { get; set; }

    public string? Namespace { get; set; }
}

/// <summary>A port of a slice: every endpoint in the slice listens on it.</summary>
internal sealed class V1EndpointPort
{
    public string? Name { get; set; }

    public int? Port { get; set; }

    public string? Protocol { get; set; }

    public string? AppProtocol { get; set; }
}

/// <summary><c>v1 Service</c>: the parts the resolver reads.</summary>
internal sealed class V1Service
{
    public V1ObjectMeta? Metadata { get; set; }

    public V1ServiceSpec? Spec { get; set; }
}

/// <summary><c>ServiceSpec</c>.</summary>
internal sealed class V1ServiceSpec
{
    public string? Type { get; set; }

    public IList<V1ServicePort>? Ports { get; set; }

    /// <summary>The service's IP families, primary first (<c>IPv4</c>, <c>IPv6</c>).</summary>
    public IList<string>? IpFamilies { get; set; }
}

/// <summary><c>ServicePort</c>. <c>targetPort</c> (int or string) is not read: the slices carry the resolved port.</summary>
internal sealed class V1ServicePort
{
    public string? Name { get; set; }

    public int Port { get; set; }

    public string? Protocol { get; set; }

    public string? AppProtocol { get; set; }
}

/// <summary><c>Status</c>: how the API server reports a failed request, in a response body or a watch ERROR event.</summary>
internal sealed class V1Status
{
    public string? Kind { get; set; }

    public string? Status { get; set; }

    public string? Message { get; set; }

    public string? Reason { get; set; }

    public int? Code { get; set; }
}

/// <summary>The type of a watch event, as the API server spells it.</summary>
internal static class WatchEventType
{
    public const string Added = "ADDED";
    public const string Modified = "MODIFIED";
    public const string Deleted = "DELETED";
    public const string Bookmark = "BOOKMARK";
    public const string Error = "ERROR";
}

/// <summary>One line of a watch stream: <c>{"type":"ADDED","object":{...}}</c>. The object is decoded by type.</summary>
internal sealed class WatchEventEnvelope
{
    public string? Type { get; set; }

    public JsonElement Object { get; set; }
}

/// <summary>System.Text.Json source generation for the objects above (no reflection; trimming- and AOT-safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(V1EndpointSlice))]
[JsonSerializable(typeof(V1EndpointSliceList))]
[JsonSerializable(typeof(V1Service))]
[JsonSerializable(typeof(V1Status))]
[JsonSerializable(typeof(WatchEventEnvelope))]
internal sealed partial class KubernetesJsonContext : JsonSerializerContext;
