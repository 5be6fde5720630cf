using System.Diagnostics;
using System.Runtime.CompilerServices;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;

namespace Mesh.Client.Diagnostics;

/// <summary>
/// Tracing: tags and events on the caller's current activity for requests, and activities of the
/// <c>Mesh.Client</c> source for background work (resolver updates, heartbeats).
/// </summary>
/// <remarks>
/// <para>The mesh handler runs inside the caller's activity: HttpClient's own activity (<c>System.Net.Http</c>) is
/// started below it, by the primary handler, after the mesh has rewritten the URI, so that span already carries the
/// endpoint's <c>server.address</c> and <c>server.port</c>. The mesh adds what only it knows: the logical service,
/// the endpoint it chose and the attempt number (<c>mesh.*</c> tags); and <c>server.address</c>/<c>server.port</c>
/// when the current activity is a client span, where they mean the remote server. It never writes them on a
/// server or internal span (for example ASP.NET Core's incoming request), where they mean something else.</para>
/// <para>Everything is guarded by <see cref="Activity.IsAllDataRequested"/>: with no tracer, or an unsampled trace,
/// a request pays one thread-static read.</para>
/// </remarks>
internal static class MeshTracing
{
    public const string ServiceTag = "mesh.service";
    public const string EndpointTag = "mesh.endpoint";
    public const string AttemptTag = "mesh.attempt";
    public const string ResolverTag = "mesh.resolver";
    public const string CountTag = "mesh.endpoint.count";
    public const string OutcomeTag = "mesh.outcome";
    public const string RouteTag = "mesh.route";
    public const string RetryEvent = "mesh.retry";
    public const string HedgeEvent = "mesh.hedge";
    public const string ResolverUpdateActivity = "mesh.resolver.update";
    public const string HeartbeatActivity = "mesh.heartbeat";

    public static readonly ActivitySource Source = new(MeshTelemetry.ActivitySourceName);

    /// <summary>Tags the current activity (the caller's span) with the route the request took.</summary>
    public static void TagRoute(string route)
    {
        if (Activity.Current is { IsAllDataRequested: true } activity)
        {
            activity.SetTag(RouteTag, route);
        }
    }

    /// <summary>Tags the current activity with the service, the chosen endpoint and the attempt number (1 for the first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TagAttempt(string service, MeshEndpoint endpoint, int attempt)
    {
        if (Activity.Current is { IsAllDataRequested: true } activity)
        {
            TagAttempt(activity, service, endpoint, attempt);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TagAttempt(Activity activity, string service, MeshEndpoint endpoint, int attempt)
    {
        activity.SetTag(ServiceTag, service);
        activity.SetTag(EndpointTag, endpoint.Authority);
        activity.SetTag(AttemptTag, attempt);
        if (activity.Kind == ActivityKind.Client)
        {
            activity.SetTag("server.address", endpoint.Host);
            activity.SetTag("server.port", endpoint.Port);
        }
    }

    /// <summary>Adds a <c>mesh.retry</c> event to the current activity: attempt <paramref name="attempt"/> follows a failure.</summary>
    public static void AddRetryEvent(string service, MeshEndpoint? failedEndpoint, AttemptOutcome outcome, int attempt)
    {
        if (Activity.Current is { IsAllDataRequested: true } activity)
        {
            var tags = new ActivityTagsCollection
            {
                { ServiceTag, service },
                { AttemptTag, attempt },
                { OutcomeTag, MeshMetrics.OutcomeTagValue(outcome) },
            };
            if (failedEndpoint is not null)
            {
                tags.Add(EndpointTag, failedEndpoint.Authority);
            }

            activity.AddEvent(new ActivityEvent(RetryEvent, tags: tags));
        }
    }

    /// <summary>Adds a <c>mesh.hedge</c> event to the current activity: attempt <paramref name="attempt"/> starts while others run.</summary>
    public static void AddHedgeEvent(string service, int attempt)
    {
        if (Activity.Current is { IsAllDataRequested: true } activity)
        {
            activity.AddEvent(new ActivityEvent(HedgeEvent, tags: new ActivityTagsCollection
            {
                { ServiceTag, service },
                { AttemptTag, attempt },
            }));
        }
    }

    /// <summary>Starts the activity of applying a resolver snapshot, or returns null when nobody listens.</summary>
    public static Activity? StartResolverUpdate(string service, string resolver)
    {
        var activity = Source.StartActivity(ResolverUpdateActivity, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(ServiceTag, service);
            activity.SetTag(ResolverTag, resolver);
        }

        return activity;
    }

    /// <summary>Starts the activity of one heartbeat probe, or returns null when nobody listens.</summary>
    public static Activity? StartHeartbeat(string service, MeshEndpoint endpoint)
    {
        var activity = Source.StartActivity(HeartbeatActivity, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(ServiceTag, service);
            activity.SetTag(EndpointTag, endpoint.Authority);
            activity.SetTag("server.address", endpoint.Host);
            activity.SetTag("server.port", endpoint.Port);
        }

        return activity;
    }
}
