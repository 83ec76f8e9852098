namespace FlashKMeans.Backends;

/// <summary>
/// A backend that runs whole mini-batch steps on its device (<see cref="IMiniBatchStepper"/>): the assignment, the batch's
/// per-cluster sums and the running-mean update, with the stream's centroids and seen weights kept there between steps.
/// Backends without it assign each step's rows through a scorer, and the engine updates on the host.
/// </summary>
internal interface IMiniBatchBackend
{
    /// <summary>A stepper for <paramref name="numberOfClusters"/> centroids of <paramref name="dimension"/> features.</summary>
    /// <param name="numberOfClusters">K.</param>
    /// <param name="dimension">d.</param>
    /// <param name="batchRows">The most rows of a batch staged ahead of its step; larger batches are taken one at a time.</param>
    /// <param name="normalizeCentroids">Whether each moved centroid is scaled back to unit length (cosine).</param>
    /// <param name="centroidPrecision">The precision centroids are kept in (<see cref="MiniBatchOptions.CentroidPrecision"/>).</param>
    IMiniBatchStepper CreateMiniBatchStepper(int numberOfClusters, int dimension, int batchRows, bool normalizeCentroids, ComputePrecision centroidPrecision);
}
