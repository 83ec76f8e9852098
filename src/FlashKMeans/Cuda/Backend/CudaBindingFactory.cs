using FlashKMeans.Backends;
using FlashKMeans.Cuda.Streaming;
using FlashKMeans.Data;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Cuda.Backend;

/// <summary>
/// Binds a source on the GPU in the placement <see cref="KMeansOptions.DataMode"/> asks for, or, under
/// <see cref="GpuDataMode.Auto"/>, the one the sizes call for: resident when the data fits, otherwise a
/// cache of what fits plus streaming of the rest; and where a streamed fit keeps its labels
/// (<see cref="KMeansOptions.LabelPlacement"/>). Logs the choices and the sizes.
/// </summary>
internal static class CudaBindingFactory
{
    public static IKMeansDataBinding Bind(CudaSession session, KMeansOptions options, IBatchSource source, DataSummary summary,
        int numberOfClusters, CancellationToken cancellationToken)
    {
        var plan = StreamingPlanner.Plan(session, options, source.Dimension, summary.RowCount);
        options.Logger?.LogInformation("FlashKMeans: GPU data placement {Plan}.", plan.Reason);
        if (plan.Mode == GpuDataMode.InMemory)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var binding = new CudaDataBinding(session, source, summary, numberOfClusters, cancellationToken);
            double seconds = clock.Elapsed.TotalSeconds;
            options.Logger?.LogDebug("FlashKMeans: {Rows} rows uploaded and packed in {Milliseconds:F0} ms ({Rate:F1} GB/s of features).",
                summary.RowCount, seconds * 1e3, summary.RowCount * (double)source.Dimension * sizeof(float) / 1e9 / Math.Max(seconds, 1e-9));
            return binding;
        }
        return new StreamingCudaDataBinding(session, source, summary.RowCount, numberOfClusters, options.DeterministicUpdate,
            plan, options.EffectiveThreads, slotAllocator: null, cancellationToken);
    }
}
