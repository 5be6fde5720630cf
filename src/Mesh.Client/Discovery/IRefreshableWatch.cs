namespace Mesh.Client.Discovery;

/// <summary>
/// A watch that can be asked to look again before its next scheduled refresh: what a polling resolver (DNS) implements
/// so a service can ask for fresh endpoints when its current ones fail to connect, and find new replicas without
/// waiting out the refresh interval (gRPC's most reported DNS problem).
/// </summary>
internal interface IRefreshableWatch
{
    /// <summary>
    /// Asks for a refresh soon. Cheap and non-blocking, safe to call on every failure: the watch rate-limits itself and
    /// ignores the request while a refresh is running or one ran recently.
    /// </summary>
    void RequestRefresh();
}
