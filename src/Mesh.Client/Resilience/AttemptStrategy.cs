using Polly;
using Polly.Timeout;

namespace Mesh.Client.Resilience;

/// <summary>
/// One attempt, as a Polly strategy: picks the endpoint (the planned one, or one this request has not tried), points the
/// request at it, holds the endpoint's lease while the rest of the pipeline (the attempt timeout, any strategies the user
/// added, the send) runs, then classifies the result and reports it. It sits inside retry and hedging, so each retry and
/// each hedge is one attempt to one endpoint.
/// </summary>
internal sealed class AttemptStrategy(IAttemptHost host, FailureStatusSet statuses, RetryOptions retry, TimeProvider timeProvider, TimeSpan attemptTimeout) : ResilienceStrategy<HttpResponseMessage>
{
    protected override async ValueTask<Outcome<HttpResponseMessage>> ExecuteCore<TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<HttpResponseMessage>>> callback, ResilienceContext context, TState state)
    {
        var attempts = context.Properties.GetValue(PipelineKeys.Attempts, null!);
        if (attempts.TryTakePending(out var first))
        {
            attempts.RecordResult(first.Endpoint, first.Outcome);
            return first.Result;
        }

        var endpoint = context.Properties.GetValue(PipelineKeys.Planned, null) ?? attempts.TakePlanned() ?? attempts.PickNext(allowRepeat: true);
        if (endpoint is null)
        {
            return Outcome.FromException<HttpResponseMessage>(new NoEndpointsException(host.ServiceName, "(current)",
                "no endpoint is routable for another attempt"));
        }

        context.Properties.Set(PipelineKeys.Planned, null);
        context.Properties.Set(MeshResilienceProperties.Endpoint, endpoint.Address);
        context.Properties.Set(PipelineKeys.Sent, false);
        var message = context.Properties.GetValue(PipelineKeys.Message, null) ?? attempts.Request;
        message.RequestUri = EndpointUri.Rewrite(attempts.LogicalUri, endpoint);
        host.OnAttemptStarting(endpoint, attempts.NextAttemptNumber());
        var lease = endpoint.Begin(timeProvider);

        Outcome<HttpResponseMessage> outcome;
        attempts.OnSending();
        bool wins = false;
        try
        {
            try
            {
                outcome = await callback(context, state).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                outcome = Outcome.FromException<HttpResponseMessage>(ex);
            }

            AttemptOutcome classified;
            bool penalise = false;
            bool bodyRead = false;
            if (outcome.Result is { } response)
            {
                classified = statuses.Classify(response, out penalise);
                if (classified == AttemptOutcome.Success && AttemptAccounting.ShouldReadBody(message, response, retry))
                {
                    // A small body of a retryable request is read inside the attempt, so a connection that breaks mid-body is retried.
                    bodyRead = true;
                    if (await AttemptAccounting.ReadBodyAsync(response, retry.MaxBufferedResponseBytes, context.CancellationToken).ConfigureAwait(false) is { } broken)
                    {
                        outcome = Outcome.FromException<HttpResponseMessage>(broken);
                        classified = AttemptClassification.OfException(broken, sent: true, attempts.CallerToken, attempts.RequestToken, context.CancellationToken);
                    }
                }
            }
            else
            {
                var exception = outcome.Exception!;
                classified = AttemptClassification.OfException(exception, context.Properties.GetValue(PipelineKeys.Sent, false),
                    attempts.CallerToken, attempts.RequestToken, context.CancellationToken);
                if (exception is TimeoutRejectedException)
                {
                    outcome = Outcome.FromException<HttpResponseMessage>(AttemptClassification.AttemptTimeout(host.ServiceName, endpoint, attemptTimeout, exception));
                }
            }

            wins = !AttemptClassification.IsRetryable(outcome, statuses);
            AttemptAccounting.OnHeaders(host, statuses, lease, outcome.Result, classified, penalise, bodyRead);
            attempts.RecordResult(endpoint, classified);
            return outcome;
        }
        finally
        {
            // Only now, with its final outcome known: the hedging strategy lets a retryable failure win only when no
            // attempt is in flight and none has won, and it may judge an outcome after another attempt has ended.
            attempts.OnAnswered(wins);
        }
    }
}
