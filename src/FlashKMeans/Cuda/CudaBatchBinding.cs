using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cuda;

/// <summary>
/// B problems of the same size resident on the GPU as one <see cref="CudaBatch"/>: each problem is a
/// <see cref="CudaDataBinding"/> on its slices (upload, seeding, re-seeding, evaluation), and a step launches
/// the kernels once for all of them. Converged problems are stepped along with the rest (one launch covers the
/// batch); the engine has kept their result.
/// </summary>
internal sealed class CudaBatchBinding : IKMeansBatchStepper
{
    private readonly CudaBatch _batch;
    private readonly List<CudaDataBinding> _problems = [];

    /// <param name="session">The device.</param>
    /// <param name="sources">The problems' validated rows, all N × d, all weighted or none.</param>
    /// <param name="rows">N.</param>
    /// <param name="k">K.</param>
    /// <param name="cancellationToken">Stops the upload.</param>
    public CudaBatchBinding(CudaSession session, IReadOnlyList<IBatchSource> sources, long rows, int k, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfZero(sources.Count);
        _batch = new CudaBatch(session, sources.Count, rows, sources[0].Dimension, k, sources[0].HasWeights);
        try
        {
            for (int p = 0; p < sources.Count; p++)
                _problems.Add(new CudaDataBinding(session, _batch, p, sources[p], cancellationToken));
            // One scale per sum for the whole batch: the finest that no problem's sums can overflow, which is the
            // smallest of the problems' own (each is a power of two that falls as the magnitudes grow).
            _batch.Scale = _problems.Min(p => p.Scale);
            _batch.WeightScale = _problems.Min(p => p.WeightScale);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IReadOnlyList<IKMeansDataBinding> Problems => _problems;

    /// <summary>The shared device state, for the benchmark's timings.</summary>
    internal CudaBatch Batch => _batch;

    public void Step(bool normalizeCentroids, ReadOnlySpan<bool> active, Span<LloydStepResult> results, bool stepAhead, CancellationToken cancellationToken) =>
        _batch.Step(normalizeCentroids, results, stepAhead, cancellationToken);

    public void Dispose()
    {
        List<Exception>? errors = null;
        Disposal.DisposeInReverse(_problems, e => e is AggregateException, ref errors);
        _problems.Clear();
        try
        {
            _batch.Dispose();
        }
        catch (AggregateException e)
        {
            (errors ??= []).Add(e);
        }
        if (errors is not null)
            throw new AggregateException("Freeing the batch's GPU memory failed.", errors);
    }
}
