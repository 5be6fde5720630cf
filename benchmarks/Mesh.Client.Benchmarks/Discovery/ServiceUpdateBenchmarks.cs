using BenchmarkDotNet.Attributes;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Client.Benchmarks.Discovery;

/// <summary>
/// A resolver update of a large service (a 10,000-pod headless service) applied to a live service while other threads
/// pick: the update diffs against the current set (survivors keep their state), builds the new snapshot, updates the
/// balancer and swaps. Each operation applies a real change: 10 % of the endpoints replaced, alternating between two
/// lists of fresh objects, as a DNS refresh publishes them.
/// </summary>
[MemoryDiagnoser]
public class ServiceUpdateBenchmarks
{
    private ServiceState _service = null!;
    private List<EndpointAddress> _a = null!;
    private List<EndpointAddress> _b = null!;
    private bool _toggle;
    private Thread[] _pickers = [];
    private volatile bool _stop;
    private long _picks;

    [Params(10_000)]
    public int Endpoints { get; set; }

    /// <summary>Threads picking throughout (one on a 2-core machine, leaving a core to the update).</summary>
    [Params(1)]
    public int Pickers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _service = new ServiceState("bench", new EndpointQuery("catalog", ["http"]), new MeshServiceOptions(), new RoundRobinBalancer(),
            TimeProvider.System, NullLogger.Instance);
        _a = Build(0);
        _b = Build(Endpoints / 10);
        _service.OnEndpoints(_a);
        _stop = false;
        _pickers = new Thread[Pickers];
        for (int i = 0; i < Pickers; i++)
        {
            _pickers[i] = new Thread(Pick) { IsBackground = true };
            _pickers[i].Start();
        }
    }

    private List<EndpointAddress> Build(int replaced)
    {
        var list = new List<EndpointAddress>(Endpoints);
        for (int i = 0; i < Endpoints; i++)
        {
            int n = i < replaced ? Endpoints + i : i; // the first `replaced` are different pods
            list.Add(new EndpointAddress("http", $"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", 8080));
        }

        return list;
    }

    private void Pick()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://catalog/");
        long picks = 0;
        while (!_stop)
        {
            if (_service.Balancer.Pick(new PickContext(request)) is null)
            {
                throw new InvalidOperationException("A pick found no endpoint during an update.");
            }

            picks++;
        }

        Interlocked.Add(ref _picks, picks);
    }

    [Benchmark(Description = "apply a 10k-endpoint update (10% changed) while picking")]
    public void ApplyUpdate()
    {
        _toggle = !_toggle;
        _service.OnEndpoints(_toggle ? _b : _a);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        foreach (var picker in _pickers)
        {
            picker.Join();
        }

        Console.WriteLine($"// picks completed by {Pickers} picker thread(s) during the run: {Interlocked.Read(ref _picks):N0}");
        _service.Dispose();
    }
}

/// <summary>
/// The other side: what a pick costs while another thread applies 10,000-endpoint updates back to back, against the
/// same pick with no updates. Picks read one snapshot reference and never wait for the writer.
/// </summary>
[MemoryDiagnoser]
public class PickDuringUpdateBenchmarks
{
    private ServiceState _service = null!;
    private HttpRequestMessage _request = null!;
    private Thread? _updater;
    private volatile bool _stop;

    [Params(false, true)]
    public bool Updating { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _service = new ServiceState("bench", new EndpointQuery("catalog", ["http"]), new MeshServiceOptions(), new RoundRobinBalancer(),
            TimeProvider.System, NullLogger.Instance);
        var a = Build(0);
        var b = Build(1_000);
        _service.OnEndpoints(a);
        _request = new HttpRequestMessage(HttpMethod.Get, "http://catalog/");
        _stop = false;
        if (Updating)
        {
            _updater = new Thread(() =>
            {
                bool toggle = false;
                while (!_stop)
                {
                    toggle = !toggle;
                    _service.OnEndpoints(toggle ? b : a);
                }
            }) { IsBackground = true };
            _updater.Start();
        }
    }

    private static List<EndpointAddress> Build(int replaced)
    {
        var list = new List<EndpointAddress>(10_000);
        for (int i = 0; i < 10_000; i++)
        {
            int n = i < replaced ? 10_000 + i : i;
            list.Add(new EndpointAddress("http", $"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", 8080));
        }

        return list;
    }

    [Benchmark(Description = "pick from 10k endpoints")]
    public MeshEndpoint? Pick() => _service.Balancer.Pick(new PickContext(_request));

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _updater?.Join();
        _request.Dispose();
        _service.Dispose();
    }
}
