using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Mesh.Client.Kubernetes.Api;

/// <summary>
/// Where the API server is and how to authenticate to it: from the pod's service account (in-cluster) or from a
/// kubeconfig file. Named and shaped like the KubernetesClient package's <c>KubernetesClientConfiguration</c>
/// (<c>InClusterConfig()</c>, <c>BuildConfigFromConfigFile()</c>).
/// </summary>
/// <remarks>
/// The bearer token is never stored in a field that is printed: <see cref="ToString"/> and every exception message
/// describe where the token comes from, not what it is. A token file is re-read on every request, so a rotated
/// service-account token (kubelet refreshes it well before it expires) is picked up without a restart.
/// </remarks>
internal sealed class KubernetesClientConfiguration
{
    /// <summary>The service-account directory kubelet mounts into every pod.</summary>
    public const string DefaultServiceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    private readonly string? _token;

    private KubernetesClientConfiguration(Uri host, string source, string? token, string? tokenFile)
    {
        Host = host;
        Source = source;
        _token = token;
        TokenFile = tokenFile;
    }

    /// <summary>The API server, e.g. <c>https://10.96.0.1:443</c>.</summary>
    public Uri Host { get; }

    /// <summary>Where this configuration came from, for messages (<c>in-cluster service account</c>, <c>kubeconfig ... context ...</c>).</summary>
    public string Source { get; }

    /// <summary>The namespace the credentials belong to (the pod's, or the context's), if known.</summary>
    public string? Namespace { get; private init; }

    /// <summary>A file holding the bearer token, re-read on every request.</summary>
    public string? TokenFile { get; }

    /// <summary>Certificates the server's certificate must chain to; empty means the system's trust store.</summary>
    public X509Certificate2Collection CaCertificates { get; } = [];

    /// <summary>A client certificate (with its private key) to authenticate with, if the kubeconfig gives one.</summary>
    public X509Certificate2? ClientCertificate { get; private init; }

    /// <summary>kubeconfig's <c>insecure-skip-tls-verify</c>.</summary>
    public bool SkipTlsVerify { get; private init; }

    /// <summary>kubeconfig's <c>tls-server-name</c>: the name the server's certificate is checked against.</summary>
    public string? TlsServerName { get; private init; }

    /// <summary>The bearer token to send now, or null for none; re-reads <see cref="TokenFile"/>.</summary>
    /// <exception cref="IOException">The token file cannot be read (the message names the file).</exception>
    public string? GetAccessToken()
    {
        if (TokenFile is null)
        {
            return _token;
        }

        try
        {
            var token = File.ReadAllText(TokenFile).Trim();
            return token.Length == 0 ? throw new IOException($"The token file '{TokenFile}' is empty.") : token;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or FileNotFoundException or DirectoryNotFoundException)
        {
            throw new IOException($"The token file '{TokenFile}' cannot be read: {ex.GetType().Name}.", ex);
        }
    }

    /// <summary>A configuration given in code (a host and, optionally, a fixed token): for benchmarks and tests.</summary>
    internal static KubernetesClientConfiguration Create(Uri host, string? token = null) => new(host, "code", token, tokenFile: null);

    /// <summary>Whether the process runs in a pod: <c>KUBERNETES_SERVICE_HOST</c> is set and the service-account token exists.</summary>
    public static bool IsInCluster(Func<string, string?> environment, string serviceAccountPath) =>
        !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST"))
        && File.Exists(Path.Combine(serviceAccountPath, "token"));

    /// <summary>
    /// The pod's own credentials: the API server from <c>KUBERNETES_SERVICE_HOST</c>/<c>KUBERNETES_SERVICE_PORT</c>, the
    /// token, <c>ca.crt</c> and <c>namespace</c> from <paramref name="serviceAccountPath"/>.
    /// </summary>
    public static KubernetesClientConfiguration InClusterConfig(Func<string, string?> environment, string serviceAccountPath)
    {
        var host = environment("KUBERNETES_SERVICE_HOST");
        var port = environment("KUBERNETES_SERVICE_PORT");
        if (string.IsNullOrEmpty(host))
        {
            throw new InvalidOperationException("Not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set.");
        }

        port = string.IsNullOrEmpty(port) ? "443" : port;
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int portNumber) || portNumber is < 1 or > 65535)
        {
            throw new InvalidOperationException($"KUBERNETES_SERVICE_PORT is '{port}'; expected a port number.");
        }

        var builder = new UriBuilder(Uri.UriSchemeHttps, host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host, portNumber);
        var tokenFile = Path.Combine(serviceAccountPath, "token");
        if (!File.Exists(tokenFile))
        {
            throw new InvalidOperationException($"The service-account token '{tokenFile}' does not exist; is automountServiceAccountToken off?");
        }

        string? ns = null;
        var namespaceFile = Path.Combine(serviceAccountPath, "namespace");
        if (File.Exists(namespaceFile))
        {
            ns = File.ReadAllText(namespaceFile).Trim();
        }

        var configuration = new KubernetesClientConfiguration(builder.Uri, $"in-cluster service account ({serviceAccountPath})", token: null, tokenFile)
        {
            Namespace = string.IsNullOrEmpty(ns) ? null : ns,
        };

        var caFile = Path.Combine(serviceAccountPath, "ca.crt");
        if (File.Exists(caFile))
        {
            configuration.CaCertificates.ImportFromPemFile(caFile);
        }

        return configuration;
    }

    /// <summary>The kubeconfig files to try: <c>KUBECONFIG</c> (a path list), else <c>~/.kube/config</c>.</summary>
    public static IReadOnlyList<string> DefaultKubeConfigPaths(Func<string, string?> environment)
    {
        var list = environment("KUBECONFIG");
        if (!string.IsNullOrEmpty(list))
        {
            return list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        var home = environment("HOME") ?? environment("USERPROFILE") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? [] : [Path.Combine(home, ".kube", "config")];
    }

    /// <summary>
    /// Reads a kubeconfig file and takes its current context (or <paramref name="context"/>): the cluster's server and
    /// CA, the user's token, token file or client certificate, and the context's namespace.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file lacks what is needed, or asks for an unsupported auth method; the message says which.</exception>
    public static KubernetesClientConfiguration BuildConfigFromConfigFile(string path, string? context = null)
    {
        KubeConfigFile file;
        try
        {
            file = KubeConfigFile.Parse(File.ReadAllText(path));
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            // The YAML parser's message quotes no values, only positions.
            throw new InvalidOperationException($"kubeconfig '{path}' is not valid YAML: {ex.Message}", ex);
        }

        var contextName = context ?? file.CurrentContext;
        if (string.IsNullOrEmpty(contextName))
        {
            throw new InvalidOperationException($"kubeconfig '{path}' has no current-context.");
        }

        var ctx = file.Contexts?.Find(c => c.Name == contextName)?.Context
            ?? throw new InvalidOperationException($"kubeconfig '{path}' has no context '{contextName}'.");
        var cluster = file.Clusters?.Find(c => c.Name == ctx.Cluster)?.Cluster
            ?? throw new InvalidOperationException($"kubeconfig '{path}': context '{contextName}' names cluster '{ctx.Cluster}', which is not defined.");
        var user = ctx.User is null ? null : file.Users?.Find(u => u.Name == ctx.User)?.User;
        if (ctx.User is not null && user is null)
        {
            throw new InvalidOperationException($"kubeconfig '{path}': context '{contextName}' names user '{ctx.User}', which is not defined.");
        }

        if (string.IsNullOrEmpty(cluster.Server) || !Uri.TryCreate(cluster.Server, UriKind.Absolute, out var server))
        {
            throw new InvalidOperationException($"kubeconfig '{path}': cluster '{ctx.Cluster}' has server '{cluster.Server}'; expected an https URL.");
        }

        string where = $"kubeconfig '{path}' context '{contextName}'";
        if (user?.Exec is not null || user?.AuthProvider is not null)
        {
            throw new InvalidOperationException(
                $"{where}: user '{ctx.User}' authenticates with an {(user.Exec is not null ? "exec" : "auth-provider")} plugin, which Mesh.Client.Kubernetes does not run; use a token, a token file or a client certificate.");
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        string? tokenFile = user?.TokenFile is { Length: > 0 } tf ? Path.Combine(directory, tf) : null;
        var configuration = new KubernetesClientConfiguration(server, where, user?.Token, tokenFile)
        {
            Namespace = string.IsNullOrEmpty(ctx.Namespace) ? null : ctx.Namespace,
            SkipTlsVerify = cluster.InsecureSkipTlsVerify,
            TlsServerName = string.IsNullOrEmpty(cluster.TlsServerName) ? null : cluster.TlsServerName,
            ClientCertificate = LoadClientCertificate(user, directory, where),
        };

        if (!string.IsNullOrEmpty(cluster.CertificateAuthorityData))
        {
            configuration.CaCertificates.ImportFromPem(DecodeBase64(cluster.CertificateAuthorityData, where, "certificate-authority-data"));
        }
        else if (!string.IsNullOrEmpty(cluster.CertificateAuthority))
        {
            configuration.CaCertificates.ImportFromPemFile(Path.Combine(directory, cluster.CertificateAuthority));
        }

        return configuration;
    }

    private static X509Certificate2? LoadClientCertificate(KubeConfigFile.UserEntry? user, string directory, string where)
    {
        if (user is null)
        {
            return null;
        }

        string? certPem = !string.IsNullOrEmpty(user.ClientCertificateData) ? DecodeBase64(user.ClientCertificateData, where, "client-certificate-data")
            : !string.IsNullOrEmpty(user.ClientCertificate) ? File.ReadAllText(Path.Combine(directory, user.ClientCertificate)) : null;
        string? keyPem = !string.IsNullOrEmpty(user.ClientKeyData) ? DecodeBase64(user.ClientKeyData, where, "client-key-data")
            : !string.IsNullOrEmpty(user.ClientKey) ? File.ReadAllText(Path.Combine(directory, user.ClientKey)) : null;
        if (certPem is null && keyPem is null)
        {
            return null;
        }

        if (certPem is null || keyPem is null)
        {
            throw new InvalidOperationException($"{where}: a client certificate needs both a certificate and a key; only the {(certPem is null ? "key" : "certificate")} is given.");
        }

        using var ephemeral = X509Certificate2.CreateFromPem(certPem, keyPem);

        // A PKCS#12 round trip gives the key a form every platform's TLS stack accepts for client authentication.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
    }

    private static string DecodeBase64(string value, string where, string field)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(value));
        }
        catch (FormatException)
        {
            // The value is secret material (a key): name the field, never quote it.
            throw new InvalidOperationException($"{where}: '{field}' is not valid base64.");
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Host} ({Source})";
}
