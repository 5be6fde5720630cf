using Polly;

namespace Mesh.Client.Resilience;

/// <summary>
/// Notes the token inside the total timeout on the request's attempts, so an attempt cancelled by the total timeout
/// counts as a timeout of its endpoint while one cancelled because another hedge won does not.
/// </summary>
internal sealed class RequestScopeStrategy : ResilienceStrategy<HttpResponseMessage>
{
    protected override ValueTask<Outcome<HttpResponseMessage>> ExecuteCore<TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<HttpResponseMessage>>> callback, ResilienceContext context, TState state)
    {
        context.Properties.GetValue(PipelineKeys.Attempts, null!).RequestToken = context.CancellationToken;
        return callback(context, state);
    }
}
