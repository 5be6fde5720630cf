using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.Grpc.Tests.Infrastructure;

namespace Mesh.Client.Grpc.Tests;

/// <summary>gRPC over TLS (HTTP/2 by ALPN) through the mesh, with <c>HostHeader=LogicalName</c>: SNI, certificate and :authority name the service.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task Tls_calls_with_the_logical_name_policy_carry_the_service_name_and_spread_across_backends()
    {
        using var certificate = CreateCertificate("greeter");
        var serverNames = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var backends = new[]
        {
            await GreeterBackend.StartAsync("t0", certificate, serverNames.Enqueue),
            await GreeterBackend.StartAsync("t1", certificate, serverNames.Enqueue),
        };
        var errors = new System.Collections.Concurrent.ConcurrentQueue<SslPolicyErrors>();
        try
        {
            await using var provider = GreeterFleet.CreateClient(backends.Select(b => b.Address), "https", o =>
            {
                o.Balancer = "RoundRobin";
                o.HostHeader = HostHeaderPolicy.LogicalName;
            }, client: http => http.ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    // Self-signed: accept an untrusted chain and nothing else (a name mismatch fails).
                    RemoteCertificateValidationCallback = (_, cert, _, sslErrors) =>
                    {
                        errors.Enqueue(sslErrors);
                        return cert is not null && (sslErrors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None;
                    },
                },
            }));
            var client = provider.GetRequiredService<Greeter.GreeterClient>();

            for (int i = 0; i < 10; i++)
            {
                await CallTypeTests.CallAsync(client, i % 2 == 0 ? CallTypeTests.CallType.Unary : CallTypeTests.CallType.ServerStreaming, $"c{i}");
            }

            Assert.All(backends, b => Assert.Equal(5, b.Calls));
            Assert.All(backends.SelectMany(b => b.Authorities), a => Assert.Equal("greeter", a));
            Assert.NotEmpty(serverNames);
            Assert.All(serverNames, n => Assert.Equal("greeter", n));
            Assert.All(errors, e => Assert.Equal(SslPolicyErrors.RemoteCertificateChainErrors, e)); // the name matched
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    internal static X509Certificate2 CreateCertificate(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }
}
