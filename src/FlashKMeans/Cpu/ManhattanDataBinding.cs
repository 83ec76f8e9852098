using FlashKMeans.Backends;
using FlashKMeans.Data;

namespace FlashKMeans.Cpu;

/// <summary>
/// The binding of an L1 (Manhattan) fit, k-medians: every distance is Σ|x − c|, and a step moves each centroid to
/// the weighted coordinate-wise median of its rows, which minimises the L1 cost of those rows, so no step raises the
/// objective. Seeding samples by D = L1 distance, the k-medians form. Medians need every row of a cluster at once, so the
/// rows stay in host memory and the medians are taken there; the distances are the CPU's, or a GPU's where its backend
/// gives its scorer (<paramref name="scorer"/>).
/// </summary>
internal sealed class ManhattanDataBinding(IBatchSource source, DataSummary summary, int k, int threads, CancellationToken cancellationToken,
    ManhattanDataBinding.ScorerFactory? scorer = null)
    : InMemoryBinding(source, summary, k, threads, cancellationToken)
{
    /// <summary>An L1 scorer of the given centroids (d per row) on a device.</summary>
    public delegate IKMeansScorer ScorerFactory(ReadOnlySpan<float> centroids, int dimension);

    protected override string Kind => "An L1 (k-medians) fit";

    protected override IKMeansScorer CreateScorer(ReadOnlySpan<float> centroids, int threads) =>
        scorer is null ? new ManhattanScorer(centroids, Dimension, threads) : scorer(centroids, Dimension);

    protected override void UpdateCentroid(ReadOnlySpan<float> rows, float[]? weights, ReadOnlySpan<int> members, Span<float> centroid) =>
        WeightedMedian.OfRows(rows, weights, members, centroid);
}
