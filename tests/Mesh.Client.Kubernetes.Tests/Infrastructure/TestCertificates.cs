using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>
/// A cluster CA made in the test, a server certificate it signed for 127.0.0.1, and a client certificate it signed
/// (kubeconfig client-certificate auth); plus a second, unrelated CA to prove the client rejects other servers.
/// </summary>
public sealed class TestCertificates
{
    private static readonly Lazy<TestCertificates> s_shared = new(() => new TestCertificates());

    private TestCertificates()
    {
        Ca = CreateCa("mesh-test-cluster-ca");
        Server = Issue(Ca, "kube-apiserver", server: true);
        Client = Issue(Ca, "mesh-test-user", server: false);
        OtherCa = CreateCa("someone-elses-ca");
        OtherServer = Issue(OtherCa, "impostor-apiserver", server: true);
    }

    public static TestCertificates Shared => s_shared.Value;

    public X509Certificate2 Ca { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 Client { get; }

    public X509Certificate2 OtherCa { get; }

    public X509Certificate2 OtherServer { get; }

    public string CaPem => Ca.ExportCertificatePem();

    public string ClientCertificatePem => Client.ExportCertificatePem();

    public string ClientKeyPem => Client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return X509CertificateLoader.LoadPkcs12(ca.Export(X509ContentType.Pkcs12), null);
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(30), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}
