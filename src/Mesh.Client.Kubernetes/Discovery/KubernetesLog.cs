using Microsoft.Extensions.Logging;

namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>
/// The resolver's logs. Messages name services and namespaces, never credentials. Event ids 200-219, the range
/// Mesh.Client reserves for this resolver (Mesh.Client.Diagnostics.MeshEventIds), so ids are unique across both packages.
/// </summary>
internal static partial class KubernetesLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Information,
        Message = "Kubernetes resolver uses the API server {ApiServer} ({Source}); default namespace '{Namespace}'.")]
    public static partial void Connected(ILogger logger, Uri apiServer, string source, string @namespace);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug,
        Message = "Kubernetes resolver claims no service: {Reason}")]
    public static partial void NoCredentials(ILogger logger, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning,
        Message = "Kubernetes credentials cannot be used, so the Kubernetes resolver claims no service: {Reason}")]
    public static partial void UnusableCredentials(ILogger logger, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Debug,
        Message = "Listed service '{Service}' in namespace '{Namespace}': {Slices} EndpointSlices at resourceVersion {ResourceVersion}.")]
    public static partial void Listed(ILogger logger, string service, string @namespace, int slices, string resourceVersion);

    [LoggerMessage(EventId = 204, Level = LogLevel.Warning,
        Message = "Watching service '{Service}' in namespace '{Namespace}' fails ({Problem}); keeping the last good endpoints and retrying. {Error}")]
    public static partial void WatchFailing(ILogger logger, string service, string @namespace, string problem, string error);

    [LoggerMessage(EventId = 205, Level = LogLevel.Information,
        Message = "Watching service '{Service}' in namespace '{Namespace}' works again.")]
    public static partial void WatchRecovered(ILogger logger, string service, string @namespace);

    [LoggerMessage(EventId = 206, Level = LogLevel.Debug,
        Message = "Resource version of service '{Service}' in namespace '{Namespace}' expired (410 Gone); listing again.")]
    public static partial void Relisting(ILogger logger, string service, string @namespace);

    [LoggerMessage(EventId = 207, Level = LogLevel.Warning,
        Message = "Skipped a malformed watch event for service '{Service}' in namespace '{Namespace}' ({Reason}); listing again to stay consistent.")]
    public static partial void MalformedEvent(ILogger logger, string service, string @namespace, string reason);

    [LoggerMessage(EventId = 208, Level = LogLevel.Error,
        Message = "An observer of service '{Service}' failed on an update.")]
    public static partial void ObserverFailed(ILogger logger, string service, Exception exception);

    [LoggerMessage(EventId = 209, Level = LogLevel.Warning,
        Message = "The ServiceAccount may not read Kubernetes service '{Service}' in namespace '{Namespace}' (403 Forbidden on 'get services'); taking its ports from the EndpointSlices.")]
    public static partial void ServiceForbidden(ILogger logger, string service, string @namespace);

    [LoggerMessage(EventId = 210, Level = LogLevel.Debug,
        Message = "Reading service '{Service}' in namespace '{Namespace}' again after its ports changed failed; keeping the ports known so far. {Error}")]
    public static partial void ServiceRefreshFailed(ILogger logger, string service, string @namespace, string error);

    [LoggerMessage(EventId = 211, Level = LogLevel.Debug,
        Message = "The watch of service '{Service}' in namespace '{Namespace}' sent nothing for {Seconds} s, not even a bookmark; abandoning it and watching again.")]
    public static partial void WatchIdle(ILogger logger, string service, string @namespace, double seconds);

    [LoggerMessage(EventId = 212, Level = LogLevel.Debug,
        Message = "The watch of service '{Service}' in namespace '{Namespace}' was cut; resuming from resourceVersion {ResourceVersion}. {Error}")]
    public static partial void WatchCut(ILogger logger, string service, string @namespace, string resourceVersion, string error);

    [LoggerMessage(EventId = 213, Level = LogLevel.Information,
        Message = "HTTPRoutes (gateway.networking.k8s.io/v1) are not installed in the cluster (404 on namespace '{Namespace}'); services there have no routes from Kubernetes. Checking again every {Seconds} s.")]
    public static partial void HttpRoutesNotInstalled(ILogger logger, string @namespace, double seconds);

    [LoggerMessage(EventId = 214, Level = LogLevel.Warning,
        Message = "Watching HTTPRoutes in namespace '{Namespace}' fails ({Problem}); keeping the last good routes and retrying. {Error}")]
    public static partial void HttpRouteWatchFailing(ILogger logger, string @namespace, string problem, string error);

    [LoggerMessage(EventId = 215, Level = LogLevel.Information,
        Message = "Watching HTTPRoutes in namespace '{Namespace}' works again.")]
    public static partial void HttpRouteWatchRecovered(ILogger logger, string @namespace);

    [LoggerMessage(EventId = 216, Level = LogLevel.Warning,
        Message = "Skipped a malformed HTTPRoute watch event in namespace '{Namespace}' ({Reason}); listing again to stay consistent.")]
    public static partial void HttpRouteMalformedEvent(ILogger logger, string @namespace, string reason);
}
