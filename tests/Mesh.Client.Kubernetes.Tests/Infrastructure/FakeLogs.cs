using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>A <see cref="FakeLogCollector"/> for resolvers built without DI, read the way these tests assert on logs.</summary>
public static class FakeLogs
{
    /// <summary>A logger factory that writes every level to <paramref name="logs"/>, for the resolver's constructor.</summary>
    public static ILoggerFactory ToLoggerFactory(this FakeLogCollector logs) =>
        LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs)));

    /// <summary>How many records with <paramref name="eventId"/> were logged.</summary>
    public static int CountOf(this FakeLogCollector logs, int eventId) => logs.GetSnapshot().Count(r => r.Id.Id == eventId);

    /// <summary>The record's message and, on the next line, its exception (type, message, stack): all a reader of the log sees.</summary>
    public static string Text(this FakeLogRecord record) =>
        record.Message + (record.Exception is null ? string.Empty : "\n" + record.Exception);

    /// <summary>Every record's <see cref="Text"/>, one after the other.</summary>
    public static string AllText(this FakeLogCollector logs) => string.Join("\n", logs.GetSnapshot().Select(Text));

    /// <summary>Waits (bounded, on the wall clock) until a record with <paramref name="eventId"/> has been logged.</summary>
    public static async Task WaitForEventAsync(this FakeLogCollector logs, int eventId, string what)
    {
        using var cts = new CancellationTokenSource(WatchRecorder.DefaultTimeout);
        try
        {
            // GetLogsAsync yields the records collected so far, then each new one as it is logged.
            await foreach (var record in logs.GetLogsAsync(cts.Token))
            {
                if (record.Id.Id == eventId)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
        }

        throw new TimeoutException($"Timed out waiting for {what}. Logged:\n{logs.AllText()}");
    }
}
