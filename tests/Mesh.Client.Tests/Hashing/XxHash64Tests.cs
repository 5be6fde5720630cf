using System.Text;
using Mesh.Client.Hashing;

namespace Mesh.Client.Tests.Hashing;

public sealed class XxHash64Tests
{
    private const uint Prime32 = 2654435761U;
    private const ulong Prime64 = 11400714785074694797UL;

    /// <summary>
    /// The xxHash project's sanity buffer (tests/sanity_test_vectors.h, xsum_sanity_check.c): byte i is the top byte of
    /// a generator that starts at PRIME32 and is multiplied by PRIME64 each step.
    /// </summary>
    private static byte[] SanityBuffer(int length)
    {
        var buffer = new byte[length];
        ulong generator = Prime32;
        for (int i = 0; i < length; i++)
        {
            buffer[i] = (byte)(generator >> 56);
            generator = unchecked(generator * Prime64);
        }

        return buffer;
    }

    // XSUM_XXH64_testdata from the xxHash project: { length, seed, expected }.
    [Theory]
    [InlineData(0, 0UL, 0xEF46DB3751D8E999UL)]
    [InlineData(0, Prime32, 0xAC75FDA2929B17EFUL)]
    [InlineData(1, 0UL, 0xE934A84ADB052768UL)]
    [InlineData(1, Prime32, 0x5014607643A9B4C3UL)]
    [InlineData(4, 0UL, 0x9136A0DCA57457EEUL)]
    [InlineData(14, 0UL, 0x8282DCC4994E35C8UL)]
    [InlineData(14, Prime32, 0xC3BD6BF63DEB6DF0UL)]
    [InlineData(222, 0UL, 0xB641AE8CB691C174UL)]
    [InlineData(222, Prime32, 0x20CB8AB7AE10C14AUL)]
    public void Matches_the_xxhash_projects_sanity_vectors(int length, ulong seed, ulong expected)
    {
        Assert.Equal(expected, XxHash64.HashToUInt64(SanityBuffer(length), (long)seed));
    }

    // Published values for short strings (xxhsum, ClickHouse's xxHash64 tests, the Nim binding's tests).
    [Theory]
    [InlineData("", 0xEF46DB3751D8E999UL)]
    [InlineData("a", 15154266338359012955UL)]
    [InlineData("ab", 7347350983217793633UL)]
    [InlineData("abc", 4952883123889572249UL)]
    [InlineData("ABC", 0xE66AE7354FCFEE98UL)]
    [InlineData("xxhash", 0x32DD38952C4BC720UL)]
    public void Matches_published_values_for_strings(string text, ulong expected)
    {
        Assert.Equal(expected, XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(expected, XxHash64.HashToUInt64(text));
    }

    [Fact]
    public void Every_length_from_0_to_100_takes_the_same_value_through_the_string_and_byte_overloads()
    {
        var text = new string('x', 100) + "é";
        for (int length = 0; length <= text.Length; length++)
        {
            var slice = text[..length];
            Assert.Equal(XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(slice)), XxHash64.HashToUInt64(slice.AsSpan()));
        }
    }

    [Fact]
    public void A_long_string_hashes_without_the_stack_buffer()
    {
        var text = new string('k', 4096);
        Assert.Equal(XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text), 1), XxHash64.HashToUInt64(text, 1));
    }
}
