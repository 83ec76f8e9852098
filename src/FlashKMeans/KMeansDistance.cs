using FlashKMeans.Clustering;

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

    /// <summary>
    /// L1 (Manhattan) distance, Σ|x − c|: k-medians, robust to outliers. A Lloyd fit moves each centroid to the weighted
    /// coordinate-wise median of its rows, which never raises the L1 objective; stream learning moves it towards its
    /// batch's median (<see cref="MiniBatchKMeans"/>). Runs on the CPU; the data of a Lloyd fit is held in memory.
    /// </summary>
    Manhattan,
}
