using System.Text.Json;

namespace Mesh.Client;

/// <summary>Compares two option objects by value, so a reload rebuilds only what changed. Off the request path.</summary>
internal static class OptionsComparer
{
    private static readonly JsonSerializerOptions s_json = new() { IncludeFields = false };

    public static bool Same<T>(T a, T b) where T : class =>
        ReferenceEquals(a, b) || JsonSerializer.Serialize(a, s_json) == JsonSerializer.Serialize(b, s_json);
}
