using FlashKMeans.Clustering;

namespace FlashKMeans;

/// <summary>The algorithm a <see cref="KMeans"/> fit runs.</summary>
public enum KMeansAlgorithm
{
    /// <summary>Lloyd's algorithm: every iteration assigns every row and moves each centroid to its rows' mean. Exact.</summary>
    Lloyd = 0,

    /// <summary>
    /// Mini-batch k-means (Sculley 2010; scikit-learn's <c>MiniBatchKMeans</c>): each step assigns one batch of rows and
    /// moves each centroid towards its rows' mean by its share of the weight it has seen. One pass over data far larger
    /// than memory is often enough; the settings are in <see cref="KMeansOptions.MiniBatch"/>. See also
    /// <see cref="MiniBatchKMeans"/>, which trains on batches as they arrive.
    /// </summary>
    MiniBatch = 1,
}
