using FlashKMeans.Backends;
using FlashKMeans.Primitives;

namespace FlashKMeans.Engine;

/// <summary>K distinct rows drawn uniformly without replacement (Floyd's algorithm), deterministic per seed.</summary>
internal static class RandomRowSeeding
{
    public static float[] Run(IKMeansDataBinding binding, int k, ulong seed, CancellationToken cancellationToken)
    {
        var rows = SampleDistinctRows(binding.RowCount, k, seed);
        var centroids = new float[k * binding.Dimension];
        binding.GatherRows(rows, centroids, default, cancellationToken);
        return centroids;
    }

    /// <summary><paramref name="count"/> distinct indices in [0, <paramref name="population"/>), ascending.</summary>
    public static long[] SampleDistinctRows(long population, int count, ulong seed)
    {
        if (count > population)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Cannot draw {count} distinct rows from {population}.");
        var chosen = new HashSet<long>(count);
        ulong counter = 0;
        for (long j = population - count; j < population; j++)
        {
            long t = (long)(CounterRandom.Uniform(seed, counter++) * (j + 1));
            chosen.Add(chosen.Contains(t) ? j : t);
        }
        var result = chosen.ToArray();
        Array.Sort(result);
        return result;
    }
}
