namespace FlashKMeans.Backends;

/// <summary>
/// A binding whose rows, once bound, serve fits of other K and the labelling of their models without being read or
/// uploaded again: the choice of K's sweep binds its rows on the GPU once and keeps them there for every K.
/// </summary>
internal interface IReusableRowsBinding
{
    /// <summary>
    /// A binding of the same rows for a fit of <paramref name="numberOfClusters"/> clusters, as
    /// <see cref="IKMeansBackend.Bind"/> would bind them. It reads this binding's rows, so dispose it first.
    /// </summary>
    IKMeansDataBinding ForClusterCount(int numberOfClusters);

    /// <summary>
    /// Each bound row's nearest of <paramref name="centroids"/> (m × d, in the bound rows' coordinates; the lower index on
    /// ties), as a scorer of the same backend labels them.
    /// </summary>
    void Label(ReadOnlySpan<float> centroids, Span<int> labels, CancellationToken cancellationToken);
}
