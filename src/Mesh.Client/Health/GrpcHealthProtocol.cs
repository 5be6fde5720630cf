using System.Buffers.Binary;
using System.Text;

namespace Mesh.Client.Health;

/// <summary>
/// The standard gRPC health protocol (<c>grpc.health.v1.Health/Check</c>), encoded by hand so the library needs no gRPC
/// package: <c>HealthCheckRequest { string service = 1; }</c> in a gRPC length-prefixed frame, and
/// <c>HealthCheckResponse { ServingStatus status = 1; }</c> back, with <c>grpc-status</c> in the trailers (or in the
/// headers of a trailers-only answer).
/// </summary>
internal static class GrpcHealthProtocol
{
    /// <summary>The method's path.</summary>
    public const string Path = "/grpc.health.v1.Health/Check";

    /// <summary><c>ServingStatus.SERVING</c>.</summary>
    public const int Serving = 1;

    private static readonly string[] s_statusNames = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

    private static readonly string[] s_grpcCodeNames =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED",
    ];

    /// <summary>
    /// The request body: one uncompressed gRPC frame (flag 0, big-endian length) holding a <c>HealthCheckRequest</c> whose
    /// <c>service</c> is <paramref name="service"/> ("" asks for the server's overall health and encodes as no field).
    /// </summary>
    public static byte[] EncodeRequest(string service)
    {
        int length = Encoding.UTF8.GetByteCount(service);
        int message = length == 0 ? 0 : 1 + VarintSize((uint)length) + length;
        var frame = new byte[5 + message];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message);
        if (length > 0)
        {
            int at = 5;
            frame[at++] = 0x0A; // field 1, wire type 2 (length-delimited)
            for (uint v = (uint)length; ; v >>= 7)
            {
                if (v < 0x80)
                {
                    frame[at++] = (byte)v;
                    break;
                }

                frame[at++] = (byte)(v | 0x80);
            }

            Encoding.UTF8.GetBytes(service, frame.AsSpan(at));
        }

        return frame;
    }

    /// <summary>
    /// Reads the serving status from a response body: one gRPC frame holding a <c>HealthCheckResponse</c>. Returns false
    /// when the body is not such a frame (empty, compressed, truncated, malformed). A message without the field is
    /// <c>UNKNOWN</c> (0), as protobuf's default says.
    /// </summary>
    public static bool TryDecodeResponse(ReadOnlySpan<byte> body, out int status)
    {
        status = 0;
        if (body.Length < 5 || body[0] != 0)
        {
            return false;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(body[1..]);
        if (length > (uint)(body.Length - 5))
        {
            return false;
        }

        var message = body.Slice(5, (int)length);
        while (!message.IsEmpty)
        {
            if (!TryReadVarint(ref message, out ulong tag))
            {
                return false;
            }

            int field = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    if (!TryReadVarint(ref message, out ulong value))
                    {
                        return false;
                    }

                    if (field == 1)
                    {
                        status = (int)value;
                    }

                    break;
                case 1:
                    if (message.Length < 8)
                    {
                        return false;
                    }

                    message = message[8..];
                    break;
                case 2:
                    if (!TryReadVarint(ref message, out ulong size) || size > (ulong)message.Length)
                    {
                        return false;
                    }

                    message = message[(int)size..];
                    break;
                case 5:
                    if (message.Length < 4)
                    {
                        return false;
                    }

                    message = message[4..];
                    break;
                default:
                    return false;
            }
        }

        return true;
    }

    /// <summary>A serving status's name (<c>SERVING</c>, <c>NOT_SERVING</c>, ...).</summary>
    public static string StatusName(int status) => (uint)status < (uint)s_statusNames.Length ? s_statusNames[status] : status.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A gRPC status code's name (<c>UNIMPLEMENTED</c>, <c>NOT_FOUND</c>, ...).</summary>
    public static string CodeName(int code) => (uint)code < (uint)s_grpcCodeNames.Length ? s_grpcCodeNames[code] : code.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static int VarintSize(uint value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private static bool TryReadVarint(ref ReadOnlySpan<byte> span, out ulong value)
    {
        value = 0;
        for (int i = 0, shift = 0; i < span.Length && shift < 64; i++, shift += 7)
        {
            value |= (ulong)(span[i] & 0x7F) << shift;
            if (span[i] < 0x80)
            {
                span = span[(i + 1)..];
                return true;
            }
        }

        return false;
    }
}
