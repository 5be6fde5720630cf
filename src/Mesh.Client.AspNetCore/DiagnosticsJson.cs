using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Mesh.Client.Diagnostics;
using Mesh.Client.Health;

namespace Mesh.Client.AspNetCore;

/// <summary>
/// Writes a <see cref="MeshSnapshot"/> as the JSON the diagnostics page reads: camelCase names, states in lower case,
/// latencies in milliseconds. Written by hand with <see cref="Utf8JsonWriter"/>: no reflection, so trimming and AOT
/// keep working, and the shape is stated here rather than implied by the snapshot classes.
/// </summary>
internal static class DiagnosticsJson
{
    public static async Task WriteAsync(PipeWriter output, MeshSnapshot snapshot, CancellationToken cancellationToken)
    {
        await using (var writer = new Utf8JsonWriter((IBufferWriter<byte>)output))
        {
            Write(writer, snapshot);
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public static void Write(Utf8JsonWriter writer, MeshSnapshot snapshot)
    {
        writer.WriteStartObject();
        writer.WriteString("timestamp", snapshot.Timestamp);
        writer.WriteStartArray("services");
        foreach (var service in snapshot.Services)
        {
            writer.WriteStartObject();
            writer.WriteString("client", service.ClientName);
            writer.WriteString("service", service.ServiceName);
            writer.WriteString("resolver", service.Resolver);
            writer.WriteString("balancer", service.Balancer);
            writer.WriteBoolean("resolved", service.IsResolved);
            writer.WriteBoolean("panic", service.IsPanic);
            writer.WriteString("lastError", service.LastError);
            writer.WriteStartArray("endpoints");
            foreach (var endpoint in service.Endpoints)
            {
                WriteEndpoint(writer, endpoint);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("routes");
            foreach (var route in service.Routes)
            {
                WriteRoute(writer, route);
            }

            writer.WriteEndArray();
            writer.WriteString("routeSource", service.RouteSource);
            writer.WriteStartArray("routeWarnings");
            foreach (string warning in service.RouteWarnings)
            {
                writer.WriteStringValue(warning);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteStartArray("rejectedConfiguration");
        foreach (var rejection in snapshot.RejectedConfiguration)
        {
            writer.WriteStringValue(rejection);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteEndpoint(Utf8JsonWriter writer, EndpointSnapshot endpoint)
    {
        writer.WriteStartObject();
        writer.WriteString("key", endpoint.Key);
        writer.WriteString("address", endpoint.Address);
        writer.WriteString("zone", endpoint.Zone);
        writer.WriteNumber("weight", endpoint.Weight);
        writer.WriteString("state", State(endpoint.State));
        writer.WriteBoolean("routable", endpoint.IsRoutable);
        writer.WriteString("passive", Opinion(endpoint.PassiveHealth));
        writer.WriteString("active", Opinion(endpoint.ActiveHealth));
        if (endpoint.EjectedUntil is { } until)
        {
            writer.WriteString("ejectedUntil", until);
        }
        else
        {
            writer.WriteNull("ejectedUntil");
        }

        writer.WriteNumber("timesEjected", endpoint.TimesEjected);
        writer.WriteNumber("rttMs", Math.Round(endpoint.RttEstimate.TotalMilliseconds, 3));
        writer.WriteBoolean("rttSampled", endpoint.HasRttSample);
        writer.WriteNumber("inFlight", endpoint.InFlight);
        writer.WriteNumber("requests", endpoint.Requests);
        WriteTraffic(writer, endpoint.Traffic);
        writer.WriteEndObject();
    }

    private static void WriteRoute(Utf8JsonWriter writer, RouteSnapshot route)
    {
        writer.WriteStartObject();
        writer.WriteString("name", route.Name);
        writer.WriteString("match", route.Match);
        writer.WriteBoolean("sticky", route.IsSticky);
        writer.WriteStartArray("backends");
        foreach (var backend in route.Backends)
        {
            writer.WriteStartObject();
            writer.WriteString("service", backend.Service);
            writer.WriteNumber("weight", backend.Weight);
            writer.WriteNumber("configuredShare", Math.Round(backend.ConfiguredShare, 4));
            writer.WriteNumber("requests", backend.Requests);
            writer.WriteNumber("observedShare", Math.Round(backend.ObservedShare, 4));
            WriteTraffic(writer, backend.Traffic);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>
    /// The series by column (one array per measure, oldest bucket first), as a chart reads it, and without repeating
    /// the names for every bucket. Empty buckets have null success rate and percentiles.
    /// </summary>
    private static void WriteTraffic(Utf8JsonWriter writer, IReadOnlyList<TrafficBucket> traffic)
    {
        writer.WriteStartObject("traffic");
        if (traffic.Count > 0)
        {
            writer.WriteString("start", traffic[0].Start);
            writer.WriteNumber("bucketSeconds", traffic[0].Duration.TotalSeconds);
        }

        WriteColumn(writer, "requests", traffic, static b => b.Requests);
        WriteColumn(writer, "failures", traffic, static b => b.Failures);
        WriteColumn(writer, "rps", traffic, static b => Math.Round(b.RequestsPerSecond, 3));
        WriteColumn(writer, "successRate", traffic, static b => b.SuccessRate is { } rate ? Math.Round(rate, 4) : null);
        WriteColumn(writer, "p50Ms", traffic, static b => b.P50 is { } p50 ? Math.Round(p50.TotalMilliseconds, 3) : null);
        WriteColumn(writer, "p99Ms", traffic, static b => b.P99 is { } p99 ? Math.Round(p99.TotalMilliseconds, 3) : null);
        writer.WriteEndObject();
    }

    /// <summary>One measure of every bucket, as an array named <paramref name="name"/>; null where it has no value.</summary>
    private static void WriteColumn(Utf8JsonWriter writer, string name, IReadOnlyList<TrafficBucket> traffic, Func<TrafficBucket, double?> value)
    {
        writer.WriteStartArray(name);
        foreach (var bucket in traffic)
        {
            if (value(bucket) is { } number)
            {
                writer.WriteNumberValue(number);
            }
            else
            {
                writer.WriteNullValue();
            }
        }

        writer.WriteEndArray();
    }
    private static string State(EndpointState state) => state switch
    {
        EndpointState.Available => "available",
        EndpointState.Ejected => "ejected",
        EndpointState.Unhealthy => "unhealthy",
        _ => "unknown",
    };

    private static string Opinion(HealthOpinion opinion) => opinion switch
    {
        HealthOpinion.Healthy => "healthy",
        HealthOpinion.Unhealthy => "unhealthy",
        _ => "unknown",
    };
}
