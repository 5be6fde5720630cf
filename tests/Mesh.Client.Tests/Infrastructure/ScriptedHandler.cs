using System.Net;
using System.Net.Sockets;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>What a <see cref="ScriptedHandler"/> does with one attempt to an endpoint.</summary>
public abstract record Reply
{
    /// <summary>Answers at once with <paramref name="status"/>; <paramref name="retryAfter"/> sets a Retry-After delta.</summary>
    public static Reply Status(int status, TimeSpan? retryAfter = null) => new StatusReply((HttpStatusCode)status, retryAfter);

    /// <summary>Answers 200 at once.</summary>
    public static Reply Ok { get; } = Status(200);

    /// <summary>Fails as SocketsHttpHandler does when the connection is refused.</summary>
    public static Reply ConnectFailure { get; } = new ThrowReply(() =>
        new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (scripted)", new SocketException((int)SocketError.ConnectionRefused)));

    /// <summary>Holds the attempt until the test completes <see cref="ScriptedAttempt.Respond"/> (or its token is cancelled).</summary>
    public static Reply Pending { get; } = new PendingReply();

    /// <summary>Runs <paramref name="before"/> (say, advancing the fake clock), then answers with <paramref name="status"/>.</summary>
    public static Reply After(Action before, int status = 200) => new ActionReply(before, (HttpStatusCode)status);

    internal sealed record StatusReply(HttpStatusCode Code, TimeSpan? RetryAfter) : Reply;

    internal sealed record ThrowReply(Func<Exception> Create) : Reply;

    internal sealed record PendingReply : Reply;

    internal sealed record ActionReply(Action Before, HttpStatusCode Code) : Reply;
}

/// <summary>One attempt the handler received: where it went, how, with what body, and how it ended for the sender.</summary>
public sealed class ScriptedAttempt
{
    private readonly TaskCompletionSource<HttpResponseMessage> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _cancelled;

    internal ScriptedAttempt(int index, HttpRequestMessage request, string? body, CancellationToken token)
    {
        Index = index;
        Request = request;
        Uri = request.RequestUri!;
        Method = request.Method;
        Body = body;
        ContentType = request.Content?.Headers.ContentType?.ToString();
        Token = token;
    }

    /// <summary>0 for the first attempt the handler saw.</summary>
    public int Index { get; }

    public HttpRequestMessage Request { get; }

    /// <summary>The URI as sent: the endpoint's scheme, host and port.</summary>
    public Uri Uri { get; }

    public string Authority => Uri.Authority;

    public HttpMethod Method { get; }

    /// <summary>The request body as text, read when the attempt arrived; null without content.</summary>
    public string? Body { get; }

    public string? ContentType { get; }

    /// <summary>The token the attempt was sent with.</summary>
    public CancellationToken Token { get; }

    /// <summary>Whether the attempt's token was cancelled while the handler held it (a pending reply).</summary>
    public bool WasCancelled => Volatile.Read(ref _cancelled) == 1;

    internal Task<HttpResponseMessage> Completion => _completion.Task;

    /// <summary>Completes a pending attempt with <paramref name="status"/>.</summary>
    public void Respond(int status) => _completion.TrySetResult(new HttpResponseMessage((HttpStatusCode)status) { RequestMessage = Request });

    /// <summary>Completes a pending attempt with an exception.</summary>
    public void Fail(Exception exception) => _completion.TrySetException(exception);

    internal void MarkCancelled() => Volatile.Write(ref _cancelled, 1);
}

/// <summary>
/// An in-memory primary handler for a mesh client: answers each attempt by the endpoint authority it was sent to, from a
/// queue of scripted replies (then a default), and records every attempt. Nothing goes to the network.
/// </summary>
public sealed class ScriptedHandler : HttpMessageHandler
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Queue<Reply>> _queued = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Reply> _defaults = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ScriptedAttempt> _attempts = [];
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What every endpoint without a script of its own answers. Default: 200.</summary>
    public Reply Default { get; set; } = Reply.Ok;

    /// <summary>Every attempt so far, in arrival order.</summary>
    public IReadOnlyList<ScriptedAttempt> Attempts
    {
        get
        {
            lock (_lock)
            {
                return _attempts.ToArray();
            }
        }
    }

    /// <summary>Every attempt to <paramref name="authority"/> answers <paramref name="reply"/> once its queue is empty.</summary>
    public void Always(string authority, Reply reply)
    {
        lock (_lock)
        {
            _defaults[Authority(authority)] = reply;
        }
    }

    /// <summary>The next attempts to <paramref name="authority"/> answer these, in order.</summary>
    public void Then(string authority, params Reply[] replies)
    {
        lock (_lock)
        {
            var key = Authority(authority);
            if (!_queued.TryGetValue(key, out var queue))
            {
                _queued[key] = queue = new Queue<Reply>();
            }

            foreach (var reply in replies)
            {
                queue.Enqueue(reply);
            }
        }
    }

    /// <summary>Forgets the attempts recorded so far (scripts stay).</summary>
    public void ClearAttempts()
    {
        lock (_lock)
        {
            _attempts.Clear();
        }
    }

    /// <summary>Waits (at most 10 s of wall clock) until at least <paramref name="count"/> attempts arrived; returns the one numbered <paramref name="count"/>.</summary>
    public async Task<ScriptedAttempt> WaitForAttemptAsync(int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            Task arrived;
            lock (_lock)
            {
                if (_attempts.Count >= count)
                {
                    return _attempts[count - 1];
                }

                arrived = _arrived.Task;
            }

            try
            {
                await arrived.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Waited 10 s for attempt {count}; {Attempts.Count} arrived.");
            }
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string? body = request.Content is null ? null : await request.Content.ReadAsStringAsync(CancellationToken.None);
        ScriptedAttempt attempt;
        Reply reply;
        TaskCompletionSource arrived;
        lock (_lock)
        {
            attempt = new ScriptedAttempt(_attempts.Count, request, body, cancellationToken);
            _attempts.Add(attempt);
            var key = request.RequestUri!.Authority;
            reply = _queued.TryGetValue(key, out var queue) && queue.Count > 0 ? queue.Dequeue()
                : _defaults.TryGetValue(key, out var always) ? always : Default;
            arrived = _arrived;
            _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        arrived.TrySetResult();
        switch (reply)
        {
            case Reply.StatusReply status:
                var response = new HttpResponseMessage(status.Code) { RequestMessage = request };
                if (status.RetryAfter is { } delta)
                {
                    response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(delta);
                }

                return response;
            case Reply.ThrowReply thrown:
                throw thrown.Create();
            case Reply.ActionReply action:
                action.Before();
                return new HttpResponseMessage(action.Code) { RequestMessage = request };
            default:
                try
                {
                    return await attempt.Completion.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    attempt.MarkCancelled();
                    throw;
                }
        }
    }

    private static string Authority(string endpoint) =>
        endpoint.Contains("://", StringComparison.Ordinal) ? new Uri(endpoint).Authority : endpoint;

    protected override void Dispose(bool disposing)
    {
        // Shared by every handler chain the factory builds for the test's client: rotating one must not end the script
        // (the base releases nothing).
        base.Dispose(disposing);
    }
}
