namespace WebSdkConsumer;

/// <summary>
/// <see cref="PublicNames"/> compiles only if no public Mesh.Client name collides with a name the Web SDK's implicit
/// usings bring in; these tests keep its lists complete, so a new public type is checked too.
/// </summary>
public sealed class PublicNamesTests
{
    private static readonly System.Reflection.Assembly[] s_assemblies =
    [
        typeof(MeshClientOptions).Assembly,
        typeof(KubernetesResolverOptions).Assembly,
        typeof(MeshDiagnosticsEndpointRouteBuilderExtensions).Assembly,
    ];

    [Fact]
    public void Every_public_type_of_the_three_packages_is_written_by_its_simple_name_in_PublicNames()
    {
        var exported = s_assemblies.SelectMany(a => a.GetExportedTypes()).Select(t => t.FullName!).Order(StringComparer.Ordinal);
        var listed = PublicNames.Options.Concat(PublicNames.Others).Select(t => t.FullName!).Order(StringComparer.Ordinal);

        Assert.Equal(exported, listed);
    }

    [Fact]
    public void Every_public_options_type_named_by_its_simple_name_is_the_Mesh_Client_one()
    {
        Assert.All(PublicNames.Options, t =>
        {
            Assert.Contains(t.Assembly, s_assemblies);
            Assert.StartsWith("Mesh.Client", t.Namespace, StringComparison.Ordinal);
        });
        Assert.Equal(PublicNames.Options.Length, PublicNames.Options.Distinct().Count());
    }
}
