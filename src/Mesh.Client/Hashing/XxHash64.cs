using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Mesh.Client.Hashing;

/// <summary>
/// XXH64, the 64-bit xxHash of Yann Collet, shaped like <c>System.IO.Hashing.XxHash64</c> (which the package registry
/// here does not serve). Consistent-hashing balancers use it because Envoy and gRPC do: the same key gives the same
/// 64-bit value here as there, which is what lets .NET clients share request affinity with them.
/// </summary>
/// <remarks>One-shot only; the value is that of the reference implementation (little-endian input reads, canonical output as a number).</remarks>
public static class XxHash64
{
    private const ulong Prime1 = 0x9E3779B185EBCA87UL;
    private const ulong Prime2 = 0xC2B2AE3D27D4EB4FUL;
    private const ulong Prime3 = 0x165667B19E3779F9UL;
    private const ulong Prime4 = 0x85EBCA77C2B2AE63UL;
    private const ulong Prime5 = 0x27D4EB2F165667C5UL;

    /// <summary>Computes the XXH64 hash of <paramref name="source"/> with <paramref name="seed"/>.</summary>
    /// <param name="source">The bytes to hash.</param>
    /// <param name="seed">The seed; Envoy's ring hash and Maglev offset use 0, Maglev's skip uses 1.</param>
    /// <returns>The hash as a number (the canonical big-endian digest read as an unsigned integer).</returns>
    public static ulong HashToUInt64(ReadOnlySpan<byte> source, long seed = 0)
    {
        ulong s = unchecked((ulong)seed);
        int length = source.Length;
        ulong hash;
        int offset = 0;

        if (length >= 32)
        {
            ulong v1 = unchecked(s + Prime1 + Prime2);
            ulong v2 = unchecked(s + Prime2);
            ulong v3 = s;
            ulong v4 = unchecked(s - Prime1);
            int limit = length - 32;
            do
            {
                v1 = Round(v1, BinaryPrimitives.ReadUInt64LittleEndian(source.Slice(offset)));
                v2 = Round(v2, BinaryPrimitives.ReadUInt64LittleEndian(source.Slice(offset + 8)));
                v3 = Round(v3, BinaryPrimitives.ReadUInt64LittleEndian(source.Slice(offset + 16)));
                v4 = Round(v4, BinaryPrimitives.ReadUInt64LittleEndian(source.Slice(offset + 24)));
                offset += 32;
            }
            while (offset <= limit);

            hash = unchecked(BitOperations.RotateLeft(v1, 1) + BitOperations.RotateLeft(v2, 7)
                + BitOperations.RotateLeft(v3, 12) + BitOperations.RotateLeft(v4, 18));
            hash = MergeRound(hash, v1);
            hash = MergeRound(hash, v2);
            hash = MergeRound(hash, v3);
            hash = MergeRound(hash, v4);
        }
        else
        {
            hash = unchecked(s + Prime5);
        }

        hash = unchecked(hash + (ulong)length);

        while (offset + 8 <= length)
        {
            ulong k1 = Round(0, BinaryPrimitives.ReadUInt64LittleEndian(source.Slice(offset)));
            hash ^= k1;
            hash = unchecked((BitOperations.RotateLeft(hash, 27) * Prime1) + Prime4);
            offset += 8;
        }

        if (offset + 4 <= length)
        {
            hash ^= unchecked(BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(offset)) * Prime1);
            hash = unchecked((BitOperations.RotateLeft(hash, 23) * Prime2) + Prime3);
            offset += 4;
        }

        while (offset < length)
        {
            hash ^= unchecked(source[offset] * Prime5);
            hash = unchecked(BitOperations.RotateLeft(hash, 11) * Prime1);
            offset++;
        }

        hash ^= hash >> 33;
        hash = unchecked(hash * Prime2);
        hash ^= hash >> 29;
        hash = unchecked(hash * Prime3);
        hash ^= hash >> 32;
        return hash;
    }

    /// <summary>
    /// Computes the XXH64 hash of <paramref name="text"/>'s UTF-8 bytes: how Envoy and gRPC hash string keys
    /// (endpoint hash keys, header values). Short strings are encoded on the stack.
    /// </summary>
    public static ulong HashToUInt64(string text, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        return HashToUInt64(text.AsSpan(), seed);
    }

    /// <summary>Computes the XXH64 hash of <paramref name="text"/>'s UTF-8 bytes; see <see cref="HashToUInt64(string, long)"/>.</summary>
    public static ulong HashToUInt64(ReadOnlySpan<char> text, long seed = 0)
    {
        int max = System.Text.Encoding.UTF8.GetMaxByteCount(text.Length);
        if (max <= 512)
        {
            Span<byte> buffer = stackalloc byte[max];
            int written = System.Text.Encoding.UTF8.GetBytes(text, buffer);
            return HashToUInt64(buffer[..written], seed);
        }

        return HashToUInt64(System.Text.Encoding.UTF8.GetBytes(text.ToArray()), seed);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Round(ulong accumulator, ulong input)
    {
        accumulator = unchecked(accumulator + (input * Prime2));
        accumulator = BitOperations.RotateLeft(accumulator, 31);
        return unchecked(accumulator * Prime1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MergeRound(ulong accumulator, ulong value)
    {
        value = Round(0, value);
        accumulator ^= value;
        return unchecked((accumulator * Prime1) + Prime4);
    }
}
