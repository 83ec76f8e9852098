using FlashKMeans.Backends;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Data;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Cuda.Streaming;

/// <summary>
/// Prediction over a source of any size on the GPU: the assign-only pass of
/// <see cref="StreamingCudaDataBinding.ForAssignment"/>, through the same pinned ring, feeder and copy/compute
/// overlap as a streamed fit, with each batch's labels copied back as soon as it is assigned. GPU memory
/// holds only the ring's landing buffers, the read-back slots and the centroids; host memory only the ring.
/// </summary>
internal static class StreamingPrediction
{
    /// <param name="session">Device, stream and kernels.</param>
    /// <param name="options">Batch rows, ring depth, threads and logger.</param>
    /// <param name="source">Rows to label (already unit length for cosine models); read once.</param>
    /// <param name="rows">N, at least 1.</param>
    /// <param name="centroids">K × d.</param>
    /// <param name="withDistances">Whether distances come back too.</param>
    /// <param name="handler">Receives each batch, in row order.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    public static void Run(CudaSession session, KMeansOptions options, IBatchSource source, long rows, ReadOnlySpan<float> centroids,
        bool withDistances, LabelBatchHandler handler, CancellationToken cancellationToken)
    {
        int d = source.Dimension;
        var streaming = options.Clone();
        streaming.DataMode = GpuDataMode.Streaming;
        streaming.LabelPlacement = LabelPlacement.Host;
        var plan = StreamingPlanner.Plan(session, streaming, d, rows);
        options.Logger?.LogInformation("FlashKMeans: GPU prediction, {Plan}.", plan.Reason);
        using var binding = StreamingCudaDataBinding.ForAssignment(session, source, rows, centroids.Length / d, plan, options.EffectiveThreads);
        binding.AssignBatches(centroids, withDistances, handler, cancellationToken);
    }
}
