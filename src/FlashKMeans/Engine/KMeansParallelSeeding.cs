using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Data;

namespace FlashKMeans.Engine;

/// <summary>
/// k-means|| (Bahmani et al., "Scalable k-means++"): a few passes each sample every row independently with
/// probability ℓ·w·D(x)/φ, then the candidates, weighted by how many rows they attract, are reduced to K
/// centroids with greedy k-means++ on the CPU (the candidate set is small).
/// </summary>
internal static class KMeansParallelSeeding
{
    public static float[] Run(IKMeansDataBinding binding, KMeansOptions options, ulong seed, CancellationToken cancellationToken)
    {
        int k = options.NumberOfClusters, d = binding.Dimension;
        double oversampling = options.OversamplingFactor * k;
        var candidates = new List<float>();
        var firstRow = new float[d];
        ulong counter = 0;
        FirstSeed.Pick(binding, seed, ref counter, firstRow, cancellationToken);
        candidates.AddRange(firstRow);
        double potential = binding.UpdateSeedDistances(firstRow, reset: true, cancellationToken);

        for (int round = 0; round < options.KMeansParallelRounds && potential > 0; round++)
        {
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
        // Candidates that attract nothing still get a tiny weight so K of them can always be chosen.
        for (int i = 0; i < count; i++)
            candidateWeights[i] = weights[i] > 0 ? (float)weights[i] : 1e-6f;

        var source = new InMemoryBatchSource(pool, d, candidateWeights);
        var summary = DataValidator.Scan(source, cancellationToken);
        using var reduction = new CpuDataBinding(source, summary, k, options.EffectiveThreads, usePruning: false,
            seedPruning: options.SeedPruning);
        return KMeansPlusPlusSeeding.Run(reduction, k, options.KMeansPlusPlusTrials, CounterRandom.Derive(seed, 0xC0FFEE), cancellationToken);
    }
}
