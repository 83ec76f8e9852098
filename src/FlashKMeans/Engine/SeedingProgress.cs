using System.Diagnostics;

namespace FlashKMeans.Engine;

/// <summary>
/// Reports how far seeding has come, as <see cref="KMeansPhase.Seeding"/> progress: at the start, whenever another
/// hundredth is done, and at the end. Seeding makes up to K passes (k-means++) or a few rounds plus a reduction
/// (k-means‖), which on large data takes seconds with nothing else to report.
/// </summary>
internal sealed class SeedingProgress
{
    private readonly IProgress<KMeansProgress>? _progress;
    private readonly int _initialization, _problem;
    private readonly Stopwatch? _clock;
    private readonly SeedingProgress? _whole;
    private readonly double _from, _to;
    private double _reported = -1;

    public SeedingProgress(IProgress<KMeansProgress>? progress, int initialization, int problem, Stopwatch clock)
    {
        _progress = progress;
        _initialization = initialization;
        _problem = problem;
        _clock = clock;
    }

    private SeedingProgress(SeedingProgress whole, double from, double to)
    {
        _whole = whole;
        _from = from;
        _to = to;
    }

    /// <summary>A reporter that reports nothing.</summary>
    public static SeedingProgress None { get; } = new(null, 0, 0, new Stopwatch());

    /// <summary>The stretch [<paramref name="from"/>, <paramref name="to"/>] of this reporter's range, for a stage that reports its own 0 to 1.</summary>
    public SeedingProgress Part(double from, double to) => new(this, from, to);

    /// <summary>Reports <paramref name="fraction"/> (0 to 1): the first time, whenever it is a hundredth past the last report, and at 1.</summary>
    public void Report(double fraction)
    {
        fraction = Math.Clamp(fraction, 0, 1);
        if (_whole is not null)
        {
            _whole.Report(_from + (_to - _from) * fraction);
            return;
        }
        if (_progress is null || (_reported >= 0 && fraction < _reported + 0.01 && !(fraction == 1 && _reported < 1)))
            return;
        _reported = fraction;
        _progress.Report(new KMeansProgress(_initialization, 0, double.NaN, double.NaN, _clock!.Elapsed)
        {
            Problem = _problem, Phase = KMeansPhase.Seeding, Fraction = fraction,
        });
    }
}
