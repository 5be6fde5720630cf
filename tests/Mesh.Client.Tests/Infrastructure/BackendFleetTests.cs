namespace Mesh.Client.Tests.Infrastructure;

/// <summary>
/// Tests against a fleet of real Kestrel backends on 127.0.0.1, named b0, b1, ..., started before each test and
/// stopped after it.
/// </summary>
public abstract class BackendFleetTests : IAsyncLifetime
{
    private readonly int _count;

    protected BackendFleetTests(int count = 3)
    {
        _count = count;
    }

    /// <summary>The backends, in start order; a test may replace one (a restarted replica).</summary>
    protected List<TestBackend> Backends { get; } = [];

    /// <summary>Every backend's <c>http://127.0.0.1:port</c>.</summary>
    protected string[] Addresses => Backends.Select(b => b.Address).ToArray();

    public async Task InitializeAsync()
    {
        for (int i = 0; i < _count; i++)
        {
            Backends.Add(await TestBackend.StartAsync($"b{i}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var backend in Backends)
        {
            await backend.DisposeAsync();
        }
    }
}
