using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>An observer that keeps what a resolver published.</summary>
public sealed class RecordingObserver : IEndpointObserver
{
    public List<IReadOnlyList<Endpoint>> Snapshots { get; } = [];

    public List<Exception> Errors { get; } = [];

    public IReadOnlyList<Endpoint> Last => Snapshots[^1];

    public void OnEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        lock (Snapshots)
        {
            Snapshots.Add(endpoints);
        }
    }

    public void OnError(Exception exception)
    {
        lock (Errors)
        {
            Errors.Add(exception);
        }
    }
}
