using Mesh.Client.Routing;
using Mesh.Client.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.ServiceDiscovery;

namespace Mesh.Client;

/// <summary>Binds <see cref="MeshClientOptions"/> from the <c>Mesh</c> section when the application has configuration.</summary>
internal sealed class MeshClientOptionsSetup : IConfigureOptions<MeshClientOptions>
{
    private readonly IConfiguration? _configuration;

    public MeshClientOptionsSetup(IServiceProvider services)
    {
        _configuration = (IConfiguration?)services.GetService(typeof(IConfiguration));
    }

    public void Configure(MeshClientOptions options)
    {
        if (_configuration is null)
        {
            return;
        }

        var mesh = _configuration.GetSection(MeshClientOptions.SectionName);
        mesh.Bind(options);

        // The binder silently drops a dictionary entry it cannot convert, and a misspelled balancer must fail start-up,
        // not vanish: bind each service once more into a scratch instance to catch conversion errors for the validator.
        foreach (var service in mesh.GetSection("Services").GetChildren())
        {
            try
            {
                service.Bind(new MeshServiceOptions());
            }
            catch (InvalidOperationException ex)
            {
                options.BindingErrors.Add(ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}");
            }
        }
    }
}

/// <summary>
/// Validates the mesh's configuration at start-up: every <c>Mesh:Services:&lt;name&gt;</c> entry, every
/// <c>Services:&lt;name&gt;</c> endpoint value, and every client's <c>AddMeshHandler</c> delegate applied to defaults.
/// Each message names the key and quotes the value.
/// </summary>
internal sealed class MeshClientOptionsValidator : IValidateOptions<MeshClientOptions>
{
    private readonly IConfiguration? _configuration;
    private readonly MeshServiceOptionsFactory _serviceOptions;
    private readonly MeshClientRegistrations _registrations;
    private readonly IOptions<ServiceDiscoveryOptions> _discoveryOptions;
    private readonly IOptions<ConfigurationServiceEndpointProviderOptions> _discoverySection;

    public MeshClientOptionsValidator(IServiceProvider services, MeshServiceOptionsFactory serviceOptions, MeshClientRegistrations registrations,
        IOptions<ServiceDiscoveryOptions> discoveryOptions, IOptions<ConfigurationServiceEndpointProviderOptions> discoverySection)
    {
        _discoveryOptions = discoveryOptions;
        _discoverySection = discoverySection;
        _configuration = (IConfiguration?)services.GetService(typeof(IConfiguration));
        _serviceOptions = serviceOptions;
        _registrations = registrations;
    }

    public ValidateOptionsResult Validate(string? name, MeshClientOptions options)
    {
        var errors = new List<string>(options.BindingErrors);
        errors.AddRange(options.ValidateMeshWide());
        var balancers = _serviceOptions.Balancers.Names;
        var resolvers = _serviceOptions.ResolverNames;
        foreach (var (service, serviceOptions) in options.Services)
        {
            errors.AddRange(serviceOptions.Validate($"{MeshClientOptions.SectionName}:Services:{service}", balancers, resolvers));
        }

        if (_configuration is not null)
        {
            var mesh = _configuration.GetSection(MeshClientOptions.SectionName);
            MeshConfigurationKeys.CheckMesh(mesh, errors);
            foreach (var service in mesh.GetSection("Services").GetChildren())
            {
                MeshConfigurationKeys.CheckService(service, errors);
            }

            errors.AddRange(ConfigurationEndpointResolver.Validate(_configuration, _discoveryOptions.Value, _discoverySection.Value.SectionName));
        }

        foreach (var client in _registrations.ClientNames)
        {
            var probe = new MeshServiceOptions();
            _serviceOptions.ApplyClientDelegates(client, probe);
            errors.AddRange(probe.Validate($"AddMeshHandler options of client '{client}'", balancers, resolvers));
        }

        errors = errors.Distinct(StringComparer.Ordinal).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

}

/// <summary>One client <c>AddMeshHandler</c> was called for, so start-up can validate its delegates.</summary>
internal sealed record MeshClientRegistration(string ClientName);

/// <summary>The names of the clients <c>AddMeshHandler</c> was called for.</summary>
internal sealed class MeshClientRegistrations(IEnumerable<MeshClientRegistration> registrations)
{
    public IReadOnlyCollection<string> ClientNames { get; } =
        registrations.Select(r => r.ClientName).Distinct(StringComparer.Ordinal).ToArray();
}
