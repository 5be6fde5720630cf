using System.Runtime.InteropServices;
using System.Diagnostics.CodeAnalysis;

namespace Mesh.Client.Resilience;

/// <summary>
/// One request's way through its service's resilience pipeline: the request, where it may go, where it went, and what
/// the next attempt is to do. Shared by every attempt of the request (retries one after another, hedges at once), so
/// the few members hedges race on are guarded by a lock held for a pick, never across a send.
/// </summary>
internal sealed class RequestAttempts
{
    private readonly Lock _lock = new();
    private readonly List<MeshEndpoint> _tried = new(4);
    private List<HttpRequestMessage>? _clones;
    private MeshEndpoint? _planned;
    private AttemptRecord? _pending;
    private int _attempts;

    public RequestAttempts(IAttemptHost host, HttpRequestMessage request, Uri logicalUri, ulong? hash,
        Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> send, CancellationToken callerToken)
    {
        Host = host;
        Request = request;
        LogicalUri = logicalUri;
        Hash = hash;
        Send = send;
        CallerToken = callerToken;
        RequestToken = callerToken;
    }

    public IAttemptHost Host { get; }

    /// <summary>The caller's request: retries send it again; hedges send clones of it.</summary>
    public HttpRequestMessage Request { get; }

    /// <summary>The URI as the caller wrote it (<c>http://catalog/items</c>); each attempt rewrites its authority.</summary>
    public Uri LogicalUri { get; }

    /// <summary>The request's hash for hash-based balancers, the same for every attempt.</summary>
    public ulong? Hash { get; }

    /// <summary>The next handler in the client's pipeline.</summary>
    public Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Send { get; }

    /// <summary>The caller's own token: its cancellation never counts against an endpoint.</summary>
    public CancellationToken CallerToken { get; }

    /// <summary>The token inside the total timeout: cancelled when the caller cancels or the total timeout expires.</summary>
    public CancellationToken RequestToken { get; set; }

    /// <summary>Whether the request's content can be sent again (none, or buffered); retries and hedges need it.</summary>
    public bool Replayable { get; set; }

    /// <summary>Whether hedges may be launched: the method allows it and the content can be cloned.</summary>
    public bool CanHedge { get; set; }

    /// <summary>The buffered content's bytes, from which each hedge gets its own content.</summary>
    public ReadOnlyMemory<byte>? Body { get; set; }

    /// <summary>The delay before the planned retry: zero for another endpoint, Retry-After or a backoff for the same one.</summary>
    public TimeSpan RetryDelay { get; set; }

    /// <summary>Retries on an endpoint already tried, for the backoff's exponent.</summary>
    public int SameEndpointRetries { get; set; }

    /// <summary>The endpoint and outcome of the attempt that ended last.</summary>
    public MeshEndpoint? LastEndpoint { get; private set; }

    /// <inheritdoc cref="LastEndpoint"/>
    public AttemptOutcome LastOutcome { get; private set; }

    /// <summary>Attempts sent whose outcome is not known yet (hedges run at once).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Whether an attempt has ended with an outcome that is not a retryable failure: an answer that wins.</summary>
    public bool HasWinner => Volatile.Read(ref _winner) != 0;

    private int _inFlight;
    private int _winner;

    /// <summary>An attempt is being sent.</summary>
    public void OnSending() => Interlocked.Increment(ref _inFlight);

    /// <summary>
    /// An attempt's outcome is known; <paramref name="wins"/> when it is not a retryable failure. The winner is marked
    /// before the count drops, so whoever reads no attempt in flight also reads the winner.
    /// </summary>
    public void OnAnswered(bool wins)
    {
        if (wins)
        {
            Volatile.Write(ref _winner, 1);
        }

        Interlocked.Decrement(ref _inFlight);
    }

    /// <summary>Attempts started so far.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>Numbers an attempt as it starts: 1 for the first.</summary>
    public int NextAttemptNumber() => Interlocked.Increment(ref _attempts);

    /// <summary>Records an attempt's end.</summary>
    public void RecordResult(MeshEndpoint endpoint, AttemptOutcome outcome)
    {
        lock (_lock)
        {
            LastEndpoint = endpoint;
            LastOutcome = outcome;
        }
    }

    /// <summary>
    /// Picks an endpoint this request has not tried and marks it tried; with <paramref name="allowRepeat"/>, falls back
    /// to any routable endpoint when every one was tried.
    /// </summary>
    public MeshEndpoint? PickNext(bool allowRepeat)
    {
        lock (_lock)
        {
            var endpoint = Host.Pick(Request, Hash, CollectionsMarshal.AsSpan(_tried));
            if (endpoint is null && allowRepeat)
            {
                endpoint = Host.Pick(Request, Hash, default);
            }

            if (endpoint is not null && !_tried.Contains(endpoint))
            {
                _tried.Add(endpoint);
            }

            return endpoint;
        }
    }

    /// <summary>Marks an endpoint tried without picking it (the first attempt, picked before the pipeline).</summary>
    public void MarkTried(MeshEndpoint endpoint)
    {
        lock (_lock)
        {
            if (!_tried.Contains(endpoint))
            {
                _tried.Add(endpoint);
            }
        }
    }

    /// <summary>The endpoint the next sequential attempt goes to (the first attempt's, or a retry's).</summary>
    public void Plan(MeshEndpoint endpoint) => Volatile.Write(ref _planned, endpoint);

    /// <summary>Takes the planned endpoint, if any.</summary>
    public MeshEndpoint? TakePlanned() => Interlocked.Exchange(ref _planned, null);

    /// <summary>
    /// The first attempt, already sent and accounted outside the pipeline: the pipeline's first attempt returns it
    /// rather than sending again, so the pipeline decides whether to retry it.
    /// </summary>
    public void SetPending(AttemptRecord first)
    {
        _pending = first;
        Interlocked.Increment(ref _attempts);
    }

    /// <summary>Takes the pending first attempt, if any.</summary>
    public bool TryTakePending([NotNullWhen(true)] out AttemptRecord? first)
    {
        first = _pending;
        _pending = null;
        return first is not null;
    }

    /// <summary>A copy of the request for a hedge: same method, version, headers and options; its own content.</summary>
    public HttpRequestMessage CloneForHedge()
    {
        var clone = new HttpRequestMessage(Request.Method, LogicalUri)
        {
            Version = Request.Version,
            VersionPolicy = Request.VersionPolicy,
        };

        foreach (var header in Request.Headers)
        {
            clone.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        if (Body is { } body && Request.Content is { } content)
        {
            clone.Content = new ReadOnlyMemoryContent(body);
            foreach (var header in content.Headers)
            {
                clone.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        IDictionary<string, object?> options = clone.Options;
        foreach (var option in Request.Options)
        {
            options[option.Key] = option.Value;
        }

        lock (_lock)
        {
            (_clones ??= []).Add(clone);
        }

        return clone;
    }

    /// <summary>Disposes the hedges' clones once every attempt has ended.</summary>
    public void DisposeClones()
    {
        List<HttpRequestMessage>? clones;
        lock (_lock)
        {
            clones = _clones;
            _clones = null;
        }

        foreach (var clone in clones ?? [])
        {
            clone.Dispose();
        }
    }
}

/// <summary>An attempt that has ended, as the pipeline returns it: where it went, how it ended, and what it produced.</summary>
internal sealed record AttemptRecord(MeshEndpoint Endpoint, AttemptOutcome Outcome, Polly.Outcome<HttpResponseMessage> Result);
