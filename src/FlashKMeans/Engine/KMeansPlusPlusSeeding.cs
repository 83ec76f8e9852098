using FlashKMeans.Backends;
using FlashKMeans.Primitives;

namespace FlashKMeans.Engine;

/// <summary>
/// Greedy k-means++ (Arthur and Vassilvitskii; the greedy variant scikit-learn uses): each step samples
/// several candidates in proportion to w·D(x) and keeps the one that lowers the potential most.
/// Works on any binding, so k-means|| reuses it on its weighted candidate set.
/// </summary>
internal static class KMeansPlusPlusSeeding
{
    /// <summary>Candidates drawn per step when none are set: 2 + ln K, as scikit-learn's greedy k-means++.</summary>
    public static int DefaultTrials(int k) => 2 + (int)Math.Log(k);

    public static float[] Run(IKMeansDataBinding binding, int k, int? trials, ulong seed, CancellationToken cancellationToken,
        SeedingProgress? progress = null)
    {
        int d = binding.Dimension;
        int tries = trials ?? DefaultTrials(k);
        var centroids = new float[k * d];
        ulong counter = 0;

        FirstSeed.Pick(binding, seed, ref counter, centroids.AsSpan(0, d), cancellationToken);
        double potential = binding.UpdateSeedDistances(centroids.AsSpan(0, d), reset: true, cancellationToken);

        var targets = new double[tries];
        var rows = new long[tries];
        var candidates = new float[tries * d];
        var potentials = new double[tries];
        for (int c = 1; c < k; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report((double)c / k);
            var centroid = centroids.AsSpan(c * d, d);
            if (!(potential > 0))
            {
                // Every row coincides with a seed: any row will do; Lloyd's empty-cluster policy sorts out the duplicates.
                long row = (long)(CounterRandom.Uniform(seed, counter++) * binding.RowCount);
                binding.GatherRows([row], centroid, default, cancellationToken);
                continue;
            }
            for (int t = 0; t < tries; t++)
                targets[t] = CounterRandom.Uniform(seed, counter++) * potential;
            Array.Sort(targets);
            binding.FindRowsAtCumulativePotential(targets, rows, cancellationToken);
            binding.GatherRows(rows, candidates, default, cancellationToken);
            binding.EvaluateSeedCandidates(candidates, potentials, cancellationToken);
            int best = 0;
            for (int t = 1; t < tries; t++)
            {
                if (potentials[t] < potentials[best])
                    best = t;
            }
            candidates.AsSpan(best * d, d).CopyTo(centroid);
            potential = binding.UpdateSeedDistances(centroid, reset: false, cancellationToken);
        }
        return centroids;
    }
}
