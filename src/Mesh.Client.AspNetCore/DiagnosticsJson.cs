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
        writer.WriteEndObject();
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
