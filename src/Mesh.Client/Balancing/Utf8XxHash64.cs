using System.IO.Hashing;
using System.Text;

namespace Mesh.Client.Balancing;

/// <summary>
/// XXH64 of a string's UTF-8 bytes, as Envoy and gRPC hash ring keys, endpoint keys and header values: the bytes are
/// encoded on the stack for short strings, so hashing a request allocates nothing.
/// </summary>
internal static class Utf8XxHash64
{
    public static ulong Hash(string text, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Hash(text.AsSpan(), seed);
    }

    public static ulong Hash(ReadOnlySpan<char> text, long seed = 0)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        if (max <= 512)
        {
            Span<byte> buffer = stackalloc byte[max];
            int written = Encoding.UTF8.GetBytes(text, buffer);
            return XxHash64.HashToUInt64(buffer[..written], seed);
        }

        return XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text.ToArray()), seed);
    }
}
