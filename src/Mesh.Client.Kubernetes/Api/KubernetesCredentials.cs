using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using k8s;
using k8s.Authentication;
using k8s.KubeConfigModels;
using YamlDotNet.Serialization;

namespace Mesh.Client.Kubernetes.Api;

/// <summary>
/// Where the API server is and how to authenticate to it, as a KubernetesClient configuration: the pod's service
/// account (in-cluster), or kubeconfig files merged as kubectl merges them. KubernetesClient runs exec plugins, OIDC
/// auth-providers, client certificates and tokens; the system proxy (<c>HTTPS_PROXY</c>, <c>NO_PROXY</c>) applies.
/// </summary>
internal static class KubernetesCredentials
{
    /// <summary>The service-account directory kubelet mounts into every pod.</summary>
    public const string DefaultServiceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>Whether the process runs in a pod: <c>KUBERNETES_SERVICE_HOST</c> is set and the service-account token exists.</summary>
    public static bool IsInCluster(Func<string, string?> environment, string serviceAccountPath) =>
        !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST"))
        && File.Exists(Path.Combine(serviceAccountPath, "token"));

    /// <summary>
    /// The pod's own credentials: the API server from <c>KUBERNETES_SERVICE_HOST</c>/<c>KUBERNETES_SERVICE_PORT</c>, the
    /// token (re-read on every request, so kubelet's rotation is followed), <c>ca.crt</c> and <c>namespace</c> from
    /// <paramref name="serviceAccountPath"/>. Built here rather than with KubernetesClient's <c>InClusterConfig()</c>,
    /// whose paths and environment are fixed and whose token is cached for a minute.
    /// </summary>
    public static KubernetesClientConfiguration InCluster(Func<string, string?> environment, string serviceAccountPath)
    {
        var host = environment("KUBERNETES_SERVICE_HOST");
        if (string.IsNullOrEmpty(host))
        {
            throw new InvalidOperationException("Not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set.");
        }

        var port = environment("KUBERNETES_SERVICE_PORT") is { Length: > 0 } p ? p : "443";
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int portNumber) || portNumber is < 1 or > 65535)
        {
            throw new InvalidOperationException($"KUBERNETES_SERVICE_PORT is '{port}'; expected a port number.");
        }

        var tokenFile = Path.Combine(serviceAccountPath, "token");
        if (!File.Exists(tokenFile))
        {
            throw new InvalidOperationException($"The service-account token '{tokenFile}' does not exist; is automountServiceAccountToken off?");
        }

        var namespaceFile = Path.Combine(serviceAccountPath, "namespace");
        var ns = File.Exists(namespaceFile) ? File.ReadAllText(namespaceFile).Trim() : null;
        var caFile = Path.Combine(serviceAccountPath, "ca.crt");
        X509Certificate2Collection? ca = null;
        if (File.Exists(caFile))
        {
            ca = [];
            ca.ImportFromPemFile(caFile);
        }

        return new KubernetesClientConfiguration
        {
            Host = new UriBuilder(Uri.UriSchemeHttps, host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host, portNumber).Uri.ToString(),
            TokenProvider = new TokenFileProvider(tokenFile),
            SslCaCerts = ca,
            Namespace = string.IsNullOrEmpty(ns) ? null : ns,
        };
    }

    /// <summary>The kubeconfig files to merge: <c>KUBECONFIG</c> (a path list; files that do not exist are skipped, as kubectl does), else <c>~/.kube/config</c>.</summary>
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
    /// Merges <paramref name="paths"/> as kubectl does (for clusters, contexts and users, the first file to define a name
    /// wins; the first <c>current-context</c> wins; relative paths are relative to the file that holds them), then lets
    /// KubernetesClient build the configuration of <paramref name="context"/> (default: the current context). An exec
    /// plugin runs here, and again whenever its credential expires.
    /// </summary>
    /// <exception cref="InvalidOperationException">The files lack what is needed or cannot be used; the message says which.</exception>
    public static KubernetesClientConfiguration FromKubeConfig(IReadOnlyList<string> paths, string? context)
    {
        K8SConfiguration? merged = null;
        var tokenFiles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var file = KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(path), useRelativePaths: false);
            var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
            Absolutize(file, directory);
            foreach (var user in KubernetesYaml.Deserialize<UserTokenFiles>(File.ReadAllText(path)).Users ?? [])
            {
                if (user.Name is { } fileUser && user.User?.TokenFile is { Length: > 0 } tokenFile)
                {
                    tokenFiles.TryAdd(fileUser, Path.Combine(directory, tokenFile));
                }
            }

            merged = merged is null ? file : Merge(merged, file);
        }

        if (merged is null)
        {
            throw new InvalidOperationException("No kubeconfig file exists.");
        }

        string where = $"kubeconfig '{string.Join(Path.PathSeparator, paths)}'";
        var name = context ?? merged.CurrentContext;
        if (string.IsNullOrEmpty(name))
        {
            throw new InvalidOperationException($"{where} has no current-context.");
        }

        if (!merged.Contexts.Any(c => c.Name == name))
        {
            throw new InvalidOperationException($"{where} has no context '{name}'.");
        }

        // A user's tokenFile (which KubernetesClient does not read; a token, when given too, wins as in kubectl): re-read on every request.
        var userName = merged.Contexts.First(c => c.Name == name).ContextDetails?.User;
        string? userTokenFile = null;
        if (userName is not null && tokenFiles.TryGetValue(userName, out var candidate)
            && merged.Users?.FirstOrDefault(u => u.Name == userName)?.UserCredentials is { } credentials && string.IsNullOrEmpty(credentials.Token))
        {
            userTokenFile = candidate;
            credentials.Token = File.ReadAllText(candidate).Trim(); // so KubernetesClient accepts the user; replaced by the provider below
        }

        try
        {
            var configuration = KubernetesClientConfiguration.BuildConfigFromConfigObject(merged, name);
            if (userTokenFile is not null)
            {
                configuration.AccessToken = null;
                configuration.TokenProvider = new TokenFileProvider(userTokenFile);
            }
            else if (configuration.TokenProvider is ExecTokenProvider
                && merged.Users?.FirstOrDefault(u => u.Name == userName)?.UserCredentials?.ExternalExecution is { } exec)
            {
                configuration.TokenProvider = new ExecPluginTokenProvider(exec);
            }

            return configuration;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not InvalidOperationException)
        {
            // KubernetesClient's messages name contexts, users and plugins, not secrets (an exec plugin's output is not quoted).
            throw new InvalidOperationException($"{where} context '{name}' cannot be used: {ex.Message}", ex);
        }
    }

    private static K8SConfiguration Merge(K8SConfiguration first, K8SConfiguration next)
    {
        first.CurrentContext = string.IsNullOrEmpty(first.CurrentContext) ? next.CurrentContext : first.CurrentContext;
        first.Clusters = [.. first.Clusters ?? [], .. (next.Clusters ?? []).Where(c => !(first.Clusters ?? []).Any(f => f.Name == c.Name))];
        first.Contexts = [.. first.Contexts ?? [], .. (next.Contexts ?? []).Where(c => !(first.Contexts ?? []).Any(f => f.Name == c.Name))];
        first.Users = [.. first.Users ?? [], .. (next.Users ?? []).Where(u => !(first.Users ?? []).Any(f => f.Name == u.Name))];
        return first;
    }

    private static void Absolutize(K8SConfiguration file, string directory)
    {
        static string? Full(string? path, string directory) => string.IsNullOrEmpty(path) ? path : Path.Combine(directory, path);
        foreach (var cluster in file.Clusters ?? [])
        {
            if (cluster.ClusterEndpoint is { } endpoint)
            {
                endpoint.CertificateAuthority = Full(endpoint.CertificateAuthority, directory);
            }
        }

        foreach (var user in file.Users ?? [])
        {
            if (user.UserCredentials is { } credentials)
            {
                credentials.ClientCertificate = Full(credentials.ClientCertificate, directory);
                credentials.ClientKey = Full(credentials.ClientKey, directory);
            }
        }
    }

    /// <summary>
    /// KubernetesClient's exec-plugin credential, which it runs again only when the credential's expiry nears; this one
    /// also runs the plugin again after the API server rejected the credential (401), as client-go does.
    /// </summary>
    internal sealed class ExecPluginTokenProvider(ExternalExecution exec) : ITokenProvider
    {
        private ExecTokenProvider _current = new(exec);

        /// <summary>The API server answered 401: the next request runs the plugin again.</summary>
        public void Rejected() => Volatile.Write(ref _current, new ExecTokenProvider(exec));

        public Task<AuthenticationHeaderValue> GetAuthenticationHeaderAsync(CancellationToken cancellationToken) =>
            Volatile.Read(ref _current).GetAuthenticationHeaderAsync(cancellationToken);
    }

    /// <summary>The one kubeconfig field the resolver reads itself: a user's <c>tokenFile</c>.</summary>
    private sealed class UserTokenFiles
    {
        [YamlMember(Alias = "users", ApplyNamingConventions = false)]
        public List<NamedUser>? Users { get; set; }

        public sealed class NamedUser
        {
            [YamlMember(Alias = "name", ApplyNamingConventions = false)]
            public string? Name { get; set; }

            [YamlMember(Alias = "user", ApplyNamingConventions = false)]
            public TokenFileUser? User { get; set; }
        }

        public sealed class TokenFileUser
        {
            [YamlMember(Alias = "tokenFile", ApplyNamingConventions = false)]
            public string? TokenFile { get; set; }
        }
    }

    /// <summary>A bearer token read from a file on every request: kubelet rotates projected service-account tokens (and a kubeconfig's tokenFile may be rotated too).</summary>
    private sealed class TokenFileProvider(string path) : ITokenProvider
    {
        public async Task<AuthenticationHeaderValue> GetAuthenticationHeaderAsync(CancellationToken cancellationToken)
        {
            string token;
            try
            {
                token = (await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)).Trim();
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or FileNotFoundException or DirectoryNotFoundException)
            {
                throw new IOException($"The token file '{path}' cannot be read: {ex.GetType().Name}.", ex);
            }

            return token.Length == 0 ? throw new IOException($"The token file '{path}' is empty.") : new AuthenticationHeaderValue("Bearer", token);
        }
    }
}
