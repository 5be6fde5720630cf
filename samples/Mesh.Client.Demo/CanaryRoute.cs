using Microsoft.Extensions.Configuration;

namespace Mesh.Client.Demo;

/// <summary>
/// The canary scene's route as configuration: <c>Mesh:Services:catalog:Routes:0</c> splits service <c>catalog</c>
/// between <c>catalog-v1</c> and <c>catalog-v2</c> by weight. <see cref="SetWeights"/> replaces the weights and fires
/// the configuration's reload token, as a file source does when an operator saves appsettings.json (the in-memory source
/// never reloads); the mesh takes the new split through its own reload of <c>Mesh:Services</c>, with no client rebuilt.
/// </summary>
internal sealed class CanaryRoute : IConfigurationSource
{
    public const string Service = "catalog";
    public const string Stable = "catalog-v1";
    public const string Canary = "catalog-v2";
    public const string Name = "canary";

    private const string Route = $"Mesh:Services:{Service}:Routes:0";

    private readonly Provider _provider = new();

    public CanaryRoute(int stableWeight, int canaryWeight)
    {
        SetWeights(stableWeight, canaryWeight);
    }

    /// <summary>The key of a backend's weight: what the live table reads back from the application's configuration.</summary>
    public static string WeightKey(int backend) => $"{Route}:Backends:{backend}:Weight";

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    public void SetWeights(int stableWeight, int canaryWeight) => _provider.Replace(new Dictionary<string, string?>
    {
        [$"{Route}:Name"] = Name,
        [$"{Route}:Backends:0:Service"] = Stable,
        [WeightKey(0)] = stableWeight.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [$"{Route}:Backends:1:Service"] = Canary,
        [WeightKey(1)] = canaryWeight.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    private sealed class Provider : ConfigurationProvider
    {
        public void Replace(Dictionary<string, string?> data)
        {
            Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
            OnReload();
        }
    }
}
