using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Tests.Infrastructure;

namespace Mesh.Client.Kubernetes.Tests.Routes;

/// <summary>A route observer that keeps every answer, and lets a test wait (bounded) for one.</summary>
internal sealed class RouteRecorder : IMeshRouteObserver
{
    private readonly Lock _lock = new();
    private readonly List<(IReadOnlyList<MeshRoute> Routes, IReadOnlyList<string> Ignored)> _answers = [];
    private readonly List<Exception> _errors = [];

    public AsyncSignal Changed { get; } = new();

    public IReadOnlyList<(IReadOnlyList<MeshRoute> Routes, IReadOnlyList<string> Ignored)> Answers
    {
        get
        {
            lock (_lock)
            {
                return [.. _answers];
            }
        }
    }

    public IReadOnlyList<Exception> Errors
    {
        get
        {
            lock (_lock)
            {
                return [.. _errors];
            }
        }
    }

    public void OnRoutes(IReadOnlyList<MeshRoute> routes, IReadOnlyList<string> ignored)
    {
        lock (_lock)
        {
            _answers.Add(([.. routes], [.. ignored]));
        }

        Changed.Pulse();
    }

    public void OnError(Exception exception)
    {
        lock (_lock)
        {
            _errors.Add(exception);
        }

        Changed.Pulse();
    }

    public Task WaitForAnswersAsync(int count) => Changed.WaitUntilAsync(() => Answers.Count >= count, $"{count} route answers");
}
