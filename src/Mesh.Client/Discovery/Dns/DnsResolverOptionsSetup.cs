using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Discovery.Dns;

/// <summary>
/// Binds <see cref="DnsResolverOptions"/> from configuration: <c>Mesh:Dns</c> for the resolver, and a service entry for
/// every <c>Mesh:Services:&lt;name&gt;</c> that has a <c>Dns</c> section or names the resolver (<c>Resolver: dns</c>).
/// </summary>
internal sealed class DnsResolverOptionsSetup : IConfigureOptions<DnsResolverOptions>
{
    private readonly IConfiguration? _configuration;

    public DnsResolverOptionsSetup(IServiceProvider services)
    {
        _configuration = (IConfiguration?)services.GetService(typeof(IConfiguration));
    }

    public void Configure(DnsResolverOptions options)
    {
        if (_configuration is null)
        {
            return;
        }

        _configuration.GetSection(DnsResolverOptions.SectionName).Bind(options);
        foreach (var service in _configuration.GetSection($"{MeshClientOptions.SectionName}:Services").GetChildren())
        {
            var dns = service.GetSection("Dns");
            bool namesDns = string.Equals(service["Resolver"], DnsResolverOptions.ResolverName, StringComparison.OrdinalIgnoreCase);
            if (!dns.Exists() && !namesDns)
            {
                continue;
            }

            if (!options.Services.TryGetValue(service.Key, out var serviceOptions) || serviceOptions is null)
            {
                serviceOptions = new DnsServiceOptions();
                options.Services[service.Key] = serviceOptions;
            }

            dns.Bind(serviceOptions);
        }
    }
}

/// <summary>Validates <see cref="DnsResolverOptions"/> at start-up.</summary>
internal sealed class DnsResolverOptionsValidator : IValidateOptions<DnsResolverOptions>
{
    public ValidateOptionsResult Validate(string? name, DnsResolverOptions options)
    {
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
