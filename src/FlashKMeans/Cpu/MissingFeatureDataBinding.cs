using FlashKMeans.Backends;
using FlashKMeans.Data;

namespace FlashKMeans.Cpu;

/// <summary>
/// The CPU binding of a Lloyd fit whose rows may lack features (<see cref="MissingFeatures.Ignore"/>): distances are
/// taken over the features present, scaled by d / present (<see cref="MissingFeatureScorer"/>), and a step moves each
/// coordinate of a centroid to the weighted mean of the rows that have that feature; a coordinate none of them has
/// keeps its place, so missing values never drag a centroid towards zero.
/// </summary>
internal sealed class MissingFeatureDataBinding(IBatchSource source, DataSummary summary, int k, int threads, CancellationToken cancellationToken)
    : InMemoryBinding(source, summary, k, threads, cancellationToken)
{
    private float[]? _featureMeans;

    protected override string Kind => "A fit with missing features";

    /// <summary>
    /// The rows asked for, their missing features filled with each feature's weighted mean over the rows that have it:
    /// a row that becomes a seed or re-seeds an empty cluster becomes a centroid, which must have every coordinate.
    /// </summary>
    public override void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken)
    {
        base.GatherRows(rows, vectors, weights, cancellationToken);
        var means = _featureMeans ??= FeatureMeans();
        for (int i = 0; i < vectors.Length; i++)
        {
            if (float.IsNaN(vectors[i]))
                vectors[i] = means[i % Dimension];
        }
    }

    private float[] FeatureMeans()
    {
        int d = Dimension;
        var sums = new double[d];
        var totals = new double[d];
        var rows = Rows;
        for (long r = 0; r < RowCount; r++)
        {
            double w = Weights is null ? 1.0 : Weights[r];
            for (int j = 0; j < d; j++)
            {
                float v = rows[(int)(r * d + j)];
                if (float.IsNaN(v))
                    continue;
                sums[j] += w * v;
                totals[j] += w;
            }
        }
        return Enumerable.Range(0, d).Select(j => totals[j] > 0 ? (float)(sums[j] / totals[j]) : 0f).ToArray();
    }

    protected override IKMeansScorer CreateScorer(ReadOnlySpan<float> centroids, int threads) => new MissingFeatureScorer(centroids, Dimension, threads);

    protected override void UpdateCentroid(ReadOnlySpan<float> rows, float[]? weights, ReadOnlySpan<int> members, Span<float> centroid)
    {
        int d = Dimension;
        var sums = new double[d];
        var totals = new double[d];
        foreach (int r in members)
        {
            double w = weights is null ? 1.0 : weights[r];
            if (w == 0)
                continue;
            for (int j = 0; j < d; j++)
            {
                float v = rows[r * d + j];
                if (float.IsNaN(v))
                    continue;
                sums[j] += w * v;
                totals[j] += w;
            }
        }
        for (int j = 0; j < d; j++)
        {
            if (totals[j] > 0)
                centroid[j] = (float)(sums[j] / totals[j]);
        }
    }
}
