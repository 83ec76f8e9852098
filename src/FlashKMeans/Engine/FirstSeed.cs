using FlashKMeans.Backends;
using FlashKMeans.Primitives;

namespace FlashKMeans.Engine;

/// <summary>
/// The first seed of k-means++ and k-means‖: a uniformly drawn row of positive weight. A zero-weight row
/// would be a seed no data supports; rejection keeps the draw uniform over the rows that count.
/// </summary>
internal static class FirstSeed
{
    /// <summary>Draws before falling back to probing forward from the last draw (when almost every row weighs nothing).</summary>
    private const int MaximumDraws = 64;

    /// <summary>Rows gathered per probe step.</summary>
    private const int ProbeRows = 4096;

    /// <summary>Copies the chosen row into <paramref name="destination"/>; advances <paramref name="counter"/> past the draws used.</summary>
    public static void Pick(IKMeansDataBinding binding, ulong seed, ref ulong counter, Span<float> destination, CancellationToken cancellationToken)
    {
        Span<float> weight = stackalloc float[1];
        long row = 0;
        for (int draw = 0; draw < MaximumDraws; draw++)
        {
            row = (long)(CounterRandom.Uniform(seed, counter++) * binding.RowCount);
            binding.GatherRows([row], destination, weight, cancellationToken);
            if (weight[0] > 0)
                return;
        }
        // Few rows weigh anything: take the first that does at or after the last draw, wrapping around.
        // Validation guarantees one exists.
        int d = binding.Dimension;
        long n = binding.RowCount;
        for (long start = 0; start < n; start += ProbeRows)
        {
            int count = (int)Math.Min(ProbeRows, n - start);
            var rows = new long[count];
            for (int i = 0; i < count; i++)
                rows[i] = (row + start + i) % n;
            var vectors = new float[count * d];
            var weights = new float[count];
            binding.GatherRows(rows, vectors, weights, cancellationToken);
            for (int i = 0; i < count; i++)
            {
                if (weights[i] > 0)
                {
                    vectors.AsSpan(i * d, d).CopyTo(destination);
                    return;
                }
            }
        }
    }
}
