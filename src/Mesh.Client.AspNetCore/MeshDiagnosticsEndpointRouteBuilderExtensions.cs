using Mesh.Client.AspNetCore;
using Mesh.Client.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Serves the mesh's diagnostics: <c>app.MapMeshDiagnostics("/mesh")</c>.</summary>
public static class MeshDiagnosticsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the mesh diagnostics under <paramref name="pattern"/>: a self-contained HTML page at <paramref name="pattern"/>
    /// that refreshes every second and shows each service's endpoints, their state, latency estimate and traffic share;
    /// and the same data as JSON at <c><paramref name="pattern"/>/json</c> (or at <paramref name="pattern"/> for a
    /// request that accepts JSON and not HTML).
    /// </summary>
    /// <param name="endpoints">The application's endpoint route builder.</param>
    /// <param name="pattern">Where to serve the page. Default: <c>/mesh</c>.</param>
    /// <returns>
    /// The endpoints' convention builder. The page shows internal addresses; protect it like any operational endpoint,
    /// for example with <c>.RequireAuthorization()</c> or <c>.RequireHost("localhost:5000")</c>.
    /// </returns>
    /// <exception cref="InvalidOperationException">The mesh is not registered (<c>AddMeshClient()</c> was not called).</exception>
    public static IEndpointConventionBuilder MapMeshDiagnostics(this IEndpointRouteBuilder endpoints, string pattern = "/mesh")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        if (endpoints.ServiceProvider.GetService<IMeshDiagnostics>() is null)
        {
            throw new InvalidOperationException(
                "MapMeshDiagnostics needs the mesh's services: call services.AddMeshClient() (or AddHttpClient(...).AddMeshHandler()) first.");
        }

        var group = endpoints.MapGroup(pattern);
        group.MapGet("/", ServePageOrJsonAsync).ExcludeFromDescription();
        group.MapGet("/json", ServeJsonAsync).ExcludeFromDescription();
        return group;
    }

    private static Task ServePageOrJsonAsync(HttpContext context)
    {
        return PrefersJson(context.Request) ? ServeJsonAsync(context) : ServePageAsync(context);
    }

    private static async Task ServePageAsync(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
        // Everything the page needs is inline; nothing may load from elsewhere.
        response.Headers.ContentSecurityPolicy =
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";
        await response.Body.WriteAsync(DiagnosticsPage.Html, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task ServeJsonAsync(HttpContext context)
    {
        var snapshot = context.RequestServices.GetRequiredService<IMeshDiagnostics>().GetSnapshot();
        var response = context.Response;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        await DiagnosticsJson.WriteAsync(response.BodyWriter, snapshot, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Whether the request's Accept header asks for JSON more than for HTML.</summary>
    internal static bool PrefersJson(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var accepted))
        {
            return false;
        }

        double json = 0, html = 0;
        foreach (var type in accepted)
        {
            double quality = type.Quality ?? 1;
            if (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json, quality);
            }
            else if (type.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase))
            {
                html = Math.Max(html, quality);
            }
        }

        return json > html;
    }
}
