namespace Mesh.Client;

/// <summary>
/// Background heartbeats (active health checks): a GET to <see cref="Path"/>, or the gRPC health protocol for
/// <see cref="GrpcService"/>, on every endpoint, on a timer. Off unless one of them is set. Bound from <c>Mesh:Services:&lt;service&gt;:HealthCheck</c>. Defaults follow YARP and Envoy.
/// </summary>
public sealed class ActiveHealthCheckOptions
{
    /// <summary>The path (and query) probed on each endpoint, such as <c>/healthz</c>. Default: none, so heartbeats are off.</summary>
    public string? Path { get; set; }

    /// <summary>
    /// Probes with the standard gRPC health protocol instead of a GET: <c>grpc.health.v1.Health/Check</c> asking for this
    /// service name, over HTTP/2 (h2c for <c>http</c> endpoints). <c>""</c> asks for the server's overall health. The
    /// endpoint is healthy when the call ends with status OK and answers <c>SERVING</c>. Default: none (set this or
    /// <see cref="Path"/>, not both).
    /// </summary>
    public string? GrpcService { get; set; }

    /// <summary>The time between two probes of one endpoint (jittered, and spread over endpoints). Default: 10 seconds.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a probe may take before it counts as failed. Default: 5 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failed probes that mark an endpoint unhealthy. Default: 2.</summary>
    public int UnhealthyThreshold { get; set; } = 2;

    /// <summary>Consecutive successful probes that mark an unhealthy endpoint healthy again. Default: 1.</summary>
    public int HealthyThreshold { get; set; } = 1;

    /// <summary>
    /// Status codes a healthy endpoint answers with (GET probes). Default: none listed, which means any 2xx. Listing codes
    /// replaces the default.
    /// </summary>
    public IList<int>? ExpectedStatusCodes { get; set; }

    /// <summary>A random share of <see cref="Interval"/> added or removed per probe. Default: 0.1 (± 10 %).</summary>
    public double Jitter { get; set; } = 0.1;

    /// <summary>Whether heartbeats are on: a path or a gRPC service is set.</summary>
    public bool Enabled => !string.IsNullOrEmpty(Path) || GrpcService is not null;

    internal void Validate(string prefix, List<string> errors)
    {
        if (Path is not null && (Path.Length == 0 || Path[0] != '/' || !Uri.TryCreate("http://x" + Path, UriKind.Absolute, out _)))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Path), Path, "an absolute path such as /healthz, or absent"));
        }

        if (GrpcService is not null && !string.IsNullOrEmpty(Path))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(GrpcService), GrpcService,
                $"absent when {prefix}:{nameof(Path)} is set (a heartbeat is either a GET or a gRPC health check)"));
        }

        if (Interval < TimeSpan.FromMilliseconds(100) || Interval > TimeSpan.FromHours(1))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Interval), Interval, "from 00:00:00.1 to 01:00:00"));
        }

        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(5))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Timeout), Timeout, "greater than 0 and at most 00:05:00"));
        }

        if (UnhealthyThreshold is < 1 or > 100)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(UnhealthyThreshold), UnhealthyThreshold, "1 to 100"));
        }

        if (HealthyThreshold is < 1 or > 100)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(HealthyThreshold), HealthyThreshold, "1 to 100"));
        }

        if (double.IsNaN(Jitter) || Jitter < 0 || Jitter > 0.5)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Jitter), Jitter, "0 to 0.5"));
        }

        if (ExpectedStatusCodes is not null)
        {
            foreach (int code in ExpectedStatusCodes)
            {
                if (code is < 100 or > 599)
                {
                    errors.Add(MeshServiceOptions.Bad(prefix, nameof(ExpectedStatusCodes), code, "HTTP status codes from 100 to 599"));
                }
            }
        }
    }
}
