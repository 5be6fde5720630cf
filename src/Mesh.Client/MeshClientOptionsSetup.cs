using Mesh.Client.Routing;
using Mesh.Client.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

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

    public MeshClientOptionsValidator(IServiceProvider services, MeshServiceOptionsFactory serviceOptions, MeshClientRegistrations registrations)
    {
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

            ValidateEndpointAddresses(_configuration, errors);
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

    /// <summary>
    /// Checks every endpoint value under <c>Services</c> (Microsoft.Extensions.ServiceDiscovery's schema) with the one
    /// address grammar, whichever section a query would select: <c>Services:&lt;service&gt;:&lt;endpoint&gt;</c> is an
    /// address or an array of them; <c>http</c> and <c>https</c> give a <c>host:port</c> value their scheme. Messages
    /// name the key and never quote credentials.
    /// </summary>
    internal static void ValidateEndpointAddresses(IConfiguration configuration, List<string> errors)
    {
        foreach (var service in configuration.GetSection(ConfigurationEndpointResolver.SectionName).GetChildren())
        {
            foreach (var endpoints in service.GetChildren())
            {
                string scheme = endpoints.Key.Equals(Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase) ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
                if (endpoints.Value is not null || !endpoints.GetChildren().Any())
                {
                    if (!EndpointAddress.TryParse(endpoints.Value, scheme, endpoints.Path, out _, out var error))
                    {
                        errors.Add(error);
                    }

                    continue;
                }

                foreach (var value in endpoints.GetChildren())
                {
                    if (!int.TryParse(value.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
                    {
                        errors.Add($"'{value.Path}' is not an array element; '{endpoints.Path}' must be an address or an array of addresses.");
                    }
                    else if (!EndpointAddress.TryParse(value.Value, scheme, value.Path, out _, out var error))
                    {
                        errors.Add(error);
                    }
                }
            }
        }
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
