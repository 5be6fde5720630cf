namespace Mesh.Client.AspNetCore;

/// <summary>The diagnostics page: one self-contained HTML file (inline CSS and script), embedded in the assembly.</summary>
internal static class DiagnosticsPage
{
    private static readonly Lazy<byte[]> s_html = new(Load);

    public static ReadOnlyMemory<byte> Html => s_html.Value;

    private static byte[] Load()
    {
        const string name = "Mesh.Client.AspNetCore.DiagnosticsPage.html";
        using var stream = typeof(DiagnosticsPage).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded resource '{name}' is missing from the assembly.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
