using System.Net;

namespace Mesh.Client.Resilience;

/// <summary>
/// A response body that keeps its attempt open until it is read to its end, fails, or is disposed: the endpoint counts
/// the attempt as in flight meanwhile (least request and Peak-EWMA see a long download or a server stream), a body that
/// breaks after the headers counts against the endpoint, and a gRPC call's status is read from its trailers.
/// </summary>
/// <remarks>
/// The caller reads it as the original content: same headers, same bytes. How the attempt ends:
/// <list type="bullet">
/// <item>read to its end: success, or for gRPC the trailers' <c>grpc-status</c> as <see cref="FailureStatusSet.ClassifyGrpc"/> says;</item>
/// <item>a read that fails (the connection reset mid-body): a failure of the endpoint, unless the caller cancelled it;</item>
/// <item>disposed before its end (the caller stopped reading): says nothing about the endpoint.</item>
/// </list>
/// </remarks>
internal sealed class AttemptContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly HttpResponseMessage _response;
    private readonly IAttemptHost _host;
    private readonly FailureStatusSet _statuses;
    private readonly EndpointLease _lease;
    private readonly bool _isGrpc;
    private int _ended;

    public AttemptContent(HttpContent inner, HttpResponseMessage response, IAttemptHost host, FailureStatusSet statuses, in EndpointLease lease, bool isGrpc)
    {
        _inner = inner;
        _response = response;
        _host = host;
        _statuses = statuses;
        _lease = lease;
        _isGrpc = isGrpc;
        foreach (var header in inner.Headers.NonValidated)
        {
            if (header.Value.Count == 1)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value.ToString());
            }
            else
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }
    }

    /// <summary>
    /// Keeps the attempt open on <paramref name="response"/>'s body, or ends it now when there is none to wait for.
    /// Returns whether the body took the attempt over (and will end it).
    /// </summary>
    public static bool TryTrack(HttpResponseMessage response, IAttemptHost host, FailureStatusSet statuses, in EndpointLease lease)
    {
        if (response.Content is not { } content || content is AttemptContent || response.RequestMessage?.Method == HttpMethod.Head
            || response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.NotModified
            || content.Headers.NonValidated.TryGetValues("Content-Length", out var length) && length.Count == 1 && length.ToString() == "0")
        {
            return false;
        }

        response.Content = new AttemptContent(content, response, host, statuses, lease, FailureStatusSet.IsGrpc(response));
        return true;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    /// <summary>
    /// Buffering (<c>LoadIntoBufferAsync</c>, what <c>HttpClient</c> does for <c>ResponseContentRead</c>) or a copy: the
    /// inner content copies itself, its own way, and the attempt ends with the copy. Cheaper than reading through
    /// <see cref="AttemptBodyStream"/>.
    /// </summary>
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        try
        {
            await _inner.CopyToAsync(stream, context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Failed(ex, cancellationToken);
            throw;
        }

        Completed();
    }

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
    {
        Task<Stream> inner;
        try
        {
            inner = _inner.ReadAsStreamAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(ex, cancellationToken);
            throw;
        }

        // A socket's response content hands its stream over at once: no state machine for that case.
        return inner.IsCompletedSuccessfully
            ? Task.FromResult<Stream>(new AttemptBodyStream(inner.Result, this))
            : WrapWhenReadAsync(inner, cancellationToken);
    }

    private async Task<Stream> WrapWhenReadAsync(Task<Stream> pending, CancellationToken cancellationToken)
    {
        Stream inner;
        try
        {
            inner = await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Failed(ex, cancellationToken);
            throw;
        }

        return new AttemptBodyStream(inner, this);
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken)
    {
        Stream inner;
        try
        {
            inner = _inner.ReadAsStream(cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(ex, cancellationToken);
            throw;
        }

        return new AttemptBodyStream(inner, this);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _inner.Headers.ContentLength ?? -1;
        return length >= 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            Abandoned();
        }

        base.Dispose(disposing);
    }

    /// <summary>The body was read to its end: the attempt succeeded, unless its gRPC status says otherwise.</summary>
    internal void Completed()
    {
        var outcome = AttemptOutcome.Success;
        bool penalise = false;
        if (_isGrpc && FailureStatusSet.GrpcStatus(_response.TrailingHeaders) is { } grpc)
        {
            outcome = _statuses.ClassifyGrpc(grpc, out penalise);
        }

        End(outcome, penalise);
    }

    /// <summary>The stream was disposed: if the body had not ended, the caller stopped reading it, which says nothing about the endpoint.</summary>
    internal void Abandoned() => End(AttemptOutcome.Canceled, penalise: false);

    /// <summary>A read failed: the endpoint's failure, unless the caller cancelled.</summary>
    internal void Failed(Exception exception, CancellationToken cancellationToken)
    {
        bool callers = exception is OperationCanceledException && cancellationToken.IsCancellationRequested;
        End(callers ? AttemptOutcome.Canceled : AttemptOutcome.ConnectFailure, penalise: false);
    }

    private void End(AttemptOutcome outcome, bool penalise)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        if (outcome is AttemptOutcome.FailureStatus or AttemptOutcome.ConnectFailure || penalise)
        {
            _lease.RecordLateFailure();
        }

        _lease.End();
        _host.OnAttemptEnded(_lease.Endpoint, outcome);
    }
}

/// <summary>The read side of <see cref="AttemptContent"/>: the original stream, telling its content how it ended.</summary>
internal sealed class AttemptBodyStream(Stream inner, AttemptContent content) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read;
        try
        {
            read = inner.Read(buffer);
        }
        catch (Exception ex)
        {
            content.Failed(ex, CancellationToken.None);
            throw;
        }

        if (read == 0 && !buffer.IsEmpty)
        {
            content.Completed();
        }

        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try
        {
            read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            content.Failed(ex, cancellationToken);
            throw;
        }

        if (read == 0 && !buffer.IsEmpty)
        {
            content.Completed();
        }

        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            content.Abandoned();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        content.Abandoned();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
