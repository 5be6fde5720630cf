using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Maglev consistent hashing (Eisenbud et al., NSDI 2016), built exactly as Envoy's <c>MAGLEV</c> builds its table, so a
/// .NET client and an Envoy with the same endpoints send the same request hash to the same endpoint.
/// </summary>
/// <remarks>
/// <para>
/// Construction: members are sorted by <see cref="MeshEndpoint.HashKey"/> (ordinal); each gets a permutation of the table's
/// slots with offset <c>XXH64(key, seed 0) mod M</c> and skip <c>XXH64(key, seed 1) mod (M − 1) + 1</c>; members take
/// turns claiming their next free slot, a member of normalised weight <c>w</c> taking a turn in a round only while
/// <c>round × w</c> has reached its running target (which grows by the largest weight per turn taken), until all
/// <c>M</c> slots are filled. A pick is slot <c>request hash mod M</c>.
/// </para>
/// <para>
/// Compared with <see cref="RingHashBalancer"/>, Maglev spreads keys almost perfectly evenly (each endpoint's share is
/// within 2 % of its weight at the default size and 100 endpoints) and picks in constant time, at the price of moving somewhat more
/// keys when membership changes.
/// </para>
/// <para>
/// The table covers every member and is rebuilt only when membership changes; an unavailable or excluded endpoint's
/// slots walk on to the next slot holding another endpoint, so a health flap moves only that endpoint's keys. With
/// <see cref="MaglevOptions.BalanceFactor"/>, a full endpoint passes requests on the same way (bounded loads). A
/// request without a hash lands in a random slot.
/// </para>
/// </remarks>
internal sealed class MaglevBalancer : ILoadBalancer
{
    private readonly int _tableSize;
    private readonly double? _balanceFactor;
    private readonly Random _random;
    private State _state = State.Empty;

    /// <summary>Creates the policy.</summary>
    /// <param name="options">Table size and bounded loads; <see langword="null"/> for the defaults.</param>
    /// <param name="random">A thread-safe random source for requests without a hash; <see cref="Random.Shared"/> by default.</param>
    /// <exception cref="ArgumentException">A setting is out of range (the table size must be prime); the message names it.</exception>
    public MaglevBalancer(MaglevOptions? options = null, Random? random = null)
    {
        options ??= new MaglevOptions();
        PickHelpers.ThrowIfInvalid(nameof(options), options.Validate);
        _tableSize = options.TableSize;
        _balanceFactor = options.BalanceFactor;
        _random = random ?? Random.Shared;
    }

    /// <summary>The current table: the member index (in <see cref="EndpointSet.Endpoints"/>) owning each slot.</summary>
    internal int[] Table => Volatile.Read(ref _state).Table.Slots;

    /// <inheritdoc />
    public void Update(EndpointSet endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var current = Volatile.Read(ref _state);
        var table = current.Table.MembershipVersion == endpoints.MembershipVersion
            ? current.Table
            : LookupTable.Build(endpoints, _tableSize);
        Volatile.Write(ref _state, new State(table, endpoints, BoundedLoad.TotalWeight(endpoints.RoutableArray)));
    }

    /// <inheritdoc />
    public MeshEndpoint? Pick(in PickContext context)
    {
        var state = Volatile.Read(ref _state);
        var slots = state.Table.Slots;
        if (slots.Length == 0 || state.Set.RoutableArray.Length == 0)
        {
            return null;
        }

        ulong hash = context.RequestHash ?? PickHelpers.RandomHash(_random);
        return HashWalk.Pick(slots, (int)(hash % (ulong)slots.Length), state.Set, _balanceFactor, state.RoutableWeight, context);
    }

    internal sealed class LookupTable(int[] slots, long membershipVersion)
    {
        public static readonly LookupTable Empty = new([], -1);

        public int[] Slots { get; } = slots;

        public long MembershipVersion { get; } = membershipVersion;

        public static LookupTable Build(EndpointSet set, int tableSize)
        {
            var members = set.EndpointArray;
            if (members.Length == 0)
            {
                return new LookupTable([], set.MembershipVersion);
            }

            // Envoy fills in hash-key order so the table does not depend on the resolver's order.
            var order = new int[members.Length];
            var keys = new string[members.Length];
            ulong weightSum = 0;
            for (int i = 0; i < members.Length; i++)
            {
                order[i] = i;
                keys[i] = members[i].HashKey;
                weightSum += (ulong)members[i].Weight;
            }

            Array.Sort(order, (a, b) =>
            {
                int byKey = string.CompareOrdinal(keys[a], keys[b]);
                return byKey != 0 ? byKey : a.CompareTo(b);
            });

            var entries = new Entry[members.Length];
            double maxWeight = 0;
            ulong size = (ulong)tableSize;
            for (int k = 0; k < order.Length; k++)
            {
                int member = order[k];
                ulong offset = Utf8XxHash64.Hash(keys[member], 0) % size;
                ulong skip = (Utf8XxHash64.Hash(keys[member], 1) % (size - 1)) + 1;
                double weight = members[member].Weight * 1.0 / weightSum;
                maxWeight = Math.Max(maxWeight, weight);
                entries[k] = new Entry { Member = member, Position = offset, Skip = skip, Weight = weight };
            }

            var slots = new int[tableSize];
            Array.Fill(slots, -1);
            int filled = 0;
            for (uint round = 1; filled < tableSize; round++)
            {
                for (int k = 0; k < entries.Length && filled < tableSize; k++)
                {
                    ref var entry = ref entries[k];
                    if (round * entry.Weight < entry.TargetWeight)
                    {
                        continue;
                    }

                    entry.TargetWeight += maxWeight;
                    while (slots[entry.Position] >= 0)
                    {
                        entry.Advance(size);
                    }

                    slots[entry.Position] = entry.Member;
                    entry.Advance(size);
                    filled++;
                }
            }

            return new LookupTable(slots, set.MembershipVersion);
        }

        /// <summary>One member's walk through its permutation: slot <c>(offset + skip × next) mod M</c>.</summary>
        private struct Entry
        {
            public int Member;
            public ulong Position;
            public ulong Skip;
            public double Weight;
            public double TargetWeight;

            public void Advance(ulong size)
            {
                Position += Skip;
                if (Position >= size)
                {
                    Position -= size;
                }
            }
        }
    }

    private sealed class State(LookupTable table, EndpointSet set, long routableWeight)
    {
        public static readonly State Empty = new(LookupTable.Empty, EndpointSet.Empty, 0);

        public LookupTable Table { get; } = table;

        public EndpointSet Set { get; } = set;

        public long RoutableWeight { get; } = routableWeight;
    }
}
