using System.Threading.Channels;
using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Discovery.Dns;

/// <summary>An observer that records what a resolver publishes, and lets a test wait (bounded) for a matching event.</summary>
public sealed class WaitingObserver : IEndpointObserver
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly Channel<object> _events = Channel.CreateUnbounded<object>();

    public void OnEndpoints(IReadOnlyList<EndpointAddress> endpoints) => _events.Writer.TryWrite(endpoints.ToArray());

    public void OnError(Exception exception) => _events.Writer.TryWrite(exception);

    /// <summary>Waits for the next endpoint list that satisfies <paramref name="match"/>, skipping others.</summary>
    public async Task<EndpointAddress[]> NextEndpointsAsync(Func<EndpointAddress[], bool>? match = null)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            var next = await _events.Reader.ReadAsync(timeout.Token);
            if (next is EndpointAddress[] endpoints && (match is null || match(endpoints)))
            {
                return endpoints;
            }
        }
    }

    /// <summary>Waits for the next error, skipping endpoint lists.</summary>
    public async Task<Exception> NextErrorAsync()
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            if (await _events.Reader.ReadAsync(timeout.Token) is Exception error)
            {
                return error;
            }
        }
    }

    /// <summary>Waits for the next event of either kind.</summary>
    public async Task<object> NextAsync()
    {
        using var timeout = new CancellationTokenSource(Patience);
        return await _events.Reader.ReadAsync(timeout.Token);
    }
}
