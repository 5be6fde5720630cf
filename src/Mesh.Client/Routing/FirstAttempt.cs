using System.Runtime.CompilerServices;
using Mesh.Client.Resilience;

namespace Mesh.Client.Routing;

/// <summary>
/// A request's first attempt, sent outside the pipeline (see <see cref="MeshHandler"/>): rewrite, lease, send bounded
/// by the attempt timeout, classify, account, restore. A success returns; anything else continues in the pipeline with
/// this attempt counted.
/// </summary>
/// <remarks>
/// <para>
/// A continuation on the inner handler's task instead of an async method: the method's state machine box (every
/// parameter and local hoisted, about 215 bytes) was the largest thing the mesh allocated per request. Here an attempt
/// that completes asynchronously costs one <see cref="Task{TResult}"/>, the one the caller awaits, and one that
/// completes synchronously returns the inner handler's own task. The state lives in an instance reused through
/// <see cref="ReusePool{T}"/>, as the attempt's token source is.
/// </para>
/// <para>
/// The continuation runs in the caller's <see cref="ExecutionContext"/> (captured, which copies nothing), as the rest
/// of an async method would, so telemetry recorded when the attempt ends sees the caller's <c>Activity</c>. The caller's
/// task is completed after that context is left, with the instance already back in the pool.
/// </para>
/// <para>
/// The uncommon endings stay async methods, allocating what they did: a small body read inside the attempt
/// (<see cref="AttemptAccounting.ShouldReadBody"/>) and a failure continuing in the pipeline.
/// </para>
/// </remarks>
internal sealed class FirstAttempt
{
    private static readonly ContextCallback RunOnSentInContext = static s => ((FirstAttempt)s!).OnSentInContext();

    private readonly Action _onSent;

    private MeshHandler? _handler;
    private TimeProvider? _timeProvider;
    private ServiceState? _state;
    private ServicePolicies? _policies;
    private IAttemptHost? _host;
    private HttpRequestMessage? _request;
    private Uri? _logicalUri;
    private MeshEndpoint? _endpoint;
    private ulong? _hash;
    private CancellationToken _cancellationToken;
    private bool _setHost;
    private CancellationTokenSource? _attemptCts;
    private CancellationTokenRegistration _callerLink;
    private EndpointLease _lease;
    private Task<HttpResponseMessage>? _sent;
    private ExecutionContext? _context;
    private AsyncTaskMethodBuilder<HttpResponseMessage> _builder;

    // What the continuation leaves for the caller's task, set inside the caller's context and read outside it.
    private HttpResponseMessage? _response;
    private Task<HttpResponseMessage>? _next;
    private Exception? _exception;

    private FirstAttempt() => _onSent = OnSent;

    /// <summary>Sends the first attempt of <paramref name="request"/> to <paramref name="endpoint"/>.</summary>
    public static Task<HttpResponseMessage> Send(MeshHandler handler, TimeProvider timeProvider, ServiceState state, ServicePolicies policies,
        IAttemptHost host, HttpRequestMessage request, Uri logicalUri, MeshEndpoint endpoint, ulong? hash, CancellationToken cancellationToken)
    {
        policies.RetryBudget.Deposit();
        bool setHost = MeshHandler.SetLogicalHost(policies.Options, request, logicalUri);
        var attempt = Rent();
        attempt._handler = handler;
        attempt._timeProvider = timeProvider;
        attempt._state = state;
        attempt._policies = policies;
        attempt._host = host;
        attempt._request = request;
        attempt._logicalUri = logicalUri;
        attempt._endpoint = endpoint;
        attempt._hash = hash;
        attempt._cancellationToken = cancellationToken;
        attempt._setHost = setHost;
        Task<HttpResponseMessage> sent;
        try
        {
            request.RequestUri = EndpointUri.Rewrite(logicalUri, endpoint);
            var token = cancellationToken;
            var timeout = policies.Options.Timeouts.Attempt;
            if (timeout != Timeout.InfiniteTimeSpan)
            {
                attempt._attemptCts = AttemptTimeoutSource.Rent(timeout, timeProvider);
                attempt._callerLink = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), attempt._attemptCts);
                token = attempt._attemptCts.Token;
            }

            host.OnAttemptStarting(endpoint, 1);
            attempt._lease = endpoint.Begin(timeProvider);
            try
            {
                sent = handler.SendInner(request, token);
            }
            catch (Exception ex)
            {
                sent = Task.FromException<HttpResponseMessage>(ex);
            }
        }
        catch (Exception ex)
        {
            // Before anything was leased or sent: undo and fail as an async method would, through the task.
            attempt._callerLink.Dispose();
            attempt._attemptCts?.Dispose();
            attempt.Restore();
            attempt.Return();
            return Faulted(ex);
        }

        if (sent.IsCompleted)
        {
            attempt.Finish(sent);
            var (response, next, exception) = attempt.TakeResult();
            return exception is not null ? Faulted(exception)
                : next ?? (sent.IsCompletedSuccessfully && ReferenceEquals(sent.Result, response) ? sent : Task.FromResult(response!));
        }

        attempt._sent = sent;
        attempt._context = ExecutionContext.Capture();
        attempt._builder = AsyncTaskMethodBuilder<HttpResponseMessage>.Create();
        var task = attempt._builder.Task; // read before the continuation can return the instance to the pool
        sent.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(attempt._onSent);
        return task;
    }

    /// <summary>A task failed with <paramref name="exception"/> as an async method's would be: cancelled for an <see cref="OperationCanceledException"/>.</summary>
    private static Task<HttpResponseMessage> Faulted(Exception exception)
    {
        var builder = AsyncTaskMethodBuilder<HttpResponseMessage>.Create();
        builder.SetException(exception);
        return builder.Task;
    }

    private void OnSent()
    {
        var builder = _builder;
        if (_context is { } context)
        {
            ExecutionContext.Run(context, RunOnSentInContext, this);
        }
        else
        {
            OnSentInContext();
        }

        var (response, next, exception) = TakeResult();
        if (exception is not null)
        {
            builder.SetException(exception);
        }
        else if (next is not null)
        {
            Forward(next, builder);
        }
        else
        {
            builder.SetResult(response!);
        }
    }

    private void OnSentInContext() => Finish(_sent!);

    /// <summary>Ends the attempt sent as <paramref name="sent"/> (completed), leaving the caller's result in the instance.</summary>
    private void Finish(Task<HttpResponseMessage> sent)
    {
        HttpResponseMessage? response = null;
        Exception? failure = null;
        try
        {
            response = sent.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        try
        {
            Finish(response, failure);
        }
        catch (Exception ex)
        {
            _response = null;
            _next = null;
            _exception = ex;
        }
    }

    private void Finish(HttpResponseMessage? response, Exception? failure)
    {
        var policies = _policies!;
        var statuses = policies.FailureStatuses;
        var endpoint = _endpoint!;
        var cancellationToken = _cancellationToken;
        var attemptCts = _attemptCts;
        bool timedOut = failure is OperationCanceledException && attemptCts is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested;
        _callerLink.Dispose();
        if (attemptCts is not null)
        {
            // The response body, if any, is bounded by the caller, not by the attempt timeout.
            AttemptTimeoutSource.Return(attemptCts, _timeProvider!, reusable: _request!.Content is null);
        }

        bool restored = false;
        try
        {
            AttemptOutcome outcome;
            bool penalise = false;
            if (timedOut)
            {
                outcome = AttemptOutcome.Timeout;
                failure = AttemptClassification.AttemptTimeout(_state!.ServiceName, endpoint, policies.Options.Timeouts.Attempt, failure!);
            }
            else
            {
                outcome = failure is null
                    ? statuses.Classify(response!, out penalise)
                    : AttemptClassification.OfException(failure, sent: true, cancellationToken, cancellationToken, attemptToken: default);
            }

            if (outcome == AttemptOutcome.Success && AttemptAccounting.ShouldReadBody(_request!, response!, policies.Options.Retry))
            {
                // A small body of a retryable request is read here, so a connection that breaks mid-body is retried;
                // that method restores the request when it ends.
                restored = true;
                _next = ReadBodyThenContinueAsync(_handler!, _state!, policies, _host!, _request!, _logicalUri!, endpoint, _hash, _lease, _setHost,
                    response!, penalise, cancellationToken);
                return;
            }

            AttemptAccounting.OnHeaders(_host!, statuses, _lease, response, outcome, penalise);
            restored = true;
            Restore();
            if (outcome == AttemptOutcome.Success && !statuses.IsRetryable((int)response!.StatusCode))
            {
                _response = response;
                return;
            }

            _next = _handler!.SendThroughPipelineAsync(_state!, policies, _host!, _request!, _logicalUri!, _hash, endpoint,
                Record(endpoint, outcome, response, failure), cancellationToken);
        }
        finally
        {
            if (!restored)
            {
                Restore();
            }
        }
    }

    private static async Task<HttpResponseMessage> ReadBodyThenContinueAsync(MeshHandler handler, ServiceState state, ServicePolicies policies,
        IAttemptHost host, HttpRequestMessage request, Uri logicalUri, MeshEndpoint endpoint, ulong? hash, EndpointLease lease, bool setHost,
        HttpResponseMessage response, bool penalise, CancellationToken cancellationToken)
    {
        var outcome = AttemptOutcome.Success;
        Exception? failure;
        HttpResponseMessage? read = response;
        try
        {
            failure = await AttemptAccounting.ReadBodyAsync(response, policies.Options.Retry.MaxBufferedResponseBytes, cancellationToken)
                .ConfigureAwait(false);
            if (failure is not null)
            {
                read = null;
                outcome = AttemptClassification.OfException(failure, sent: true, cancellationToken, cancellationToken, attemptToken: default);
            }

            AttemptAccounting.OnHeaders(host, policies.FailureStatuses, lease, read, outcome, penalise, bodyRead: true);
        }
        finally
        {
            Restore(request, logicalUri, setHost);
        }

        if (outcome == AttemptOutcome.Success && !policies.FailureStatuses.IsRetryable((int)read!.StatusCode))
        {
            return read;
        }

        return await handler.SendThroughPipelineAsync(state, policies, host, request, logicalUri, hash, endpoint,
            Record(endpoint, outcome, read, failure), cancellationToken).ConfigureAwait(false);
    }

    private static AttemptRecord Record(MeshEndpoint endpoint, AttemptOutcome outcome, HttpResponseMessage? response, Exception? failure) =>
        new(endpoint, outcome, failure is null
            ? Polly.Outcome.FromResult(response!)
            : Polly.Outcome.FromException<HttpResponseMessage>(failure));

    /// <summary>Completes the caller's task with <paramref name="next"/>'s result, exception or cancellation, as an await would.</summary>
    private static void Forward(Task<HttpResponseMessage> next, AsyncTaskMethodBuilder<HttpResponseMessage> builder) =>
        next.ContinueWith(static (completed, state) =>
        {
            var builder = (AsyncTaskMethodBuilder<HttpResponseMessage>)state!;
            try
            {
                builder.SetResult(completed.GetAwaiter().GetResult());
            }
            catch (Exception ex)
            {
                builder.SetException(ex);
            }
        }, builder, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private void Restore() => Restore(_request!, _logicalUri!, _setHost);

    private static void Restore(HttpRequestMessage request, Uri logicalUri, bool setHost)
    {
        request.RequestUri = logicalUri;
        if (setHost)
        {
            request.Headers.Host = null;
        }
    }

    private (HttpResponseMessage? Response, Task<HttpResponseMessage>? Next, Exception? Exception) TakeResult()
    {
        var result = (_response, _next, _exception);
        Return();
        return result;
    }

    private static FirstAttempt Rent() => ReusePool<FirstAttempt>.TryRent() ?? new FirstAttempt();

    /// <summary>Clears every reference (a pooled instance must not keep a request alive) and keeps the instance.</summary>
    private void Return()
    {
        _handler = null;
        _timeProvider = null;
        _state = null;
        _policies = null;
        _host = null;
        _request = null;
        _logicalUri = null;
        _endpoint = null;
        _hash = null;
        _cancellationToken = default;
        _setHost = false;
        _attemptCts = null;
        _callerLink = default;
        _lease = default;
        _sent = null;
        _context = null;
        _builder = default;
        _response = null;
        _next = null;
        _exception = null;
        ReusePool<FirstAttempt>.TryReturn(this);
    }
}
