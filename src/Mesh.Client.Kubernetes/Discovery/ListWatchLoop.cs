using System.Net;
using System.Security.Authentication;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using Mesh.Client.Kubernetes.Api;

namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>
/// The list-then-watch loop of the EndpointSlice and HTTPRoute watches: list, then watch from the list's
/// resourceVersion with bookmarks, resuming from the last version applied after a cut, a close or an idle spell, listing
/// again after a 410 Gone or a malformed event, and backing off after failures. The two differ in what they list, what
/// an event does, and what they log; the rules of when to list, watch and wait are this class's alone.
/// </summary>
/// <remarks>
/// The resourceVersion to resume from is that of the last event applied or bookmark read, so a watch that is cut, ends
/// or is abandoned resumes where it stopped: nothing replayed, no 410. A watch that sends nothing, not even a bookmark,
/// for <see cref="KubernetesResolverOptions.WatchIdleTimeout"/> is abandoned (a silently dead connection). A relist
/// waits a random delay first, so clients whose watches an API server restart expired do not all list at once. Any
/// other failure is reported (<see cref="Fail"/>) and retried after a jittered delay that doubles per consecutive
/// failure and resets once a watch delivers; the attempt after a reported failure lists again, so the recovery is
/// published (and clears the error) at once.
/// </remarks>
internal abstract class ListWatchLoop(KubernetesApi api, KubernetesResolverOptions options, TimeProvider timeProvider)
{
    private bool _relistAfterFailure;

    protected KubernetesApi Api { get; } = api;

    protected KubernetesResolverOptions Options { get; } = options;

    protected TimeProvider TimeProvider { get; } = timeProvider;

    /// <summary>The last version applied or bookmarked, to watch from; null: list first. Owned by the loop.</summary>
    protected string? ResourceVersion { get; set; }

    /// <summary>The same, kept across relists: a relist asks for data not older than it. Owned by the loop.</summary>
    protected string? LastSeenVersion { get; set; }

    /// <summary>A list was refused 410: read the next one from etcd. Owned by the loop.</summary>
    protected bool ConsistentList { get; set; }

    /// <summary>
    /// The first list may come from the watch cache (<c>resourceVersion=0</c>); a relist asks for data not older than
    /// what was seen (also from the cache); after a 410 on a list, a consistent read. The watch catches up either way.
    /// </summary>
    protected (string? Version, string? Match) ListVersion()
    {
        string? version = ConsistentList ? null : LastSeenVersion ?? "0";
        return (version, version is null or "0" ? null : "NotOlderThan");
    }

    /// <summary>A list was applied at <paramref name="resourceVersion"/>: watch from there.</summary>
    protected void Listed(string resourceVersion)
    {
        ResourceVersion = LastSeenVersion = resourceVersion;
        ConsistentList = false;
    }

    /// <summary>Lists, applies and publishes the objects, then calls <see cref="Listed"/>.</summary>
    protected abstract Task ListAsync(CancellationToken cancellationToken);

    /// <summary>Opens one watch and applies its events (see <see cref="WatchEventsAsync{T}"/>).</summary>
    protected abstract Task<WatchOutcome> WatchAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A failure that is an answer rather than an error (a Service that does not exist, a CRD not installed): publish it
    /// and return true, with the delay before trying again (null: the usual backoff, counted as a failure).
    /// </summary>
    protected virtual bool TryAnswer(Exception error, out TimeSpan? delay)
    {
        delay = null;
        return false;
    }

    /// <summary>Reports a failure to the subscribers (the last good view stays).</summary>
    protected abstract void Fail(Exception error);

    protected virtual void LogGone()
    {
    }

    protected virtual void LogIdle()
    {
    }

    protected virtual void LogCut(string error)
    {
    }

    protected abstract void LogMalformed(string reason);

    protected async Task RunAsync(CancellationToken cancellationToken)
    {
        int failures = 0;
        int relists = 0;
        bool jitter = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            bool listing = false;
            TimeSpan? delay = null;
            try
            {
                if (ResourceVersion is null || _relistAfterFailure)
                {
                    if (jitter)
                    {
                        // Relists that keep coming grow like failures.
                        jitter = false;
                        await Task.Delay(RelistDelay(++relists), TimeProvider, cancellationToken).ConfigureAwait(false);
                    }

                    listing = true;
                    await ListAsync(cancellationToken).ConfigureAwait(false);
                    listing = false;
                    _relistAfterFailure = false;
                }

                var outcome = await WatchAsync(cancellationToken).ConfigureAwait(false);
                if (outcome.Delivered)
                {
                    relists = 0;
                }

                if (outcome.Relist)
                {
                    ResourceVersion = null;
                    jitter = true;
                    continue;
                }

                // Closed by the server, abandoned idle, or cut: resume from the last version applied. The delay resets once
                // a watch delivered; a watch cut before it delivered anything counts as a failure (without reporting one).
                failures = outcome.Delivered || !outcome.Cut ? 0 : failures + 1;
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return; // stopped: whatever the stop broke (a disposed client, a cancelled read) is not a failure to report
            }
            catch (KubernetesApiException ex) when (ex.IsGone)
            {
                LogGone();
                ConsistentList |= listing; // the list itself was refused: its continue token or version expired
                ResourceVersion = null;
                jitter = true;
                continue;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (TryAnswer(ex, out delay))
                {
                    failures += delay is null ? 1 : 0;
                }
                else
                {
                    if (ex is KubernetesApiException { StatusCode: HttpStatusCode.Unauthorized })
                    {
                        Api.CredentialsRejected(); // an exec plugin runs again for the next attempt
                    }

                    Fail(ex);
                    failures++;
                    _relistAfterFailure = true;
                }
            }

            delay ??= ReconnectBackoff.Delay(Math.Max(0, failures - 1), Options.ReconnectDelay, Options.MaxReconnectDelay, Random.Shared.NextDouble());
            try
            {
                await Task.Delay(delay.Value, TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Before relist number <paramref name="relists"/> in a row: random in [0, ReconnectDelay], then growing as failures do.</summary>
    private TimeSpan RelistDelay(int relists) => relists <= 1
        ? TimeSpan.FromTicks((long)(Options.ReconnectDelay.Ticks * Random.Shared.NextDouble()))
        : ReconnectBackoff.Delay(relists - 2, Options.ReconnectDelay, Options.MaxReconnectDelay, Random.Shared.NextDouble());

    /// <summary>
    /// Runs one watch opened by <paramref name="open"/> (given its server-side timeout, the stream-error callback and a
    /// token), handing each event to <paramref name="apply"/>, which returns why an event is malformed (then the objects
    /// are listed again) or null, and moves <see cref="ResourceVersion"/> on.
    /// </summary>
    protected async Task<WatchOutcome> WatchEventsAsync<T>(string operation,
        Func<int, Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType Type, T Object)>> open,
        Func<WatchEventType, T, CancellationToken, ValueTask<string?>> apply, CancellationToken cancellationToken)
    {
        // Each watch asks the server for a random length in [timeout, 2 × timeout] (client-go's spread), and is abandoned
        // when it sends nothing, not even a bookmark, for the idle timeout: a connection that silently died is noticed.
        int timeoutSeconds = (int)(Options.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
        using var idle = new CancellationTokenSource(Options.WatchIdleTimeout, TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token);
        Exception? streamError = null;
        bool delivered = false;
        void OnStreamError(Exception error)
        {
            // KubernetesClient reports an ERROR event or an undecodable line here and reads on: stop it, and decide below.
            streamError ??= error;
            linked.Cancel();
        }

        try
        {
            await foreach (var (type, item) in open(timeoutSeconds, OnStreamError, linked.Token).ConfigureAwait(false))
            {
                idle.CancelAfter(Options.WatchIdleTimeout);
                delivered = true;
                if (await apply(type, item, linked.Token).ConfigureAwait(false) is { } malformed)
                {
                    LogMalformed(malformed);
                    return new WatchOutcome(delivered, Relist: true);
                }
            }
        }
        catch (OperationCanceledException) when (streamError is not null && !cancellationToken.IsCancellationRequested)
        {
            // handled below
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            LogIdle();
            return new WatchOutcome(delivered, Relist: false);
        }
        catch (HttpOperationException ex)
        {
            throw KubernetesApiException.From(operation, ex);
        }
        catch (JsonException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // KubernetesClient also decodes a watch's first line as the list type when it opens it: an undecodable first
            // line throws here rather than reaching onError. List again, so whatever it said is not lost.
            LogMalformed($"{ex.GetType().Name} at byte {ex.BytePositionInLine}");
            return new WatchOutcome(delivered, Relist: true);
        }
        catch (HttpRequestException ex) when (!delivered && ex.InnerException is EndOfStreamException && !cancellationToken.IsCancellationRequested)
        {
            // KubernetesClient waits for a watch's first line: a watch the server closed before sending any is a clean end.
            return new WatchOutcome(delivered, Relist: false);
        }
        catch (Exception ex) when (IsCut(ex) && !cancellationToken.IsCancellationRequested)
        {
            // The stream broke (a proxy's idle cut, a reset, a stream ending mid-event): resume from the last version applied.
            LogCut(ex.Message);
            return new WatchOutcome(delivered, Relist: false, Cut: true);
        }

        switch (streamError)
        {
            case null:
                return new WatchOutcome(delivered, Relist: false); // the server ended the watch (its timeout)
            case KubernetesException { Status: var status }:
                var error = KubernetesApiException.From(operation, status);
                if (error.IsGone)
                {
                    LogGone();
                    return new WatchOutcome(delivered, Relist: true);
                }

                throw error;
            default:
                // An undecodable line (KubernetesClient skips it): list again, so whatever it said is not lost.
                LogMalformed(streamError is JsonException json ? $"{json.GetType().Name} at byte {json.BytePositionInLine}" : streamError.GetType().Name);
                return new WatchOutcome(delivered, Relist: true);
        }
    }

    /// <summary>
    /// Whether a watch failed because its stream broke after it was accepted (an I/O error reading the body, which
    /// KubernetesClient wraps when it happens before the first line), rather than being refused: not reachable, TLS, a status.
    /// </summary>
    private static bool IsCut(Exception error) => error is IOException
        || (error is HttpRequestException { InnerException: IOException } and not KubernetesApiException);

    /// <summary>A failure's kind, for logs: a new kind is logged, the same one again is not.</summary>
    protected static string Classify(Exception error, string resource) => error switch
    {
        KubernetesApiException { StatusCode: HttpStatusCode.Unauthorized } => "401 Unauthorized: the token is not accepted",
        KubernetesApiException { StatusCode: HttpStatusCode.Forbidden } => $"403 Forbidden: check the Role granting get, list and watch on {resource}",
        KubernetesApiException api => $"API error {(int?)api.StatusCode}",
        HttpRequestException { InnerException: AuthenticationException } => "TLS handshake failed",
        HttpRequestException or IOException or TimeoutException => "API server unreachable",
        JsonException => "malformed response",
        _ => error.GetType().Name,
    };

    protected readonly record struct WatchOutcome(bool Delivered, bool Relist, bool Cut = false);
}
