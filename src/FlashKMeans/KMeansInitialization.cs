namespace FlashKMeans;

/// <summary>How the first centroids are chosen.</summary>
public enum KMeansInitialization
{
    /// <summary>
    /// Greedy k-means++: at each step several candidates are sampled in proportion to their squared
    /// distance to the centroids chosen so far, and the one that lowers the potential most is kept.
    /// </summary>
    KMeansPlusPlus,

    /// <summary>
    /// k-means|| (scalable k-means++): a few rounds sample many candidates independently with an
    /// oversampling factor, then weighted k-means++ reduces the candidates to K centroids.
    /// </summary>
    KMeansParallel,

    /// <summary>K distinct rows drawn uniformly without replacement.</summary>
    RandomRows,

    /// <summary>The centroids given in <see cref="KMeansOptions.InitialCentroids"/>.</summary>
    Explicit,
}
