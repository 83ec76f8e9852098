using FlashKMeans.Data;
using FlashKMeans.Primitives;

namespace FlashKMeans.Backends;

/// <summary>
/// B independent k-means problems bound together (B = 1 for a plain fit): one
/// <see cref="IKMeansDataBinding"/> per problem for everything the engine does problem by problem (seeding,
/// re-seeding empty clusters, cluster weights, centroids, evaluation), and one <see cref="Step"/> that runs a
/// Lloyd iteration of all of them (on the GPU, one launch sequence for the whole batch). Disposing it disposes
/// the problems' bindings.
/// </summary>
internal interface IKMeansBatchStepper : IDisposable
{
    /// <summary>The problems, in batch order; all have the same K and d.</summary>
    IReadOnlyList<IKMeansDataBinding> Problems { get; }

    /// <summary>
    /// One Lloyd iteration (as <see cref="IKMeansDataBinding.Step"/>) of every problem whose
    /// <paramref name="active"/> entry is set, its outcome in <paramref name="results"/> at the same index.
    /// Inactive problems may be stepped as well (their results are then ignored) or left alone.
    /// </summary>
    /// <param name="normalizeCentroids">Spherical k-means: scale the new centroids to unit length.</param>
    /// <param name="active">Which problems to step.</param>
    /// <param name="results">Each stepped problem's outcome.</param>
    /// <param name="stepAhead">
    /// The caller will likely ask for the next step right after this one (with the same <paramref name="normalizeCentroids"/>):
    /// a backend with a queue may enqueue it before it waits for this one (<see cref="IStepAheadBinding"/>). Whatever the
    /// caller does next still sees the state this step left.
    /// </param>
    /// <param name="cancellationToken">Checked before the step.</param>
    void Step(bool normalizeCentroids, ReadOnlySpan<bool> active, Span<LloydStepResult> results, bool stepAhead, CancellationToken cancellationToken);
}

/// <summary>
/// A binding whose steps run on a device queue (the resident CUDA binding), which can enqueue its next step before the
/// host has read this one's results, so that the device does not wait for the host between steps. The binding keeps
/// every other call exact: centroids read are those this step left, and a call that needs its labels or replaces the
/// centroids first undoes the step enqueued ahead.
/// </summary>
internal interface IStepAheadBinding
{
    /// <summary><see cref="IKMeansDataBinding.Step"/>, enqueueing the next step ahead when <paramref name="stepAhead"/> is set (and it suits).</summary>
    LloydStepResult Step(bool normalizeCentroids, bool stepAhead, CancellationToken cancellationToken);
}

/// <summary>
/// Steps each problem's own binding, one after another in batch order: the batch of any backend without a
/// batched step (CPU, streamed GPU data, problems of different sizes), and of every plain fit (one problem).
/// Each binding's step is deterministic at any thread count, so the batch is too.
/// </summary>
internal sealed class SequentialBatchStepper : IKMeansBatchStepper
{
    private readonly IKMeansDataBinding[] _problems;

    /// <param name="problems">The bindings, owned from now on.</param>
    public SequentialBatchStepper(IReadOnlyList<IKMeansDataBinding> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        _problems = [.. problems];
    }

    public IReadOnlyList<IKMeansDataBinding> Problems => _problems;

    public void Step(bool normalizeCentroids, ReadOnlySpan<bool> active, Span<LloydStepResult> results, bool stepAhead, CancellationToken cancellationToken)
    {
        for (int p = 0; p < _problems.Length; p++)
        {
            if (!active[p])
                continue;
            results[p] = _problems[p] is IStepAheadBinding queued
                ? queued.Step(normalizeCentroids, stepAhead, cancellationToken)
                : _problems[p].Step(normalizeCentroids, cancellationToken);
        }
    }

    public void Dispose()
    {
        List<Exception>? errors = null;
        Disposal.DisposeInReverse(_problems, _ => true, ref errors);
        if (errors is { Count: 1 })
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(errors[0]);
        if (errors is not null)
            throw new AggregateException("Releasing the problems' bindings failed.", errors);
    }
}

/// <summary>A backend that can step a batch of equally sized problems at once (the CUDA backend).</summary>
internal interface IKMeansBatchBackend
{
    /// <summary>
    /// Binds the problems as one batch, or returns <c>null</c> when this batch cannot be held that way (for
    /// example problems of different sizes, or data that must stream), in which case the caller binds each
    /// problem on its own. The sources have been validated.
    /// </summary>
    IKMeansBatchStepper? TryBindBatch(IReadOnlyList<IBatchSource> sources, IReadOnlyList<DataSummary> summaries, int numberOfClusters,
        CancellationToken cancellationToken);
}
