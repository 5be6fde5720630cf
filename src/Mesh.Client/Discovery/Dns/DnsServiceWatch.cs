using System.Security.Cryptography;
using Mesh.Client.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Discovery.Dns;

/// <summary>
/// Polls one service's DNS records for every client that uses the service (one lookup per refresh, however many
/// clients): publishes the complete endpoint list to each subscriber on success, and on failure reports the error, keeps
/// the last good list and retries with <see cref="ResolverBackoff"/>. Stops when the last subscriber leaves.
/// </summary>
/// <remarks>
/// At most one lookup runs at a time. Subscribers are notified under the watch's lock, in order, so a slow lookup that
/// finishes late can never overwrite a newer one. A new subscriber receives the last result at once.
/// </remarks>
internal sealed partial class DnsServiceWatch : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<IEndpointObserver> _observers = [];
    private readonly string _serviceName;
    private readonly DnsEndpointLookup _lookup;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeSpan _minRefreshInterval;
    private readonly TimeSpan _minRetryDelay;
    private readonly TimeSpan _maxRetryDelay;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ITimer _timer;
    private IReadOnlyList<EndpointAddress>? _lastGood;
    private Exception? _lastError;
    private int _failures;
    private bool _refreshing;
    private bool _stopped;
    private long _lastRefreshStart = long.MinValue;
    private long _nextRefreshDue = long.MaxValue;
    private long _refreshes;

    public DnsServiceWatch(string serviceName, DnsEndpointLookup lookup, TimeSpan refreshInterval, DnsResolverOptions options,
        TimeProvider timeProvider, ILogger logger)
    {
        _serviceName = serviceName;
        _lookup = lookup;
        _refreshInterval = refreshInterval;
        _minRefreshInterval = options.MinRefreshInterval;
        _minRetryDelay = options.MinRetryDelay;
        _maxRetryDelay = options.MaxRetryDelay;
        _timeProvider = timeProvider;
        _logger = logger;
        _timer = timeProvider.CreateTimer(static s => ((DnsServiceWatch)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>What this watch looks up, for messages.</summary>
    public string Description => _lookup.Description;

    /// <summary>Lookups started so far (diagnostics and tests).</summary>
    public long Refreshes => Interlocked.Read(ref _refreshes);

    /// <summary>Consecutive failed lookups (0 after a success).</summary>
    public int Failures
    {
        get
        {
            lock (_lock)
            {
                return _failures;
            }
        }
    }

    /// <summary>How long until the next scheduled lookup; null while a lookup runs or none is scheduled.</summary>
    public TimeSpan? NextRefreshIn
    {
        get
        {
            lock (_lock)
            {
                return _nextRefreshDue == long.MaxValue ? null : _timeProvider.GetElapsedTime(_timeProvider.GetTimestamp(), _nextRefreshDue);
            }
        }
    }

    /// <summary>Adds a subscriber; starts polling for the first one. Called under the resolver's lock.</summary>
    public Subscription Subscribe(IEndpointObserver observer)
    {
        lock (_lock)
        {
            _observers.Add(observer);
            if (_lastGood is not null)
            {
                Notify(observer, _lastGood, null);
            }
            else if (_lastError is not null)
            {
                Notify(observer, null, _lastError);
            }

            if (_observers.Count == 1 && !_refreshing && _refreshes == 0)
            {
                StartRefreshLocked();
            }
        }

        return new Subscription(this, observer);
    }

    /// <summary>Removes a subscriber; returns how many remain. Called under the resolver's lock.</summary>
    public int Unsubscribe(IEndpointObserver observer)
    {
        lock (_lock)
        {
            _observers.Remove(observer);
            return _observers.Count;
        }
    }

    /// <summary>Stops polling and cancels a running lookup. Called under the resolver's lock when the last subscriber left.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            _nextRefreshDue = long.MaxValue;
        }

        _timer.Dispose();
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <inheritdoc cref="Stop" />
    public void Dispose() => Stop();

    /// <summary>
    /// An early lookup, because an endpoint failed to connect. Ignored while a lookup runs, while failures are being
    /// retried on their own schedule, and within <see cref="DnsResolverOptions.MinRefreshInterval"/> of the last start.
    /// The checks before the lock make a storm of failures cost a few reads each.
    /// </summary>
    public void RequestRefresh()
    {
        if (Volatile.Read(ref _refreshing) || !MinIntervalPassed())
        {
            return;
        }

        lock (_lock)
        {
            if (_stopped || _refreshing || _failures > 0 || !MinIntervalPassed())
            {
                return;
            }

            Log.EarlyRefresh(_logger, _serviceName, _lookup.Description);
            StartRefreshLocked();
        }
    }

    private bool MinIntervalPassed()
    {
        long last = Volatile.Read(ref _lastRefreshStart);
        return last == long.MinValue || _timeProvider.GetElapsedTime(last) >= _minRefreshInterval;
    }

    private void OnTimer()
    {
        lock (_lock)
        {
            if (!_stopped && !_refreshing)
            {
                StartRefreshLocked();
            }
        }
    }

    private void StartRefreshLocked()
    {
        Volatile.Write(ref _refreshing, true);
        Volatile.Write(ref _lastRefreshStart, _timeProvider.GetTimestamp());
        _nextRefreshDue = long.MaxValue;
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Interlocked.Increment(ref _refreshes);
        var token = _stopping.Token;
        _ = Task.Run(() => RefreshAsync(token), CancellationToken.None);
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        List<EndpointAddress>? endpoints = null;
        Exception? error = null;
        try
        {
            endpoints = await _lookup.ResolveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // stopped
        }
        catch (Exception ex)
        {
            error = ex;
        }

        TimeSpan next;
        lock (_lock)
        {
            Volatile.Write(ref _refreshing, false);
            if (_stopped)
            {
                return;
            }

            if (endpoints is not null)
            {
                _failures = 0;
                _lastGood = endpoints;
                _lastError = null;
                next = _refreshInterval;
            }
            else
            {
                _failures++;
                next = ResolverBackoff.Delay(_failures, _minRetryDelay, _maxRetryDelay, RandomNumberGenerator.GetInt32(int.MaxValue) / (double)int.MaxValue);
                _lastError = new MeshException(_serviceName,
                    $"DNS lookup of {_lookup.Description} for service '{_serviceName}' failed ({_failures} in a row; next try in {next.TotalSeconds:0.0} s): {error!.Message}",
                    error);
            }

            foreach (var observer in _observers)
            {
                Notify(observer, endpoints, _lastError);
            }

            _nextRefreshDue = _timeProvider.GetTimestamp() + (long)Math.Round(next.Ticks * (double)_timeProvider.TimestampFrequency / TimeSpan.TicksPerSecond);
            _timer.Change(next, Timeout.InfiniteTimeSpan);
        }

        if (endpoints is not null)
        {
            Log.Resolved(_logger, _serviceName, _lookup.Description, endpoints.Count);
        }
        else
        {
            Log.Failed(_logger, _serviceName, _lookup.Description, next, error!);
        }
    }

    private void Notify(IEndpointObserver observer, IReadOnlyList<EndpointAddress>? endpoints, Exception? error)
    {
        try
        {
            if (endpoints is not null)
            {
                observer.OnEndpoints(endpoints);
            }
            else
            {
                observer.OnError(error!);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // One broken subscriber must not stop the others, nor the polling.
            Log.ObserverFailed(_logger, _serviceName, ex);
        }
    }

    /// <summary>One subscriber's handle: disposing it unsubscribes; it forwards early-refresh requests.</summary>
    internal sealed class Subscription(DnsServiceWatch watch, IEndpointObserver observer) : IDisposable, IRefreshableWatch
    {
        private int _disposed;

        /// <summary>Called with the watch and observer when the subscription is disposed.</summary>
        public Action<DnsServiceWatch, IEndpointObserver>? OnDispose { get; set; }

        public DnsServiceWatch Watch => watch;

        public void RequestRefresh() => watch.RequestRefresh();

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                OnDispose?.Invoke(watch, observer);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = MeshEventIds.DnsResolved, Level = LogLevel.Debug, Message = "DNS: service '{Service}' resolved ({Lookup}): {Count} endpoints.")]
        public static partial void Resolved(ILogger logger, string service, string lookup, int count);

        [LoggerMessage(EventId = MeshEventIds.DnsLookupFailed, Level = LogLevel.Debug, Message = "DNS: service '{Service}' lookup ({Lookup}) failed; retrying in {Delay}.")]
        public static partial void Failed(ILogger logger, string service, string lookup, TimeSpan delay, Exception exception);

        [LoggerMessage(EventId = MeshEventIds.DnsEarlyRefresh, Level = LogLevel.Debug, Message = "DNS: service '{Service}' refreshes early ({Lookup}) because an endpoint failed to connect.")]
        public static partial void EarlyRefresh(ILogger logger, string service, string lookup);

        [LoggerMessage(EventId = MeshEventIds.DnsObserverFailed, Level = LogLevel.Error, Message = "DNS: a subscriber of service '{Service}' threw while taking an update.")]
        public static partial void ObserverFailed(ILogger logger, string service, Exception exception);
    }
}
