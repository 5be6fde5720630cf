using Microsoft.Extensions.Logging;

namespace Mesh.Client.Grpc.Tests.Infrastructure;

/// <summary>A logger provider that lets a test wait for a log event (by id and text), instead of sleeping.</summary>
public sealed class LogWaiter : ILoggerProvider
{
    private readonly List<(int Id, string Message)> _events = [];
    private readonly List<(int Id, string Text, TaskCompletionSource Seen)> _waiters = [];

    /// <summary>Completes when an event with <paramref name="id"/> whose message contains <paramref name="text"/> is logged.</summary>
    public Task WaitFor(int id, string text)
    {
        lock (_events)
        {
            if (_events.Exists(e => e.Id == id && e.Message.Contains(text, StringComparison.Ordinal)))
            {
                return Task.CompletedTask;
            }

            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((id, text, seen));
            return seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    public List<string> Messages(int id)
    {
        lock (_events)
        {
            return [.. _events.Where(e => e.Id == id).Select(e => e.Message)];
        }
    }

    private void Add(int id, string message)
    {
        lock (_events)
        {
            _events.Add((id, message));
            foreach (var (waitId, text, seen) in _waiters)
            {
                if (waitId == id && message.Contains(text, StringComparison.Ordinal))
                {
                    seen.TrySetResult();
                }
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogWaiter owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Add(eventId.Id, formatter(state, exception));
    }
}
