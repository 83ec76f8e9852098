using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Primitives;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Engine;

/// <summary>
/// k-means|| (Bahmani et al., "Scalable k-means++"): a few passes each sample every row independently with
/// probability ℓ·w·D(x)/φ, then the candidates, weighted by how many rows they attract, are reduced to K
/// centroids with greedy k-means++ on the CPU (the candidate set is small).
/// </summary>
internal static class KMeansParallelSeeding
{
    public static float[] Run(IKMeansDataBinding binding, KMeansOptions options, ulong seed, CancellationToken cancellationToken,
        SeedingProgress? progress = null)
    {
        int k = options.NumberOfClusters, d = binding.Dimension;
        double oversampling = options.OversamplingFactor * k;
        var candidates = new List<float>();
        var firstRow = new float[d];
        ulong counter = 0;
        FirstSeed.Pick(binding, seed, ref counter, firstRow, cancellationToken);
        candidates.AddRange(firstRow);
        double potential = binding.UpdateSeedDistances(firstRow, reset: true, cancellationToken);

        // The rounds pass over the data; the reduction works on the small candidate set (k-means++ of K steps).
        int rounds = options.KMeansParallelRounds;
        double roundsShare = 0.8;
        for (int round = 0; round < rounds && potential > 0; round++)
        {
            progress?.Report(roundsShare * round / rounds);
            var rows = binding.SampleRowsByPotential(oversampling / potential, CounterRandom.Derive(seed, (ulong)round + 1), cancellationToken);
            if (rows.Count == 0)
                continue;
            var vectors = new float[rows.Count * d];
            binding.GatherRows(rows.ToArray(), vectors, default, cancellationToken);
            candidates.AddRange(vectors);
            potential = binding.UpdateSeedDistances(vectors, reset: false, cancellationToken);
        }

        int count = candidates.Count / d;
        var weights = new double[count];
        binding.GetSeedWeights(weights);
        if (count < k)
        {
            // Too few candidates (tiny or degenerate data): top up with uniformly drawn rows of no weight.
            var extra = RandomRowSeeding.SampleDistinctRows(binding.RowCount, k - count, CounterRandom.Derive(seed, 0xFFFF));
            var vectors = new float[extra.Length * d];
            binding.GatherRows(extra, vectors, default, cancellationToken);
            candidates.AddRange(vectors);
            Array.Resize(ref weights, k);
            count = k;
        }
        var pool = candidates.ToArray();
        var candidateWeights = new float[count];
        // A candidate's weight sums the weights of the rows it attracts, which overflows float32 where row weights
        // are large (3e38 each is finite, two of them are not). k-means++ depends only on the ratios, so scale by a
        // power of two (exact) until the largest fits; ordinary weights are left as they are.
        double largest = weights.Length == 0 ? 0 : weights.Max();
        double scale = largest > 1e30 ? Math.ScaleB(1.0, -Math.ILogB(largest)) : 1.0;
        // Candidates that attract nothing still get a tiny weight so K of them can always be chosen.
        for (int i = 0; i < count; i++)
            candidateWeights[i] = weights[i] > 0 ? (float)(weights[i] * scale) : 1e-6f;

        var source = new InMemoryBatchSource(pool, d, candidateWeights);
        var summary = DataValidator.Scan(source, cancellationToken);
        // The reduction is k-means++ over the candidates; at large K it costs more than the rounds, and runs where the fit does.
        using var reduction = (binding as ISeedReductionHost)?.TryBindCandidates(source, summary, k, cancellationToken)
            ?? HostReduction(source, summary, k, options);
        progress?.Report(roundsShare);
        return KMeansPlusPlusSeeding.Run(reduction, k, options.KMeansPlusPlusTrials, CounterRandom.Derive(seed, 0xC0FFEE), cancellationToken,
            progress?.Part(roundsShare, 1));
    }

    /// <summary>Host reductions above this many flops (about minutes on a few cores) are announced with a warning.</summary>
    internal static double HostReductionWarningFlops { get; set; } = 1e13;

    /// <summary>
    /// The reduction on the host, with a warning where it will take long: about 2·candidates·K·d·trials flops, which at
    /// K = 65,536 (650,000 candidates) is hours on a few cores.
    /// </summary>
    private static CpuDataBinding HostReduction(InMemoryBatchSource source, DataSummary summary, int k, KMeansOptions options)
    {
        double flops = 2.0 * summary.RowCount * k * source.Dimension * (options.KMeansPlusPlusTrials ?? KMeansPlusPlusSeeding.DefaultTrials(k));
        if (flops > HostReductionWarningFlops)
            options.Logger?.LogWarning(
                "FlashKMeans: k-means‖ reduces {Candidates} candidates to K = {K} by k-means++ on the host, about {Flops:G2} flops " +
                "(minutes to hours). Hierarchical (KMeansOptions.Hierarchical) or RandomRows seeding avoid it at this K.",
                summary.RowCount, k, flops);
        return new CpuDataBinding(source, summary, k, options.EffectiveThreads, usePruning: false, seedPruning: options.SeedPruning);
    }
}
