namespace FlashKMeans.Backends;

/// <summary>
/// A scorer whose centroids can be replaced (same K and d) while it keeps its device buffers and staging: the scorer
/// of a stream's steps, whose centroids move after every batch.
/// </summary>
internal interface IReusableScorer : IKMeansScorer
{
    /// <summary>Scores against <paramref name="centroids"/> (K × d, the K and d it was made with) from now on.</summary>
    void SetCentroids(ReadOnlySpan<float> centroids);
}
