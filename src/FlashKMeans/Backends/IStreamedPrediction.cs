using FlashKMeans.Data;

namespace FlashKMeans.Backends;

/// <summary>Receives one batch's labels, and its distances when they were asked for (otherwise empty), on the host.</summary>
/// <param name="firstRow">Row of the first label.</param>
/// <param name="labels">The batch's labels; valid only during the call.</param>
/// <param name="distances">The batch's distances, or empty; valid only during the call.</param>
internal delegate void LabelBatchHandler(long firstRow, ReadOnlySpan<int> labels, ReadOnlySpan<float> distances);

/// <summary>
/// A backend that labels a source of any size in one streamed pass of its own (the GPU: an assign-only pass through
/// pinned buffers), faster than scoring it batch by batch through a scorer.
/// </summary>
internal interface IStreamedPrediction
{
    /// <summary>
    /// Labels <paramref name="rows"/> rows of <paramref name="source"/> under <paramref name="centroids"/> (K × d); each
    /// batch's labels, and distances when asked for, reach <paramref name="handler"/> in row order.
    /// </summary>
    void PredictStreamed(IBatchSource source, long rows, ReadOnlySpan<float> centroids, bool withDistances, LabelBatchHandler handler,
        CancellationToken cancellationToken);
}
