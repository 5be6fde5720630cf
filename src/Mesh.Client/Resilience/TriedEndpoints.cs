using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Mesh.Client.Discovery;

namespace Mesh.Client.Resilience;

/// <summary>
/// The endpoints one request has tried, passed to the balancer as <c>PickContext.Excluded</c> so a retry goes
/// elsewhere. A fixed-size inline buffer: it lives inside the request's async state, so keeping it allocates nothing.
/// </summary>
internal struct TriedEndpoints
{
    /// <summary>The most endpoints remembered; also the most attempts a request may make.</summary>
    public const int Capacity = 8;

    private Buffer _items;
    private int _count;

    public readonly int Count => _count;

    /// <summary>Remembers <paramref name="endpoint"/>; returns false when the buffer is full.</summary>
    public bool Add(MeshEndpoint endpoint)
    {
        if (_count == Capacity)
        {
            return false;
        }

        _items[_count++] = endpoint;
        return true;
    }

    /// <summary>The endpoints tried so far.</summary>
    [UnscopedRef]
    public ReadOnlySpan<MeshEndpoint> AsSpan() => ((ReadOnlySpan<MeshEndpoint>)_items)[.._count];

    [InlineArray(Capacity)]
    private struct Buffer
    {
        private MeshEndpoint _element;
    }
}
