using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Tests.Integration;

/// <summary>
/// With <see cref="HostHeaderPolicy.LogicalName"/>, an https request carries the logical name as TLS server name (SNI)
/// and the certificate is validated against it; by default the endpoint's address is used.
/// </summary>
public sealed class HostHeaderTlsTests : IAsyncLifetime
{
    private readonly List<string?> _serverNames = [];
    private X509Certificate2 _certificate = null!;
    private TestBackend _backend = null!;

    public async Task InitializeAsync()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=catalog", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("catalog");
        request.CertificateExtensions.Add(san.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        _certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
        _backend = await TestBackend.StartHttpsAsync("tls", https => https.ServerCertificateSelector = (_, name) =>
        {
            lock (_serverNames)
            {
                _serverNames.Add(name);
            }

            return _certificate;
        });
    }

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync();
        _certificate.Dispose();
    }

    private async Task<(SslPolicyErrors Errors, ReceivedRequest Received)> SendAsync(HostHeaderPolicy policy)
    {
        SslPolicyErrors seen = SslPolicyErrors.None;
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", _backend.Address);
        services.AddHttpClient("tls", c => c.BaseAddress = new Uri("https://catalog"))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    // The test certificate is self-signed: accept an untrusted chain, nothing else, and record what was seen.
                    RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    {
                        seen = errors;
                        return certificate is not null && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None;
                    },
                },
            })
            .AddMeshHandler(o => o.HostHeader = policy);
        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("tls");
        int before = _backend.Count;

        try
        {
            using var response = await client.GetAsync(new Uri("/secure", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        }
        catch (HttpRequestException) when (policy == HostHeaderPolicy.Endpoint)
        {
            // Expected: the certificate names 'catalog', not 127.0.0.1.
        }

        return (seen, _backend.Count > before ? _backend.Received.Last() : null!);
    }

    [Fact]
    public async Task Logical_name_policy_sends_sni_and_validates_the_certificate_for_the_logical_name()
    {
        var (errors, received) = await SendAsync(HostHeaderPolicy.LogicalName);

        Assert.Equal(SslPolicyErrors.RemoteCertificateChainErrors, errors);
        Assert.NotNull(received);
        Assert.Equal("catalog", received.Host);
        Assert.Contains("catalog", _serverNames);
    }

    [Fact]
    public async Task Endpoint_policy_validates_the_certificate_against_the_endpoint_address()
    {
        var (errors, _) = await SendAsync(HostHeaderPolicy.Endpoint);

        Assert.True(errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch), $"expected a name mismatch against 127.0.0.1, saw {errors}");
        Assert.DoesNotContain("catalog", _serverNames);
    }
}
