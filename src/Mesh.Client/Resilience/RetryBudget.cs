namespace Mesh.Client.Resilience;

/// <summary>
/// A retry budget, as Finagle's <c>RetryBudget</c> and Linkerd's: every request deposits, every retry (or hedge)
/// withdraws, and deposits expire after a time to live, so over any <c>ttl</c> window retries are at most
/// <c>percent × requests + minRetriesPerSecond × ttl</c>. Retries therefore cannot multiply an outage: when every
/// endpoint fails, the backends see at most about <c>(1 + percent) × requests</c> plus the small reserve.
/// </summary>
/// <remarks>
/// <para>
/// Finagle's leaky token bucket, lock-free: the window is cut into 10 slices, each one 64-bit word holding the slice's
/// epoch and its net balance, updated by compare-and-swap. The reserve (<c>minRetriesPerSecond × ttl</c> retries) is
/// always counted in; withdrawals, like deposits, fall out of the window after <c>ttl</c>, so the reserve refills.
/// </para>
/// <para>
/// Two retries racing for the last token may both get it: the check and the withdrawal are separate steps, so
/// the budget can be overdrawn by at most the number of threads retrying at that instant. That is the price of no lock.
/// </para>
/// </remarks>
internal sealed class RetryBudget
{
    private const int Slices = 10;
    private const int EpochBits = 20;
    private const int ValueBits = 64 - EpochBits;
    private const long ValueMask = (1L << ValueBits) - 1;
    private const long ValueLimit = (1L << (ValueBits - 1)) - 1;
    private const long EpochMask = (1L << EpochBits) - 1;

    // Integer units: a withdrawal costs 10,000; a deposit is worth percent × 100 (20 % → 2,000, so five requests pay one retry).
    private const long WithdrawalAmount = 10_000;

    private readonly long[] _slices = new long[Slices];
    private readonly TimeProvider _timeProvider;
    private readonly long _sliceTicks;
    private readonly long _depositAmount;
    private readonly long _reserve;

    /// <summary>Creates a budget.</summary>
    /// <param name="percentCanRetry">Retries allowed per 100 requests (Finagle, Linkerd: 20).</param>
    /// <param name="minRetriesPerSecond">Retries allowed per second whatever the request rate (Finagle, Linkerd: 10).</param>
    /// <param name="ttl">How long deposits and withdrawals count (Finagle, Linkerd: 10 s), at least one second.</param>
    /// <param name="timeProvider">The clock.</param>
    public RetryBudget(double percentCanRetry, int minRetriesPerSecond, TimeSpan ttl, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(percentCanRetry);
        ArgumentOutOfRangeException.ThrowIfNegative(minRetriesPerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, TimeSpan.FromSeconds(1));
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
        _sliceTicks = ttl.Ticks / Slices;
        _depositAmount = (long)Math.Round(percentCanRetry * 100);
        _reserve = (long)Math.Round(minRetriesPerSecond * ttl.TotalSeconds) * WithdrawalAmount;
        Ttl = ttl;
    }

    /// <summary>How long a deposit counts.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>Records one request (call once per request, not per attempt).</summary>
    public void Deposit()
    {
        if (_depositAmount != 0)
        {
            Add(_depositAmount);
        }
    }

    /// <summary>Takes one retry from the budget; returns false, taking nothing, when the budget is spent.</summary>
    public bool TryWithdraw()
    {
        if (Balance < WithdrawalAmount)
        {
            return false;
        }

        Add(-WithdrawalAmount);
        return true;
    }

    /// <summary>Retries the budget would allow now (rounded down).</summary>
    public long Available => Math.Max(0, Balance / WithdrawalAmount);

    private long Balance
    {
        get
        {
            long epoch = CurrentEpoch();
            long sum = _reserve;
            for (long e = epoch - Slices + 1; e <= epoch; e++)
            {
                if (e < 0)
                {
                    continue;
                }

                long word = Volatile.Read(ref _slices[(int)(e % Slices)]);
                if (((ulong)word >> ValueBits) == (ulong)(e & EpochMask))
                {
                    sum += Decode(word);
                }
            }

            return sum;
        }
    }

    private void Add(long amount)
    {
        long epoch = CurrentEpoch();
        ref long slot = ref _slices[(int)(epoch % Slices)];
        long tag = epoch & EpochMask;
        while (true)
        {
            long word = Volatile.Read(ref slot);
            long value = ((ulong)word >> ValueBits) == (ulong)tag ? Decode(word) : 0;
            long next = (tag << ValueBits) | (Math.Clamp(value + amount, -ValueLimit, ValueLimit) & ValueMask);
            if (Interlocked.CompareExchange(ref slot, next, word) == word)
            {
                return;
            }
        }
    }

    /// <summary>The slice's net balance: the low bits, two's complement, sign-extended (a zero word is an empty slice).</summary>
    private static long Decode(long word) => (word << EpochBits) >> EpochBits;

    private long CurrentEpoch() => _timeProvider.GetElapsedTime(0, _timeProvider.GetTimestamp()).Ticks / _sliceTicks;
}
