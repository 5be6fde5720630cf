using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Mesh.Client.Kubernetes.Api;

/// <summary>
/// A kubeconfig file (<c>~/.kube/config</c>), as far as the resolver reads it: clusters, users, contexts and the
/// current context. Field names as kubectl writes them.
/// </summary>
internal sealed class KubeConfigFile
{
    [YamlMember(Alias = "current-context")]
    public string? CurrentContext { get; set; }

    public List<NamedCluster>? Clusters { get; set; }

    public List<NamedContext>? Contexts { get; set; }

    public List<NamedUser>? Users { get; set; }

    public static KubeConfigFile Parse(string yaml)
    {
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(HyphenatedNamingConvention.Instance)
            .IgnoreUnmatchedProperties()
            .Build();
        return deserializer.Deserialize<KubeConfigFile?>(yaml) ?? new KubeConfigFile();
    }

    public sealed class NamedCluster
    {
        public string? Name { get; set; }

        public ClusterEntry? Cluster { get; set; }
    }

    public sealed class ClusterEntry
    {
        public string? Server { get; set; }

        public string? CertificateAuthority { get; set; }

        public string? CertificateAuthorityData { get; set; }

        public bool InsecureSkipTlsVerify { get; set; }

        public string? TlsServerName { get; set; }
    }

    public sealed class NamedContext
    {
        public string? Name { get; set; }

        public ContextEntry? Context { get; set; }
    }

    public sealed class ContextEntry
    {
        public string? Cluster { get; set; }

        public string? User { get; set; }

        public string? Namespace { get; set; }
    }

    public sealed class NamedUser
    {
        public string? Name { get; set; }

        public UserEntry? User { get; set; }
    }

    public sealed class UserEntry
    {
        public string? Token { get; set; }

        [YamlMember(Alias = "tokenFile")]
        public string? TokenFile { get; set; }

        public string? ClientCertificate { get; set; }

        public string? ClientCertificateData { get; set; }

        public string? ClientKey { get; set; }

        public string? ClientKeyData { get; set; }

        public Dictionary<object, object>? Exec { get; set; }

        public Dictionary<object, object>? AuthProvider { get; set; }

        public string? Username { get; set; }
    }
}
