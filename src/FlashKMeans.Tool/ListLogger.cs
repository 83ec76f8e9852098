using Microsoft.Extensions.Logging;

namespace FlashKMeans.Tool;

/// <summary>Keeps the engine's log lines, for <c>info</c> to quote the backend choice it explains.</summary>
internal sealed class ListLogger : ILogger
{
    public List<string> Lines { get; } = [];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
            Lines.Add(formatter(state, exception));
    }
}
