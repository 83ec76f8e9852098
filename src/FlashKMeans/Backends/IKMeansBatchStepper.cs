using FlashKMeans.Data;

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
    void Step(bool normalizeCentroids, ReadOnlySpan<bool> active, Span<LloydStepResult> results, CancellationToken cancellationToken);
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

    public void Step(bool normalizeCentroids, ReadOnlySpan<bool> active, Span<LloydStepResult> results, CancellationToken cancellationToken)
    {
        for (int p = 0; p < _problems.Length; p++)
        {
            if (active[p])
                results[p] = _problems[p].Step(normalizeCentroids, cancellationToken);
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
