using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Mesh.Client.Benchmarks -- --filter '*'
// Lists the benchmarks with --list flat; see benchmarks/README.md for the figures and how they were produced.
// dotnet run -c Release --project benchmarks/Mesh.Client.Benchmarks -- --interleaved-picks [rounds]: issue 15's pick
// goals with the contenders interleaved in one process (Mesh.Client.Benchmarks.InterleavedPicks).
if (args.Length > 0 && args[0] == "--interleaved-picks")
{
    Mesh.Client.Benchmarks.InterleavedPicks.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30);
    return;
}

// --interleaved-routes [rounds]: route selection, the index against the scan, interleaved in one process.
if (args.Length > 0 && args[0] == "--interleaved-routes")
{
    Mesh.Client.Benchmarks.Routing.InterleavedRoutes.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
