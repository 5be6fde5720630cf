using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Mesh.Client.Demo;

/// <summary>
/// Prometheus metrics for the demo, through the OpenTelemetry SDK and its Prometheus exporter: the mesh's meter
/// (<c>Mesh.Client</c>) served at <c>/metrics</c>, what the Grafana dashboard in <c>samples/grafana</c> queries.
/// </summary>
public static class DemoMetrics
{
    /// <summary>Where Prometheus scrapes.</summary>
    public const string Path = "/metrics";

    /// <summary>Collects the mesh's meter with OpenTelemetry and exports it for Prometheus.</summary>
    public static IServiceCollection AddDemoMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter("Mesh.Client").AddPrometheusExporter());
        return services;
    }

    /// <summary>Serves the scrape endpoint at <see cref="Path"/>.</summary>
    public static IEndpointRouteBuilder MapDemoMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(Path);
        return endpoints;
    }
}
