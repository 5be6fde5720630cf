using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace Mesh.Client.Peers;

/// <summary>
/// Which types a contender's requests allocate, from the runtime's allocation sampling (<c>GCAllocationTick</c>: one
/// event about every 100 KB allocated, naming the type of the object that crossed the mark). It says which types a
/// contender adds (the mesh's first-attempt state machine box stood out this way), not their exact bytes: a request
/// allocates the same sequence of objects every time, so the sample points alias with it, and per-type figures swing
/// by ±100 B per request between contenders that allocate the same objects. The byte totals come from
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/> in the timed rounds.
/// </summary>
internal sealed class AllocationProfile : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytesByType = new();
    private volatile bool _recording;

    public void Start()
    {
        _bytesByType.Clear();
        _recording = true;
    }

    public IReadOnlyDictionary<string, long> Stop()
    {
        _recording = false;
        return new Dictionary<string, long>(_bytesByType);
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal)
            || eventData.Payload is null || eventData.PayloadNames is null)
        {
            return;
        }

        int type = eventData.PayloadNames.IndexOf("TypeName");
        int amount = eventData.PayloadNames.IndexOf("AllocationAmount64");
        if (type < 0 || amount < 0)
        {
            return;
        }

        string name = eventData.Payload[type] as string ?? "?";
        long bytes = Convert.ToInt64(eventData.Payload[amount], CultureInfo.InvariantCulture);
        _bytesByType.AddOrUpdate(name, bytes, (_, b) => b + bytes);
    }

    /// <summary>
    /// Prints, per type, the sampled bytes per request of each contender and the difference to the first (the fixed-URI
    /// client), largest differences first.
    /// </summary>
    public static void Print(IReadOnlyList<string> names, IReadOnlyList<IReadOnlyDictionary<string, long>> samples, IReadOnlyList<long> requests)
    {
        var types = samples.SelectMany(s => s.Keys).Distinct().ToArray();
        double PerRequest(int c, string t) => samples[c].TryGetValue(t, out long b) ? b / (double)requests[c] : 0;
        Console.WriteLine();
        Console.WriteLine("Sampled allocations per request by type (GCAllocationTick), difference to " + names[0] + ":");
        Console.WriteLine();
        Console.WriteLine("| type | " + string.Join(" | ", names) + " |");
        Console.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---:|", names.Count)));
        foreach (var t in types.OrderByDescending(t => Enumerable.Range(1, names.Count - 1).Max(c => Math.Abs(PerRequest(c, t) - PerRequest(0, t)))).Take(30))
        {
            var cells = Enumerable.Range(0, names.Count).Select(c => c == 0
                ? PerRequest(0, t).ToString("0", CultureInfo.InvariantCulture)
                : (PerRequest(c, t) - PerRequest(0, t)).ToString("+0;-0;0", CultureInfo.InvariantCulture));
            Console.WriteLine($"| {t} | {string.Join(" | ", cells)} |");
        }

        var totals = Enumerable.Range(0, names.Count).Select(c => samples[c].Values.Sum() / (double)requests[c]).ToArray();
        Console.WriteLine("| (all sampled) | " + string.Join(" | ", totals.Select((v, c) => c == 0 ? v.ToString("0", CultureInfo.InvariantCulture) : (v - totals[0]).ToString("+0;-0;0", CultureInfo.InvariantCulture))) + " |");
    }
}
