using Mesh.Client.Health;

namespace Mesh.Client.Tests.Health;

/// <summary>The hand-encoded gRPC health protocol, against bytes protoc's encoding gives for the same messages.</summary>
public sealed class GrpcHealthProtocolTests
{
    [Fact]
    public void A_request_for_a_service_is_one_uncompressed_frame_holding_field_one()
    {
        // HealthCheckRequest { service = "greeter" } is 0A 07 'greeter'; the frame adds flag 0 and the length 9.
        Assert.Equal([0, 0, 0, 0, 9, 0x0A, 7, .. "greeter"u8.ToArray()], GrpcHealthProtocol.EncodeRequest("greeter"));
    }

    [Fact]
    public void A_request_for_the_overall_health_is_an_empty_message()
    {
        Assert.Equal([0, 0, 0, 0, 0], GrpcHealthProtocol.EncodeRequest(""));
    }

    [Fact]
    public void A_long_service_name_has_a_two_byte_length()
    {
        string name = new('s', 200);
        byte[] frame = GrpcHealthProtocol.EncodeRequest(name);

        Assert.Equal([0, 0, 0, 0, 203, 0x0A, 0xC8, 0x01], frame[..8]);
        Assert.Equal(208, frame.Length);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 0, 2, 0x08, 1 }, 1)]                   // SERVING
    [InlineData(new byte[] { 0, 0, 0, 0, 2, 0x08, 2 }, 2)]                   // NOT_SERVING
    [InlineData(new byte[] { 0, 0, 0, 0, 0 }, 0)]                            // no field: UNKNOWN
    [InlineData(new byte[] { 0, 0, 0, 0, 5, 0x12, 1, 0x41, 0x08, 1 }, 1)]    // an unknown field before it is skipped
    public void A_response_decodes_to_its_serving_status(byte[] body, int expected)
    {
        Assert.True(GrpcHealthProtocol.TryDecodeResponse(body, out int status));
        Assert.Equal(expected, status);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 1, 0, 0, 0, 2, 0x08, 1 })]   // compressed
    [InlineData(new byte[] { 0, 0, 0, 0, 3, 0x08, 1 })]   // truncated
    [InlineData(new byte[] { 0, 0, 0, 0, 1, 0x08 })]      // a tag without its value
    public void A_malformed_response_is_rejected(byte[] body)
    {
        Assert.False(GrpcHealthProtocol.TryDecodeResponse(body, out _));
    }

    [Fact]
    public void Setting_both_a_path_and_a_grpc_service_is_rejected_with_the_key()
    {
        var options = new ActiveHealthCheckOptions { Path = "/healthz", GrpcService = "greeter" };
        var errors = new List<string>();

        options.Validate("Mesh:Services:greeter:HealthCheck", errors);

        Assert.Contains(errors, e => e.StartsWith("'Mesh:Services:greeter:HealthCheck:GrpcService' is 'greeter'", StringComparison.Ordinal));
    }

    [Fact]
    public void An_empty_grpc_service_turns_heartbeats_on()
    {
        Assert.True(new ActiveHealthCheckOptions { GrpcService = "" }.Enabled);
        Assert.False(new ActiveHealthCheckOptions().Enabled);
    }
}
