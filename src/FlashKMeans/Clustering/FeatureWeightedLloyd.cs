using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Clustering;

/// <summary>
/// Lloyd's algorithm with learned feature weights (<see cref="KMeansOptions.AutomaticFeatureWeights"/>), in the manner of
/// Huang et al.'s W-k-means: rounds that alternate a Lloyd fit under fixed weights w (on rows scaled by √w, so every
/// backend runs it unchanged, from the last round's centroids) with new weights from that fit's assignment,
/// wⱼ = 1 − within-cluster / total variance of feature j (<see cref="FeatureRelevance"/>). The rounds stop when no
/// weight moves by more than <see cref="WeightTolerance"/>, or after <see cref="MaximumRounds"/>. The centroids are the
/// clusters' means in the data's own features (a feature of weight 0 still has its mean).
/// </summary>
internal static class FeatureWeightedLloyd
{
    /// <summary>Weight rounds at most (the first fit included).</summary>
    public const int MaximumRounds = 5;

    /// <summary>The largest change of any weight that ends the rounds.</summary>
    public const double WeightTolerance = 1e-3;

    /// <summary>
    /// Runs the rounds on <paramref name="training"/> (validated, centred where the fit centres).
    /// <paramref name="fit"/> fits rows under fixed weights from given starting centroids (null: the options' seeding)
    /// and returns the model of the scaled rows.
    /// </summary>
    /// <returns>Centroids in the training rows' coordinates, the weights, the weighted inertia, and the last fit.</returns>
    public static (float[] Centroids, float[] Weights, double Inertia, KMeansModel LastFit) Run(IBatchSource training,
        Func<IBatchSource, float[]?, KMeansModel> fit, int threads, ILogger? logger, CancellationToken cancellationToken)
    {
        int d = training.Dimension;
        var weights = new float[d];
        Array.Fill(weights, 1f);
        var last = fit(training, null);
        var centroids = last.Centroids.ToArray();
        for (int round = 1; ; round++)
        {
            var relevance = Measure(training, centroids, weights, threads, cancellationToken);
            double inertia = 0;
            for (int j = 0; j < d; j++)
                inertia += weights[j] * relevance.Within[j];
            double moved = 0;
            for (int j = 0; j < d; j++)
                moved = Math.Max(moved, Math.Abs(relevance.Weights[j] - weights[j]));
            logger?.LogInformation("FlashKMeans: feature-weight round {Round}: inertia {Inertia:G9} under the round's weights; the weights would move by up to {Moved:G3}.",
                round, inertia, moved);
            if (moved <= WeightTolerance || round == MaximumRounds)
                return (centroids, weights, inertia, last);
            weights = relevance.Weights.ToArray();
            var scale = weights.Select(MathF.Sqrt).ToArray();
            var start = centroids.ToArray();
            VectorMath.ScaleRows(start, scale);
            last = fit(new FeatureScaledBatchSource(training, scale), start);
            centroids = Means(training, last.Centroids.ToArray(), scale, centroids, threads, cancellationToken);
        }
    }

    /// <summary>The weights' statistics of the assignment of every row under <paramref name="centroids"/> and weights <paramref name="weights"/>.</summary>
    private static FeatureRelevance Measure(IBatchSource rows, float[] centroids, float[] weights, int threads, CancellationToken cancellationToken)
    {
        int d = rows.Dimension;
        var relevance = new FeatureRelevance(d);
        using var scorer = new FeatureWeightedScorer(centroids, d, weights, (c, dd) => new CpuScorer(c.Span, dd, threads));
        using var reader = rows.OpenReader();
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var labels = new int[batch.RowCount];
            scorer.Assign(batch.Rows.Span, labels, default);
            relevance.Add(batch.Rows.Span, batch.Weights.Span, labels, centroids, 1.0);
        }
        return relevance;
    }

    /// <summary>
    /// Each cluster's weighted mean of the rows as they are, the rows labelled under the scaled centroids of a fit on
    /// rows scaled by <paramref name="scale"/>; a cluster that wins no weight keeps its <paramref name="previous"/> centroid.
    /// </summary>
    private static float[] Means(IBatchSource rows, float[] scaledCentroids, float[] scale, float[] previous, int threads, CancellationToken cancellationToken)
    {
        int d = rows.Dimension, k = scaledCentroids.Length / d;
        var sums = new double[k * d];
        var totals = new double[k];
        using var scorer = new CpuScorer(scaledCentroids, d, threads);
        using var reader = rows.OpenReader();
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = batch.RowCount;
            var scaled = batch.Rows.ToArray();
            VectorMath.ScaleRows(scaled, scale);
            var labels = new int[n];
            scorer.Assign(scaled, labels, default);
            var values = batch.Rows.Span;
            var batchWeights = batch.Weights.Span;
            for (int r = 0; r < n; r++)
            {
                double w = batchWeights.IsEmpty ? 1 : batchWeights[r];
                if (w == 0)
                    continue;
                totals[labels[r]] += w;
                VectorMath.AddScaled(sums.AsSpan(labels[r] * d, d), values.Slice(r * d, d), w);
            }
        }
        var means = previous.ToArray();
        for (int c = 0; c < k; c++)
        {
            if (!(totals[c] > 0))
                continue;
            for (int j = 0; j < d; j++)
                means[c * d + j] = (float)(sums[c * d + j] / totals[c]);
        }
        return means;
    }
}
