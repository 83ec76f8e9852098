using FlashKMeans.Backends;

namespace FlashKMeans.Cpu;

/// <summary>
/// Squared Euclidean distances of rows that may lack features (NaN, <see cref="MissingFeatures.Ignore"/>): a complete
/// row goes through the fused kernel as usual; a row with missing features is measured over the features it has, in
/// float64 from the differences, and scaled by d / (features present) so that it compares with a complete row's. Ties
/// go to the lower centroid index. Each row's result depends on that row alone.
/// </summary>
internal sealed class MissingFeatureScorer : IKMeansScorer
{
    private readonly float[] _centroids;
    private readonly CpuScorer _complete;
    private readonly int _d, _k, _threads;

    public MissingFeatureScorer(ReadOnlySpan<float> centroids, int dimension, int threads)
    {
        _centroids = centroids.ToArray();
        _d = dimension;
        _k = centroids.Length / dimension;
        _threads = threads;
        _complete = new CpuScorer(centroids, dimension, threads);
    }

    /// <summary>Takes new positions of the same K centroids.</summary>
    public void SetCentroids(ReadOnlySpan<float> centroids)
    {
        centroids.CopyTo(_centroids);
        _complete.SetCentroids(centroids);
    }

    public static bool HasMissing(ReadOnlySpan<float> row)
    {
        foreach (float v in row)
        {
            if (float.IsNaN(v))
                return true;
        }
        return false;
    }

    public void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        int n = rows.Length / _d;
        var incomplete = Incomplete(rows);
        if (incomplete.Count == 0)
        {
            _complete.Assign(rows, labels, distances);
            return;
        }
        var (packed, complete) = CompleteRows(rows, incomplete);
        var completeLabels = new int[complete.Count];
        var completeDistances = new float[complete.Count];
        _complete.Assign(packed, completeLabels, completeDistances);
        for (int i = 0; i < complete.Count; i++)
        {
            labels[complete[i]] = completeLabels[i];
            if (!distances.IsEmpty)
                distances[complete[i]] = completeDistances[i];
        }
        var rowArray = rows.ToArray();
        var missingLabels = new int[incomplete.Count];
        var missingDistances = new float[incomplete.Count];
        Threading.RowSlices.For(incomplete.Count, _threads, 16, (first, count) =>
        {
            var all = new double[_k];
            for (int i = first; i < first + count; i++)
            {
                Distances(rowArray.AsSpan(incomplete[i] * _d, _d), all);
                int best = 0;
                for (int c = 1; c < _k; c++)
                {
                    if (all[c] < all[best])
                        best = c;
                }
                missingLabels[i] = best;
                missingDistances[i] = (float)all[best];
            }
        });
        for (int i = 0; i < incomplete.Count; i++)
        {
            labels[incomplete[i]] = missingLabels[i];
            if (!distances.IsEmpty)
                distances[incomplete[i]] = missingDistances[i];
        }
    }

    public void AllDistances(ReadOnlySpan<float> rows, Span<float> distances)
    {
        int n = rows.Length / _d;
        var incomplete = Incomplete(rows);
        var (packed, complete) = CompleteRows(rows, incomplete);
        var completeDistances = new float[(long)complete.Count * _k];
        _complete.AllDistances(packed, completeDistances);
        for (int i = 0; i < complete.Count; i++)
            completeDistances.AsSpan(i * _k, _k).CopyTo(distances.Slice(complete[i] * _k, _k));
        var all = new double[_k];
        foreach (int r in incomplete)
        {
            Distances(rows.Slice(r * _d, _d), all);
            for (int c = 0; c < _k; c++)
                distances[r * _k + c] = (float)all[c];
        }
    }

    /// <summary>The scaled distance of a row with missing features to every centroid.</summary>
    private void Distances(ReadOnlySpan<float> row, Span<double> all)
    {
        int present = 0;
        for (int j = 0; j < _d; j++)
            present += float.IsNaN(row[j]) ? 0 : 1;
        double scale = (double)_d / present;
        for (int c = 0; c < _k; c++)
        {
            var centroid = _centroids.AsSpan(c * _d, _d);
            double sum = 0;
            for (int j = 0; j < _d; j++)
            {
                if (float.IsNaN(row[j]))
                    continue;
                double diff = (double)row[j] - centroid[j];
                sum += diff * diff;
            }
            all[c] = sum * scale;
        }
    }

    private List<int> Incomplete(ReadOnlySpan<float> rows)
    {
        var incomplete = new List<int>();
        for (int r = 0; r < rows.Length / _d; r++)
        {
            if (HasMissing(rows.Slice(r * _d, _d)))
                incomplete.Add(r);
        }
        return incomplete;
    }

    private (float[] Rows, List<int> Indices) CompleteRows(ReadOnlySpan<float> rows, List<int> incomplete)
    {
        int n = rows.Length / _d;
        var indices = new List<int>(n - incomplete.Count);
        int next = 0;
        for (int r = 0; r < n; r++)
        {
            if (next < incomplete.Count && incomplete[next] == r)
                next++;
            else
                indices.Add(r);
        }
        var packed = new float[(long)indices.Count * _d];
        for (int i = 0; i < indices.Count; i++)
            rows.Slice(indices[i] * _d, _d).CopyTo(packed.AsSpan(i * _d, _d));
        return (packed, indices);
    }

    public void Dispose() => _complete.Dispose();
}
