namespace FlashKMeans.Backends;

/// <summary>
/// A scorer that finds each row's few nearest centroids without forming every distance (a GPU's fused top-k kernel):
/// the prototype models' prediction. Scorers without it give every distance, from which the caller selects.
/// </summary>
internal interface ITopKScorer
{
    /// <summary>Whether <see cref="Nearest"/> finds <paramref name="count"/> nearest centroids per row.</summary>
    bool FindsNearest(int count);

    /// <summary>
    /// The <paramref name="count"/> nearest centroids of each row, nearest first with ties to the lower index, and their
    /// squared distances: n × count each, row-major.
    /// </summary>
    void Nearest(ReadOnlySpan<float> rows, int count, Span<int> indices, Span<float> distances);
}
