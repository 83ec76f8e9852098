using Microsoft.Extensions.Logging;

namespace FlashKMeans.Tool;

/// <summary>Prints information-level log lines (backend choice, initialisations) to standard error.</summary>
internal sealed class ConsoleLogger : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
            Console.Error.WriteLine(formatter(state, exception));
    }
}
