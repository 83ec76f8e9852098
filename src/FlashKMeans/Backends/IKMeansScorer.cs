namespace FlashKMeans.Backends;

/// <summary>Assignment and distances of rows under fixed centroids.</summary>
internal interface IKMeansScorer : IDisposable
{
    /// <summary>Nearest centroid (0-based) of each row and, optionally, its squared distance.</summary>
    /// <param name="rows">n × d row-major.</param>
    /// <param name="labels">n labels.</param>
    /// <param name="distances">n distances, or empty.</param>
    void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances);

    /// <summary>Squared distance of each row to every centroid, n × K row-major.</summary>
    void AllDistances(ReadOnlySpan<float> rows, Span<float> distances);

    /// <summary>K, the centroids of <paramref name="d"/> values in <paramref name="centroids"/>; throws where d is below 1 or they are not K ≥ 1 whole rows.</summary>
    static int CentroidCount(ReadOnlySpan<float> centroids, int d)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(d, 1, "dimension");
        return centroids.Length > 0 && centroids.Length % d == 0 ? centroids.Length / d
            : throw new ArgumentException($"Centroids must be a non-empty multiple of the dimension {d} long.", nameof(centroids));
    }

    /// <summary>The number of rows of <paramref name="d"/> values in <paramref name="rows"/>; throws where they are not whole rows.</summary>
    static int RowCount(ReadOnlySpan<float> rows, int d) => rows.Length % d == 0 ? rows.Length / d
        : throw new ArgumentException($"The rows hold {rows.Length} values, not a multiple of the dimension {d}.", nameof(rows));
}
