namespace Mesh.Client;

/// <summary>
/// Successes and failures of one endpoint over a sliding window of <see cref="Buckets"/> time buckets: the success
/// rate rule of passive accounting. Lock-free: each bucket is one 64-bit word (bucket epoch, successes, failures)
/// updated by compare-and-swap, so recording an outcome costs one CAS on the endpoint's own memory.
/// </summary>
internal sealed class OutcomeWindow
{
    /// <summary>The number of buckets the window is cut into; the window slides one bucket at a time.</summary>
    public const int Buckets = 6;

    private const int CountBits = 21;
    private const long CountMask = (1L << CountBits) - 1;
    private const long EpochMask = (1L << (64 - (2 * CountBits))) - 1;

    private readonly long[] _slots = new long[Buckets];

    /// <summary>Records one outcome in bucket <paramref name="epoch"/> (time divided by the bucket length).</summary>
    public void Record(bool success, long epoch)
    {
        ref long slot = ref _slots[(int)(epoch % Buckets)];
        long tag = epoch & EpochMask;
        while (true)
        {
            long current = Volatile.Read(ref slot);
            long successes = 0, failures = 0;
            if (((ulong)current >> (2 * CountBits)) == (ulong)tag)
            {
                successes = (current >> CountBits) & CountMask;
                failures = current & CountMask;
            }

            if (success)
            {
                successes = Math.Min(successes + 1, CountMask);
            }
            else
            {
                failures = Math.Min(failures + 1, CountMask);
            }

            long next = (tag << (2 * CountBits)) | (successes << CountBits) | failures;
            if (Interlocked.CompareExchange(ref slot, next, current) == current)
            {
                return;
            }
        }
    }

    /// <summary>The outcomes of the window ending with bucket <paramref name="epoch"/>.</summary>
    public (long Successes, long Failures) Sum(long epoch)
    {
        long successes = 0, failures = 0;
        for (long e = epoch - Buckets + 1; e <= epoch; e++)
        {
            if (e < 0)
            {
                continue;
            }

            long value = Volatile.Read(ref _slots[(int)(e % Buckets)]);
            if (((ulong)value >> (2 * CountBits)) == (ulong)(e & EpochMask))
            {
                successes += (value >> CountBits) & CountMask;
                failures += value & CountMask;
            }
        }

        return (successes, failures);
    }

    /// <summary>Forgets every outcome (after an ejection or a re-admission, so old failures do not eject again).</summary>
    public void Reset()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            // An all-ones tag never matches a real epoch bucket.
            Volatile.Write(ref _slots[i], -1L);
        }
    }
}
