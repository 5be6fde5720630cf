using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
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
    private readonly IConfigureOptions<MeshServiceOptions>[] _setups;
    private readonly IPostConfigureOptions<MeshServiceOptions>[] _postSetups;
    private readonly Lazy<IReadOnlyList<string>> _resolverNames;

    public MeshServiceOptionsFactory(IEnumerable<IConfigureOptions<MeshServiceOptions>> setups,
        IEnumerable<IPostConfigureOptions<MeshServiceOptions>> postSetups, IServiceProvider services, LoadBalancerFactory? balancers = null)
    {
        Balancers = balancers ?? new LoadBalancerFactory();
        _setups = setups.ToArray();
        _postSetups = postSetups.ToArray();
        _resolverNames = new Lazy<IReadOnlyList<string>>(() =>
            ((IEnumerable<IEndpointResolver>?)services.GetService(typeof(IEnumerable<IEndpointResolver>)) ?? []).Select(r => r.Name).ToArray());
    }

    /// <summary>The balancers services may select.</summary>
    public LoadBalancerFactory Balancers { get; }

    /// <summary>The names of the registered resolvers, which <see cref="MeshServiceOptions.Resolver"/> may name.</summary>
    public IReadOnlyList<string> ResolverNames => _resolverNames.Value;

    /// <summary>
    /// Builds and validates: defaults, then <paramref name="section"/> (the service's last good
    /// <c>Mesh:Services:&lt;service&gt;</c>, if any), then the client's delegates. Throws
    /// <see cref="OptionsValidationException"/> naming each bad key.
    /// </summary>
    public MeshServiceOptions Create(string clientName, string serviceName, IConfigurationSection? section)
    {
        var options = new MeshServiceOptions();
        string source = $"{MeshClientOptions.SectionName}:Services:{serviceName}";
        if (section is not null && section.Exists() && MeshServiceOptions.TryBind(section, options) is { } bindingError)
        {
            throw new OptionsValidationException(clientName, typeof(MeshServiceOptions), [bindingError]);
        }

        ApplyClientDelegates(clientName, options);
        // Messages name the configuration key as start-up validation does (a delegate's own values are validated at
        // start-up under "AddMeshHandler options of client ..."), so a rejected reload reads as start-up said it.
        var errors = options.Validate(source, Balancers.Names, ResolverNames);
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
