using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

/// <summary>GPU work timed with CUDA events on its session's stream: three warm-up runs, then the median of the timed ones.</summary>
internal static class EventTimer
{
    /// <summary>The median milliseconds of <paramref name="iterations"/> runs of <paramref name="enqueue"/>.</summary>
    public static double Median(CudaSession s, int iterations, Action enqueue)
    {
        using var start = new CudaEvent(s.Context);
        using var end = new CudaEvent(s.Context);
        for (int i = 0; i < 3; i++)
            enqueue();
        s.Stream.Synchronize();
        var times = new List<double>();
        for (int i = 0; i < iterations; i++)
        {
            start.Record(s.Stream);
            enqueue();
            end.Record(s.Stream);
            end.Synchronize();
            times.Add(end.ElapsedSince(start));
        }
        times.Sort();
        int m = times.Count / 2;
        return times.Count % 2 == 1 ? times[m] : 0.5 * (times[m - 1] + times[m]);
    }
}
