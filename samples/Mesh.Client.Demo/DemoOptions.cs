using System.Globalization;
using Mesh.Client.Balancing;

namespace Mesh.Client.Demo;

/// <summary>The demo's command line.</summary>
internal sealed record DemoOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(25);

    /// <summary>How many backends; in the canary scene, how many replicas each version has. Null: 5, or 3 per version.</summary>
    public int? Backends { get; init; }

    public int BackendCount => Backends ?? (Canary ? 3 : 5);

    public string? Balancer { get; init; }

    public int Concurrency { get; init; } = 24;

    public bool Chaos { get; init; } = true;

    public bool Health { get; init; } = true;

    public bool Hedging { get; init; }

    public bool Grpc { get; init; }

    public bool Canary { get; init; }

    public bool Help { get; init; }

    public static string Usage => $"""
        Mesh.Client demo: starts Kestrel backends on 127.0.0.1 (free ports), wires them as service 'catalog',
        sends traffic through AddMeshHandler, and shows requests and latency per backend live.

        Usage: dotnet run --project samples/Mesh.Client.Demo [-- options]

          --duration <seconds>   how long to run (default 25, at most 600)
          --backends <n>         how many backends (default 5, 2 to 20); with --canary, replicas per version
                                 (default 3)
          --balancer <name>      {string.Join(", ", BalancerChoices)} (default: the library's default)
          --concurrency <n>      requests in flight at once (default 24)
          --no-chaos             keep every backend healthy and fast (by default backend 1 turns slow
                                 for a while and the last backend dies and comes back); with --canary,
                                 no bad v2 replica
          --no-health            turn off ejection, heartbeats and retries, to see what they save
          --grpc                 the same story over gRPC: Grpc.AspNetCore backends (h2c), a Greeter client
                                 from AddGrpcClient<T>().AddMeshHandler(), heartbeats on grpc.health.v1
          --hedging              send a second attempt to another backend when the first is slower
                                 than the service's p95 so far
          --canary               a canary release instead: 'catalog' is a route over services catalog-v1 and
                                 catalog-v2 whose weights go 90/10, 50/50, 0/100 over the run by live
                                 configuration reloads, while one v2 replica answers 503s and resets
          --help                 show this text
        """;

    public static DemoOptions Parse(string[] args)
    {
        var options = new DemoOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"Option '{args[i]}' needs a value.");
            options = args[i] switch
            {
                "--help" or "-h" or "-?" => options with { Help = true },
                "--duration" => options with { Duration = TimeSpan.FromSeconds(Int(Value(), "--duration", 1, 600)) },
                "--backends" => options with { Backends = Int(Value(), "--backends", 2, 20) },
                "--concurrency" => options with { Concurrency = Int(Value(), "--concurrency", 1, 512) },
                "--balancer" => options with { Balancer = ParseBalancer(Value()) },
                "--no-chaos" => options with { Chaos = false },
                "--no-health" => options with { Health = false },
                "--hedging" => options with { Hedging = true },
                "--grpc" => options with { Grpc = true },
                "--canary" => options with { Canary = true },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Run with --help for the list."),
            };
        }

        if (options.Canary && options.Grpc)
        {
            // The canary's bad replica and its route are HTTP; the gRPC backends have no bad mode.
            throw new ArgumentException("--canary and --grpc cannot be combined; the canary scene is HTTP only.");
        }

        return options;
    }

    private static int Int(string text, string name, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} is '{text}'; expected a whole number from {min} to {max}.");

    private static readonly string[] BalancerChoices =
        [BalancerNames.PeakEwma, BalancerNames.LeastRequest, BalancerNames.RoundRobin, BalancerNames.Random, BalancerNames.WeightedRoundRobin,
         BalancerNames.RingHash, BalancerNames.Maglev];

    private static string ParseBalancer(string text) =>
        Array.Find(BalancerChoices, b => string.Equals(b, text, StringComparison.OrdinalIgnoreCase)) is { } kind
            ? kind
            : throw new ArgumentException($"--balancer is '{text}'; expected one of {string.Join(", ", BalancerChoices)}.");
}
