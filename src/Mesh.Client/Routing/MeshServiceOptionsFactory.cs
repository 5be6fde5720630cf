using Mesh.Client.Balancing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Routing;

/// <summary>
/// Builds the options of one service as one client sees them: defaults, then configuration
/// <c>Mesh:Services:&lt;service&gt;</c>, then the client's <c>AddMeshHandler</c> delegates (registered as named
/// <see cref="MeshServiceOptions"/> under the client's name).
/// </summary>
internal sealed class MeshServiceOptionsFactory
{
    private readonly IConfiguration? _configuration;
    private readonly IConfigureOptions<MeshServiceOptions>[] _setups;
    private readonly IPostConfigureOptions<MeshServiceOptions>[] _postSetups;

    public MeshServiceOptionsFactory(IEnumerable<IConfigureOptions<MeshServiceOptions>> setups,
        IEnumerable<IPostConfigureOptions<MeshServiceOptions>> postSetups, IServiceProvider services, LoadBalancerFactory? balancers = null)
    {
        Balancers = balancers ?? new LoadBalancerFactory();
        _setups = setups.ToArray();
        _postSetups = postSetups.ToArray();
        _configuration = (IConfiguration?)services.GetService(typeof(IConfiguration));
    }

    /// <summary>Builds and validates; throws <see cref="OptionsValidationException"/> naming each bad key.</summary>
    /// <summary>A token that fires when configuration reloads, or null without configuration.</summary>
    public Microsoft.Extensions.Primitives.IChangeToken? GetReloadToken() => _configuration?.GetReloadToken();

    /// <summary>The balancers services may select.</summary>
    public LoadBalancerFactory Balancers { get; }

    public MeshServiceOptions Create(string clientName, string serviceName)
    {
        var options = new MeshServiceOptions();
        var section = _configuration?.GetSection($"{MeshClientOptions.SectionName}:Services:{serviceName}");
        string source = $"{MeshClientOptions.SectionName}:Services:{serviceName}";
        if (section is not null && section.Exists())
        {
            section.Bind(options);
        }

        ApplyClientDelegates(clientName, options);
        // Messages name the configuration key as start-up validation does (a delegate's own values are validated at
        // start-up under "AddMeshHandler options of client ..."), so a rejected reload reads as start-up said it.
        var errors = options.Validate(source, Balancers.Names);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(clientName, typeof(MeshServiceOptions), errors);
        }

        return options;
    }

    /// <summary>Applies the client's delegates to <paramref name="options"/>.</summary>
    public void ApplyClientDelegates(string clientName, MeshServiceOptions options)
    {
        foreach (var setup in _setups)
        {
            if (setup is IConfigureNamedOptions<MeshServiceOptions> named)
            {
                named.Configure(clientName, options);
            }
            else if (clientName == Microsoft.Extensions.Options.Options.DefaultName)
            {
                setup.Configure(options);
            }
        }

        foreach (var post in _postSetups)
        {
            post.PostConfigure(clientName, options);
        }
    }
}
