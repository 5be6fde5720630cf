using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Mesh.Client.Discovery.Dns;

/// <summary>
/// The DNS wire format (RFC 1035 §4): writes one-question queries and parses replies, rejecting anything malformed or
/// hostile with a <see cref="DnsResponseException"/> that says what was wrong.
/// </summary>
/// <remarks>
/// <para>A reply is read defensively, as untrusted input: every read is bounds-checked; section counts are checked
/// against the bytes present before anything is allocated; a compression pointer must point strictly before the
/// place it is read from (so a pointer chain always ends: no loops) and inside the message; a name is at most 255
/// bytes of at most 63-byte labels; record data must be exactly as long as its type requires.</para>
/// </remarks>
internal static class DnsMessage
{
    /// <summary>The largest name on the wire (RFC 1035 §3.1).</summary>
    public const int MaxNameLength = 255;

    private const int HeaderLength = 12;

    /// <summary>The fewest bytes a resource record can take: a root name, then type, class, TTL and RDLENGTH.</summary>
    private const int MinRecordLength = 11;

    private const ushort ClassIn = 1;

    /// <summary>Writes a standard recursive query for <paramref name="name"/> (without a trailing dot, or with one).</summary>
    /// <exception cref="ArgumentException">The name is not a valid DNS name.</exception>
    public static byte[] WriteQuery(ushort id, string name, QueryType type)
    {
        var labels = SplitName(name);
        int nameLength = 1;
        foreach (var label in labels)
        {
            nameLength += 1 + label.Length;
        }

        if (nameLength > MaxNameLength)
        {
            throw new ArgumentException($"DNS name '{name}' is longer than {MaxNameLength} bytes.", nameof(name));
        }

        var message = new byte[HeaderLength + nameLength + 4];
        BinaryPrimitives.WriteUInt16BigEndian(message, id);
        message[2] = 0x01; // RD: recursion desired
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(4), 1); // QDCOUNT
        int offset = HeaderLength;
        foreach (var label in labels)
        {
            message[offset++] = (byte)label.Length;
            label.CopyTo(message, offset);
            offset += label.Length;
        }

        message[offset++] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(offset), (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(offset + 2), ClassIn);
        return message;
    }

    /// <summary>
    /// Parses a reply to the question (<paramref name="id"/>, <paramref name="name"/>, <paramref name="type"/>).
    /// </summary>
    /// <exception cref="DnsResponseException">The reply is malformed, or answers another question.</exception>
    public static DnsQueryResponse Parse(ReadOnlySpan<byte> message, ushort id, string name, QueryType type)
    {
        if (message.Length < HeaderLength)
        {
            throw Malformed($"the reply is {message.Length} bytes, shorter than a DNS header ({HeaderLength})");
        }

        ushort replyId = BinaryPrimitives.ReadUInt16BigEndian(message);
        if (replyId != id)
        {
            throw Malformed($"the reply's id {replyId} does not match the query's id {id}");
        }

        byte flags1 = message[2];
        byte flags2 = message[3];
        if ((flags1 & 0x80) == 0)
        {
            throw Malformed("the message is a query, not a reply (QR bit clear)");
        }

        if (((flags1 >> 3) & 0x0F) != 0)
        {
            throw Malformed($"the reply has opcode {(flags1 >> 3) & 0x0F}; a standard query's reply has opcode 0");
        }

        bool truncated = (flags1 & 0x02) != 0;
        var code = (DnsResponseCode)(flags2 & 0x0F);
        int questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int authorities = BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        int additionals = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);

        if (questions != 1)
        {
            throw Malformed($"the reply carries {questions} questions; a reply repeats the one question asked");
        }

        // A record takes at least 11 bytes: counts that cannot fit are rejected before anything is allocated.
        long records = (long)answers + authorities + additionals;
        if (!truncated && records * MinRecordLength > message.Length - HeaderLength)
        {
            throw Malformed($"the reply claims {records} records, more than its {message.Length} bytes can hold");
        }

        int offset = HeaderLength;
        var questionName = ReadName(message, ref offset);
        if (offset + 4 > message.Length)
        {
            throw Malformed("the question section is cut short");
        }

        var questionType = (QueryType)BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
        ushort questionClass = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
        offset += 4;
        if (!string.Equals(questionName, Normalize(name), StringComparison.OrdinalIgnoreCase) || questionType != type || questionClass != ClassIn)
        {
            throw Malformed($"the reply answers another question ('{questionName}' {questionType}) than the one asked ('{Normalize(name)}' {type})");
        }

        if (truncated)
        {
            // A truncated UDP reply is asked again over TCP; its partial records are not read (RFC 2181 §9).
            return new DnsQueryResponse(replyId, code, truncated: true, [], [], []);
        }

        var answerList = ReadRecords(message, ref offset, answers, "answer");
        var authorityList = ReadRecords(message, ref offset, authorities, "authority");
        var additionalList = ReadRecords(message, ref offset, additionals, "additional");
        return new DnsQueryResponse(replyId, code, truncated: false, answerList, authorityList, additionalList);
    }

    private static List<DnsResourceRecord> ReadRecords(ReadOnlySpan<byte> message, ref int offset, int count, string section)
    {
        var records = new List<DnsResourceRecord>(count);
        for (int i = 0; i < count; i++)
        {
            string owner = ReadName(message, ref offset);
            if (offset + 10 > message.Length)
            {
                throw Malformed($"{section} record {i + 1} of {count} is cut short");
            }

            var type = (QueryType)BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            uint ttl = BinaryPrimitives.ReadUInt32BigEndian(message[(offset + 4)..]);
            int dataLength = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
            offset += 10;
            if (offset + dataLength > message.Length)
            {
                throw Malformed($"{section} record {i + 1} of {count} ('{owner}' {type}) claims {dataLength} data bytes; {message.Length - offset} remain");
            }

            int timeToLive = ttl > int.MaxValue ? 0 : (int)ttl; // RFC 2181 §8
            int dataStart = offset;
            int dataEnd = offset + dataLength;
            offset = dataEnd;
            records.Add(type switch
            {
                QueryType.A => new ARecord(owner, timeToLive, ReadAddress(message, dataStart, dataLength, 4, owner, type)),
                QueryType.AAAA => new AaaaRecord(owner, timeToLive, ReadAddress(message, dataStart, dataLength, 16, owner, type)),
                QueryType.CNAME => new CNameRecord(owner, timeToLive, ReadNameIn(message, dataStart, dataEnd, owner, type)),
                QueryType.SRV => ReadSrv(message, dataStart, dataEnd, owner, timeToLive),
                _ => new UnknownRecord(owner, type, timeToLive),
            });
        }

        return records;
    }

    private static IPAddress ReadAddress(ReadOnlySpan<byte> message, int start, int length, int expected, string owner, QueryType type)
    {
        if (length != expected)
        {
            throw Malformed($"the {type} record of '{owner}' has {length} data bytes; an address has {expected}");
        }

        return new IPAddress(message.Slice(start, length));
    }

    private static SrvRecord ReadSrv(ReadOnlySpan<byte> message, int start, int end, string owner, int timeToLive)
    {
        if (end - start < 7)
        {
            throw Malformed($"the SRV record of '{owner}' has {end - start} data bytes; it needs at least 7");
        }

        ushort priority = BinaryPrimitives.ReadUInt16BigEndian(message[start..]);
        ushort weight = BinaryPrimitives.ReadUInt16BigEndian(message[(start + 2)..]);
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(message[(start + 4)..]);
        string target = ReadNameIn(message, start + 6, end, owner, QueryType.SRV);
        return new SrvRecord(owner, timeToLive, priority, weight, port, target);
    }

    /// <summary>Reads a name that must end exactly at <paramref name="end"/> (a name inside record data).</summary>
    private static string ReadNameIn(ReadOnlySpan<byte> message, int start, int end, string owner, QueryType type)
    {
        int offset = start;
        string name = ReadName(message[..end], ref offset, message);
        if (offset != end)
        {
            throw Malformed($"the {type} record of '{owner}' has {end - offset} bytes after its name");
        }

        return name;
    }

    private static string ReadName(ReadOnlySpan<byte> message, ref int offset) => ReadName(message, ref offset, message);

    /// <summary>
    /// Reads a possibly compressed name at <paramref name="offset"/> within <paramref name="bounded"/>, following
    /// pointers into <paramref name="whole"/>; advances <paramref name="offset"/> past the name as written in place.
    /// </summary>
    private static string ReadName(ReadOnlySpan<byte> bounded, ref int offset, ReadOnlySpan<byte> whole)
    {
        var builder = new StringBuilder(32);
        int wireLength = 1;
        int position = offset;
        int segmentStart = offset; // where the labels now being read began: the start of the name, or the last jump's target
        int limit = bounded.Length; // before the first jump, a name must stay inside its record's data
        bool jumped = false;
        while (true)
        {
            if (position >= limit)
            {
                throw Malformed($"a name at offset {offset} runs past the end of {(jumped ? "the message" : "its field")}");
            }

            byte length = whole[position];
            switch (length & 0xC0)
            {
                case 0x00:
                    if (length == 0)
                    {
                        if (!jumped)
                        {
                            offset = position + 1;
                        }

                        return builder.ToString();
                    }

                    if (position + 1 + length > limit)
                    {
                        throw Malformed($"a label at offset {position} runs past the end of the message");
                    }

                    wireLength += 1 + length;
                    if (wireLength > MaxNameLength)
                    {
                        throw Malformed($"a name at offset {offset} is longer than {MaxNameLength} bytes");
                    }

                    if (builder.Length > 0)
                    {
                        builder.Append('.');
                    }

                    AppendLabel(builder, whole.Slice(position + 1, length));
                    position += 1 + length;
                    break;

                case 0xC0:
                    if (position + 1 >= limit)
                    {
                        throw Malformed($"a compression pointer at offset {position} is cut short");
                    }

                    int target = ((length & 0x3F) << 8) | whole[position + 1];
                    if (target >= whole.Length)
                    {
                        throw Malformed($"a compression pointer at offset {position} points to {target}, outside the {whole.Length}-byte message");
                    }

                    // Only backwards, and before the labels being read: every jump lands strictly before the previous
                    // one, so a chain of pointers always ends (a compliant encoder only points at earlier names).
                    if (target >= segmentStart)
                    {
                        throw Malformed($"a compression pointer at offset {position} points to {target}, not before the name it is part of: a loop");
                    }

                    if (!jumped)
                    {
                        offset = position + 2;
                        jumped = true;
                    }

                    limit = whole.Length;
                    position = target;
                    segmentStart = target;
                    break;

                default:
                    throw Malformed($"a label at offset {position} has the reserved type bits 0x{length & 0xC0:X2}");
            }
        }
    }

    private static void AppendLabel(StringBuilder builder, ReadOnlySpan<byte> label)
    {
        foreach (byte b in label)
        {
            char c = (char)b;
            if (c is >= 'A' and <= 'Z')
            {
                builder.Append((char)(c + 32));
            }
            else if (c is '.' or '\\' || b < 0x21 || b > 0x7E)
            {
                // Keep the name unambiguous: escape what a presentation-format name cannot carry literally.
                builder.Append('\\').Append(((int)b).ToString("D3", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }
    }

    private static List<byte[]> SplitName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var normalized = name.EndsWith('.') ? name[..^1] : name;
        var labels = new List<byte[]>();
        foreach (var label in normalized.Split('.'))
        {
            if (label.Length is 0 or > 63)
            {
                throw new ArgumentException($"DNS name '{name}' has an empty label or one longer than 63 bytes.", nameof(name));
            }

            foreach (char c in label)
            {
                if (c > 0x7E || c < 0x21)
                {
                    throw new ArgumentException($"DNS name '{name}' has the character U+{(int)c:X4}; use its A-label (punycode) form.", nameof(name));
                }
            }

            labels.Add(Encoding.ASCII.GetBytes(label));
        }

        return labels;
    }

    /// <summary>A name as this client reports names: lower case, no trailing dot.</summary>
    public static string Normalize(string name) => (name.EndsWith('.') ? name[..^1] : name).ToLowerInvariant();

    private static DnsResponseException Malformed(string detail) => new(DnsResponseCode.MalformedResponse, $"Malformed DNS reply: {detail}.");
}
