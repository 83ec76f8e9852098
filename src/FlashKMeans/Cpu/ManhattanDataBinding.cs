using FlashKMeans.Backends;
using FlashKMeans.Data;

namespace FlashKMeans.Cpu;

/// <summary>
/// The CPU binding of an L1 (Manhattan) fit, k-medians: every distance is Σ|x − c|, and a step moves each centroid to
/// the weighted coordinate-wise median of its rows, which minimises the L1 cost of those rows, so no step raises the
/// objective. Seeding samples by D = L1 distance, the k-medians form. Medians need every row of a cluster at once.
/// </summary>
internal sealed class ManhattanDataBinding(IBatchSource source, DataSummary summary, int k, int threads, CancellationToken cancellationToken)
    : InMemoryBinding(source, summary, k, threads, cancellationToken)
{
    protected override string Kind => "An L1 (k-medians) fit";

    protected override IKMeansScorer CreateScorer(ReadOnlySpan<float> centroids, int threads) => new ManhattanScorer(centroids, Dimension, threads);

    protected override void UpdateCentroid(ReadOnlySpan<float> rows, float[]? weights, ReadOnlySpan<int> members, Span<float> centroid) =>
        WeightedMedian.OfRows(rows, weights, members, centroid);
}
