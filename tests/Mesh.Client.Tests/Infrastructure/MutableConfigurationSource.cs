using Microsoft.Extensions.Configuration;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>
/// A configuration source whose whole content a test replaces at once, firing the reload token as a file-based source
/// does when its file changes (the in-memory source never reloads).
/// </summary>
public sealed class MutableConfigurationSource : IConfigurationSource
{
    private readonly Provider _provider = new();

    public MutableConfigurationSource(IDictionary<string, string?> initial)
    {
        _provider.Replace(initial);
    }

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    public void Replace(IDictionary<string, string?> data) => _provider.Replace(data);

    private sealed class Provider : ConfigurationProvider
    {
        public void Replace(IDictionary<string, string?> data)
        {
            Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
            OnReload();
        }
    }
}
