using Mesh.Client.Routing;

namespace Mesh.Client.Health;

/// <summary>
/// Which response statuses count against an endpoint for one service: by default 502, 503 and 504; configurable with
/// <see cref="PassiveHealthOptions.FailureStatusCodes"/> and <see cref="PassiveHealthOptions.AllServerErrorsAreFailures"/>.
/// A bit per status, so classifying a response is one array read.
/// </summary>
internal sealed class FailureStatusSet
{
    private readonly bool[] _isFailure = new bool[600];

    public static FailureStatusSet Default { get; } = new(new PassiveHealthOptions());

    public FailureStatusSet(PassiveHealthOptions options)
    {
        foreach (int code in options.FailureStatusCodes ?? [502, 503, 504])
        {
            _isFailure[code] = true;
        }

        if (options.AllServerErrorsAreFailures)
        {
            for (int code = 500; code < 600; code++)
            {
                _isFailure[code] = true;
            }
        }
    }

    public bool IsFailure(int statusCode) => (uint)statusCode < (uint)_isFailure.Length && _isFailure[statusCode];

    public AttemptOutcome Classify(HttpResponseMessage response) =>
        IsFailure((int)response.StatusCode) ? AttemptOutcome.FailureStatus : AttemptOutcome.Success;
}
