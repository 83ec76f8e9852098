namespace FlashKMeans.Tool;

/// <summary>Reports on the calling thread, so progress lines print in order (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
