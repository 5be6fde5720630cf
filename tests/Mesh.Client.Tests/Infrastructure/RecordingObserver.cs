using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>An observer that keeps what a resolver published.</summary>
public sealed class RecordingObserver : IEndpointObserver
{
    public List<IReadOnlyList<EndpointAddress>> Snapshots { get; } = [];

    public List<Exception> Errors { get; } = [];

    public IReadOnlyList<EndpointAddress> Last => Snapshots[^1];

    public void OnEndpoints(IReadOnlyList<EndpointAddress> endpoints)
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
