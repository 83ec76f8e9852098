using FlashKMeans.Clustering;

namespace FlashKMeans.Data;

/// <summary>
/// Receives the result of <see cref="KMeansModel.Predict(IBatchSource, IPredictionSink, bool, ComputeDevice, CancellationToken)"/>
/// batch by batch, so that labels of more rows than one array can hold (N ≥ 2³¹) can be written to a file,
/// a memory-mapped array or a database as they are produced.
/// </summary>
public interface IPredictionSink
{
    /// <summary>
    /// Takes the labels of rows [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="labels"/>.Length).
    /// Called on the thread that called <c>Predict</c>, once per batch, in row order, with no gaps; the spans
    /// are valid only during the call (copy what must be kept). An exception thrown here stops the prediction
    /// and leaves <c>Predict</c> with it, after every buffer has been freed.
    /// </summary>
    /// <param name="firstRow">0-based row of the first label in the source.</param>
    /// <param name="labels">0-based cluster of each row.</param>
    /// <param name="distances">
    /// Each row's distance to its cluster's centroid (squared Euclidean, or 1 − cos for cosine models), when
    /// distances were asked for; otherwise empty.
    /// </param>
    void Write(long firstRow, ReadOnlySpan<int> labels, ReadOnlySpan<float> distances);
}
