using System.Runtime.ExceptionServices;

namespace FlashKMeans.Threading;

/// <summary>
/// <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/> whose faults reach the caller as they would
/// from a plain loop on the calling thread: the first exception a body threw, with its own stack trace, never an
/// <see cref="AggregateException"/> that only some paths would wrap it in. Cancellation stays an
/// <see cref="OperationCanceledException"/>.
/// </summary>
internal static class ParallelWork
{
    public static void For(int fromInclusive, int toExclusive, ParallelOptions options, Action<int> body)
    {
        try
        {
            Parallel.For(fromInclusive, toExclusive, options, body);
        }
        catch (AggregateException e)
        {
            ExceptionDispatchInfo.Throw(FirstCause(e));
            throw; // not reached: Throw always throws
        }
    }

    /// <summary>The first exception inside <paramref name="e"/>, however deeply aggregated.</summary>
    public static Exception FirstCause(AggregateException e)
    {
        var flat = e.Flatten();
        return flat.InnerExceptions.Count > 0 ? flat.InnerExceptions[0] : e;
    }
}
