using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>Keeps every log entry (level, formatted message, exception text) so tests can read what was logged.</summary>
public sealed class CollectingLoggerProvider : ILoggerProvider, ILoggerFactory
{
    public ConcurrentQueue<(LogLevel Level, int EventId, string Text)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Collector(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    /// <summary>Pulsed on every entry.</summary>
    public AsyncSignal Logged { get; } = new();

    public int Count(int eventId) => Entries.Count(e => e.EventId == eventId);

    public string AllText => string.Join("\n", Entries.Select(e => e.Text));

    public void Dispose()
    {
    }

    private sealed class Collector(CollectingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner.Entries.Enqueue((logLevel, eventId.Id, formatter(state, exception) + (exception is null ? string.Empty : "\n" + exception)));
            owner.Logged.Pulse();
        }
    }
}
