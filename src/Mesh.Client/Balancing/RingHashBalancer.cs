using System.Buffers.Text;
using System.Text;
using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Consistent hashing on a ring (Karger et al.; ketama), built exactly as Envoy's <c>RING_HASH</c> and gRPC's
/// <c>ring_hash_experimental</c> (A42) build it, so a .NET client and an Envoy or gRPC client with the same endpoints
/// send the same request hash to the same endpoint.
/// </summary>
/// <remarks>
/// <para>
/// Construction: weights are normalised to sum 1; the scale is chosen so that the smallest weight gets
/// <c>ceil(min weight × MinimumRingSize)</c> entries, capped at <see cref="RingHashOptions.MaximumRingSize"/>; walking the
/// members in order, each gets entries while a running count stays below the running target <c>scale × weight</c>; entry
/// <c>i</c> of an endpoint is at <c>XXH64("&lt;hash key&gt;_&lt;i&gt;", seed 0)</c>, the hash key being
/// <see cref="MeshEndpoint.HashKey"/> (<c>host:port</c> unless the resolver set one). A pick takes the first entry whose
/// position is at least the request hash, wrapping to the first entry.
/// </para>
/// <para>
/// The ring covers every member and is rebuilt only when membership changes
/// (<see cref="EndpointSet.MembershipVersion"/>); an unavailable or excluded endpoint's keys walk on to the next distinct
/// endpoint on the ring (A42), so a health flap moves only that endpoint's keys. With
/// <see cref="RingHashOptions.BalanceFactor"/>, a full endpoint passes requests on the same way (bounded loads).
/// A request without a hash (no hash policy produced one) lands at a random position.
/// </para>
/// <para>A pick is a binary search over the ring and, usually, one check: no lock, no allocation.</para>
/// </remarks>
internal sealed class RingHashBalancer : ILoadBalancer
{
    private readonly int _minimumRingSize;
    private readonly int _maximumRingSize;
    private readonly double? _balanceFactor;
    private readonly Random _random;
    private State _state = State.Empty;

    /// <summary>Creates the policy.</summary>
    /// <param name="options">Ring sizes and bounded loads; <see langword="null"/> for the defaults.</param>
    /// <param name="random">A thread-safe random source for requests without a hash; <see cref="Random.Shared"/> by default.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public RingHashBalancer(RingHashOptions? options = null, Random? random = null)
    {
        options ??= new RingHashOptions();
        PickHelpers.ThrowIfInvalid(nameof(options), options.Validate);
        _minimumRingSize = options.MinimumRingSize;
        _maximumRingSize = options.MaximumRingSize;
        _balanceFactor = options.BalanceFactor;
        _random = random ?? Random.Shared;
    }

    /// <summary>The number of entries on the current ring.</summary>
    internal int RingSize => Volatile.Read(ref _state).Ring.Hashes.Length;

    /// <summary>The current ring's entries in ring order, for tests and diagnostics.</summary>
    internal IReadOnlyList<(ulong Hash, MeshEndpoint Endpoint)> Entries
    {
        get
        {
            var state = Volatile.Read(ref _state);
            var entries = new (ulong, MeshEndpoint)[state.Ring.Hashes.Length];
            for (int i = 0; i < entries.Length; i++)
            {
                entries[i] = (state.Ring.Hashes[i], state.Set.EndpointArray[state.Ring.Members[i]]);
            }

            return entries;
        }
    }

    /// <inheritdoc />
    public void Update(EndpointSet endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var current = Volatile.Read(ref _state);
        var ring = current.Ring.MembershipVersion == endpoints.MembershipVersion
            ? current.Ring
            : Ring.Build(endpoints, _minimumRingSize, _maximumRingSize);
        Volatile.Write(ref _state, new State(ring, endpoints, BoundedLoad.TotalWeight(endpoints.RoutableArray)));
    }

    /// <inheritdoc />
    public MeshEndpoint? Pick(in PickContext context)
    {
        var state = Volatile.Read(ref _state);
        var hashes = state.Ring.Hashes;
        if (hashes.Length == 0 || state.Set.RoutableArray.Length == 0)
        {
            return null;
        }

        ulong hash = context.RequestHash ?? PickHelpers.RandomHash(_random);
        return HashWalk.Pick(state.Ring.Members, FirstAtOrAfter(hashes, hash), state.Set, _balanceFactor, state.RoutableWeight, context);
    }

    /// <summary>The index of the first entry at or after <paramref name="hash"/>, wrapping to 0 past the last.</summary>
    internal static int FirstAtOrAfter(ulong[] hashes, ulong hash)
    {
        int low = 0;
        int high = hashes.Length;
        while (low < high)
        {
            int middle = (int)((uint)(low + high) >> 1);
            if (hashes[middle] < hash)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low == hashes.Length ? 0 : low;
    }

    /// <summary>A built ring: entry positions (sorted) and the member index of each entry.</summary>
    internal sealed class Ring(ulong[] hashes, int[] members, long membershipVersion)
    {
        public static readonly Ring Empty = new([], [], -1);

        public ulong[] Hashes { get; } = hashes;

        public int[] Members { get; } = members;

        public long MembershipVersion { get; } = membershipVersion;

        public static Ring Build(EndpointSet set, int minimumRingSize, int maximumRingSize)
        {
            var members = set.EndpointArray;
            if (members.Length == 0)
            {
                return new Ring([], [], set.MembershipVersion);
            }

            ulong weightSum = 0;
            foreach (var endpoint in members)
            {
                weightSum += (ulong)endpoint.Weight;
            }

            var normalized = new double[members.Length];
            double minWeight = double.MaxValue;
            for (int i = 0; i < members.Length; i++)
            {
                normalized[i] = members[i].Weight * 1.0 / weightSum;
                minWeight = Math.Min(minWeight, normalized[i]);
            }

            // Envoy's and A42's arithmetic, in the same order, so the entry counts agree to the last one.
            double scale = Math.Min(Math.Ceiling(minWeight * minimumRingSize) / minWeight, maximumRingSize);
            int capacity = (int)Math.Ceiling(scale) + members.Length;
            var hashes = new ulong[capacity];
            var owners = new int[capacity];
            int count = 0;
            double current = 0;
            double target = 0;
            byte[] key = [];
            for (int m = 0; m < members.Length; m++)
            {
                var hashKey = members[m].HashKey;
                int prefix = Encoding.UTF8.GetByteCount(hashKey) + 1;
                if (key.Length < prefix + 11)
                {
                    key = new byte[prefix + 11];
                }

                Encoding.UTF8.GetBytes(hashKey, key);
                key[prefix - 1] = (byte)'_';
                target += scale * normalized[m];
                for (int i = 0; current < target; i++, current++)
                {
                    Utf8Formatter.TryFormat(i, key.AsSpan(prefix), out int digits);
                    if (count == hashes.Length)
                    {
                        Array.Resize(ref hashes, count * 2);
                        Array.Resize(ref owners, count * 2);
                    }

                    hashes[count] = System.IO.Hashing.XxHash64.HashToUInt64(key.AsSpan(0, prefix + digits));
                    owners[count] = m;
                    count++;
                }
            }

            Array.Resize(ref hashes, count);
            Array.Resize(ref owners, count);
            Array.Sort(hashes, owners);
            return new Ring(hashes, owners, set.MembershipVersion);
        }
    }

    private sealed class State(Ring ring, EndpointSet set, long routableWeight)
    {
        public static readonly State Empty = new(Ring.Empty, EndpointSet.Empty, 0);

        public Ring Ring { get; } = ring;

        public EndpointSet Set { get; } = set;

        public long RoutableWeight { get; } = routableWeight;
    }
}
