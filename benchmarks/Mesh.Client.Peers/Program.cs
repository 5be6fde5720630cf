using Mesh.Client.Peers;

// Side-by-side runs on real loopback servers (issue 15):
//
//   dotnet run -c Release --project benchmarks/Mesh.Client.Peers -- tail [--duration 60] [--rate 200] [--backends 11]
//       [--hedging-delay-ms 100] [--only <name part>] [--seed 1] [--out FILE] [--verbose]
//   dotnet run -c Release --project benchmarks/Mesh.Client.Peers -- request-path [--rounds 5] [--round-seconds 2]
//       [--backends 1] [--allocations] [--out FILE]
var settings = Settings.Parse(args);
if (settings is null)
{
    Console.Error.WriteLine("Usage: tail [--duration S] [--rate N] [--backends N] [--hedging-delay-ms MS] [--only NAME] [--seed N] [--out FILE] [--verbose] | request-path [--rounds N] [--round-seconds S] [--backends N] [--allocations] [--out FILE]");
    return 2;
}

return settings.Mode == "tail" ? await TailExperiment.RunAsync(settings) : await RequestPathExperiment.RunAsync(settings);

namespace Mesh.Client.Peers
{
    using System.Globalization;

    internal sealed class Settings
    {
        public string Mode { get; private set; } = "tail";

        public int DurationSeconds { get; private set; } = 60;

        public int WarmupSeconds { get; private set; } = 3;

        public int Rate { get; private set; } = 200;

        public int Backends { get; private set; } = 11;

        public int RequestPathBackends { get; private set; } = 1;

        public int HedgingDelayMs { get; private set; } = 100;

        public int Seed { get; private set; } = 1;

        public int Rounds { get; private set; } = 5;

        public int RoundSeconds { get; private set; } = 2;

        public string? Only { get; private set; }

        public string? Out { get; private set; }

        public bool Verbose { get; private set; }

        public bool Allocations { get; private set; }

        public static Settings? Parse(string[] args)
        {
            if (args.Length == 0 || args[0] is not ("tail" or "request-path"))
            {
                return null;
            }

            var s = new Settings { Mode = args[0] };
            for (int i = 1; i < args.Length; i++)
            {
                int Next() => int.Parse(args[++i], CultureInfo.InvariantCulture);
                switch (args[i])
                {
                    case "--duration": s.DurationSeconds = Next(); break;
                    case "--warmup": s.WarmupSeconds = Next(); break;
                    case "--rate": s.Rate = Next(); break;
                    case "--backends": s.Backends = s.RequestPathBackends = Next(); break;
                    case "--hedging-delay-ms": s.HedgingDelayMs = Next(); break;
                    case "--seed": s.Seed = Next(); break;
                    case "--rounds": s.Rounds = Next(); break;
                    case "--round-seconds": s.RoundSeconds = Next(); break;
                    case "--only": s.Only = args[++i]; break;
                    case "--out": s.Out = args[++i]; break;
                    case "--verbose": s.Verbose = true; break;
                    case "--allocations": s.Allocations = true; break;
                    default: return null;
                }
            }

            return s;
        }
    }
}
