using FlashKMeans.Data;

namespace FlashKMeans.Backends;

/// <summary>
/// A compute backend. The engine's Lloyd driver, initialisers, convergence test and empty-cluster policy
/// are written once against this interface; a backend supplies assignment, the centroid update and data
/// movement (CPU SIMD, CUDA, streaming).
/// </summary>
internal interface IKMeansBackend : IDisposable
{
    /// <summary>A short name for logs, such as "cpu (2 threads, AVX-512)".</summary>
    string Name { get; }

    /// <summary>
    /// Prepares repeated passes over <paramref name="source"/> for K-cluster work (for example uploads or
    /// caches the data, allocates labels). The source has been validated.
    /// </summary>
    IKMeansDataBinding Bind(IBatchSource source, DataSummary summary, int numberOfClusters, CancellationToken cancellationToken);

    /// <summary>Creates a scorer for assignment and distances of new rows under fixed centroids.</summary>
    /// <param name="centroids">K × d row-major centroids.</param>
    /// <param name="dimension">d.</param>
    IKMeansScorer CreateScorer(ReadOnlyMemory<float> centroids, int dimension);
}
