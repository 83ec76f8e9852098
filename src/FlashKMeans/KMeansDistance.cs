namespace FlashKMeans;

/// <summary>The dissimilarity that k-means minimises.</summary>
public enum KMeansDistance
{
    /// <summary>Squared Euclidean distance, the classic Lloyd objective.</summary>
    SquaredEuclidean,

    /// <summary>
    /// Cosine distance, 1 − cos(x, c) (spherical k-means). Rows are scaled to unit length before
    /// clustering and centroids are renormalised after every update. Rows of zero length are rejected.
    /// </summary>
    Cosine,
}
