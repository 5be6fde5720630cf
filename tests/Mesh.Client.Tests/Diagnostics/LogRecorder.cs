using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>One log entry a <see cref="LogRecorder"/> saw.</summary>
public sealed record RecordedLog(string Category, LogLevel Level, int EventId, string Message);

/// <summary>A logger provider that keeps every entry, for asserting on event ids and messages.</summary>
public sealed class LogRecorder : ILoggerProvider
{
    private readonly ConcurrentQueue<RecordedLog> _entries = new();

    public IReadOnlyList<RecordedLog> Entries => _entries.ToArray();

    /// <summary>The mesh's entries with <paramref name="eventId"/> (ids are per category: HttpClient's own logs reuse small numbers).</summary>
    public IReadOnlyList<RecordedLog> WithId(int eventId) =>
        Entries.Where(e => e.EventId == eventId && e.Category.StartsWith("Mesh.Client", StringComparison.Ordinal)).ToArray();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new RecordedLog(category, logLevel, eventId.Id, formatter(state, exception)));
    }
}
