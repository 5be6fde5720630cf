using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Mesh.Client.Benchmarks -- --filter '*'
// Lists the benchmarks with --list flat; see benchmarks/README.md for the figures and how they were produced.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
