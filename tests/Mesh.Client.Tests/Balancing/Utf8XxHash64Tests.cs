using System.Text;

using Mesh.Client.Balancing;
using XxHash64 = System.IO.Hashing.XxHash64;

namespace Mesh.Client.Tests.Balancing;

public sealed class Utf8XxHash64Tests
{
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
        Assert.Equal(expected, Utf8XxHash64.Hash(text));
    }

    [Fact]
    public void Every_length_from_0_to_100_takes_the_same_value_through_the_string_and_byte_overloads()
    {
        var text = new string('x', 100) + "é";
        for (int length = 0; length <= text.Length; length++)
        {
            var slice = text[..length];
            Assert.Equal(XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(slice)), Utf8XxHash64.Hash(slice.AsSpan()));
        }
    }

    [Fact]
    public void A_long_string_hashes_without_the_stack_buffer()
    {
        var text = new string('k', 4096);
        Assert.Equal(XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text), 1), Utf8XxHash64.Hash(text, 1));
    }
}
