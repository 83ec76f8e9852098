using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Primitives;

namespace FlashKMeans.Clustering;

/// <summary>
/// Labels a fit's rows under centroids of its own coordinates and measures that assignment: each row's label and squared
/// distance, the clusters' weights, the weighted inertia and the largest cluster weight over the mean. The hierarchical
/// fit measures every candidate of its balancing this way.
/// </summary>
/// <remarks>
/// Where the fit's backend lends the rows it has bound (<see cref="IReusableRowsBinding"/>: on the GPU, rows resident on the
/// device), the labels come from them, and the distances from one pass over the host rows, from the differences; a
/// prediction would send every row to the device again (0.65 s a candidate for 2M × 128 rows on an H100). Elsewhere,
/// and for distances other than squared Euclidean, a model of the centroids predicts the rows.
/// </remarks>
/// <param name="source">The rows, in the fit's coordinates.</param>
/// <param name="rows">The same rows as a backend has bound them, or null.</param>
/// <param name="options">The fit's distance, device and threads.</param>
internal sealed class AssignmentMeasure(IBatchSource source, IReusableRowsBinding? rows, KMeansOptions options)
{
    private readonly int _d = source.Dimension;
    // The rows under the source's mappings (the same weights), and the mappings.
    private readonly (IBatchSource Rows, RowMappingBatchSource[] Maps) _under = Under(source);

    private IBatchSource Unmapped => _under.Rows;

    private RowMappingBatchSource[] Maps => _under.Maps;

    private static (IBatchSource, RowMappingBatchSource[]) Under(IBatchSource source) =>
        (RowMappingBatchSource.Unwrap(source, out var maps), maps);

    /// <summary>Each row's nearest of <paramref name="centroids"/> (m × d) and its squared distance.</summary>
    public void Assign(ReadOnlyMemory<float> centroids, int[] labels, float[] distances, CancellationToken cancellationToken)
    {
        if (rows is null || options.Distance != KMeansDistance.SquaredEuclidean)
        {
            var model = new KMeansModel(centroids.ToArray(), _d, options.Distance, 0, 0, false, 0, [], [], "measure");
            model.Predict(source, labels, distances, options.Device, cancellationToken);
            return;
        }
        rows.Label(centroids.Span, labels, cancellationToken);
        int d = _d;
        // The rows under the source's centring, mapped slice by slice on the threads that measure them.
        using var reader = Unmapped.OpenReader();
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batchRows = batch.Rows;
            int first = (int)batch.FirstRow, count = batch.RowCount;
            const int Slice = 4096;
            Threading.ParallelWork.For(0, (count + Slice - 1) / Slice, new ParallelOptions { MaxDegreeOfParallelism = options.EffectiveThreads }, slice =>
            {
                int start = slice * Slice, end = Math.Min(count, start + Slice);
                var mapped = System.Buffers.ArrayPool<float>.Shared.Rent((end - start) * d);
                try
                {
                    RowMappingBatchSource.CopyMapped(Maps, batchRows.Span.Slice(start * d, (end - start) * d), mapped, first + start);
                    var c = centroids.Span;
                    for (int i = start; i < end; i++)
                        distances[first + i] = VectorMath.SquaredDistance(mapped.AsSpan((i - start) * d, d), c.Slice(labels[first + i] * d, d));
                }
                finally
                {
                    System.Buffers.ArrayPool<float>.Shared.Return(mapped);
                }
            });
        }
    }

    /// <summary>
    /// <see cref="Assign"/>, then the clusters' weights, the weighted inertia (rows in order) and the largest cluster
    /// weight over the mean (1 where nothing weighs).
    /// </summary>
    public double Imbalance(ReadOnlyMemory<float> centroids, int[] labels, float[] distances, double[] clusterWeights, out double inertia,
        CancellationToken cancellationToken)
    {
        Assign(centroids, labels, distances, cancellationToken);
        Array.Clear(clusterWeights);
        double sum = 0;
        using (var reader = Unmapped.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var w = batch.Weights.Span;
                for (int i = 0, row = (int)batch.FirstRow; i < batch.RowCount; i++, row++)
                {
                    double weight = w.IsEmpty ? 1.0 : w[i];
                    clusterWeights[labels[row]] += weight;
                    sum += weight * distances[row];
                }
            }
        }
        inertia = sum;
        double total = clusterWeights.Sum();
        return total > 0 ? clusterWeights.Max() / (total / clusterWeights.Length) : 1;
    }
}
