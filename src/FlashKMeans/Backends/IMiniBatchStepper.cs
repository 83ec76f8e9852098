using FlashKMeans.Data;

namespace FlashKMeans.Backends;

/// <summary>
/// Mini-batch steps on a device. While the engine's state is loaded (<see cref="Load"/>) the centroids and seen weights
/// live on the device and each step moves them there; <see cref="Read"/> brings them back. A batch is staged (its rows
/// start towards the device) before it is stepped on, and batches are stepped on in the order they were staged, so that
/// the copy of the next batch overlaps the step on this one.
/// </summary>
internal interface IMiniBatchStepper : IDisposable
{
    /// <summary>How many batches may be staged ahead of their steps.</summary>
    int StagingDepth { get; }

    /// <summary>Batches staged and not yet stepped on.</summary>
    int StagedBatches { get; }

    /// <summary>Puts the state on the device: K × d centroids and K seen weights.</summary>
    void Load(ReadOnlySpan<float> centroids, ReadOnlySpan<double> weightSums);

    /// <summary>Reads the state back from the device.</summary>
    void Read(Span<float> centroids, Span<double> weightSums);

    /// <summary>
    /// Stages rows (n × d, in the fitted coordinates; checked on the device like a source's) and their checked weights (n, or
    /// empty for unit weights). The rows may be reused when this returns.
    /// </summary>
    void Stage(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights);

    /// <summary>
    /// Stages rows [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) of a random-access source,
    /// at most <see cref="StagingDepth"/> batches ahead: straight from the source's memory where it is page-locked and
    /// stored as the device computes, else converted on the host. The rows are checked on the device as they are stepped
    /// on (<see cref="MiniBatchStepResult.BadRow"/>); their weights must have been checked.
    /// </summary>
    void Stage(IRowBlockSource source, long first, int count);

    /// <summary>
    /// Steps on the <paramref name="results"/>.Length oldest staged batches, in order, in one launch sequence, and waits for
    /// them. When a row of one of them is not finite (or too long for float32 distances) nothing moves from that batch on:
    /// its result names the row, and the results after it are <see cref="MiniBatchStepResult.NotStepped"/>.
    /// </summary>
    /// <param name="forgettingFactor">The factor every seen weight decays by before each batch is added.</param>
    /// <param name="results">Receives one result per step.</param>
    void StepStaged(double forgettingFactor, Span<MiniBatchStepResult> results);

    /// <summary>The seen weights after the last step (a host copy, valid until the next steps).</summary>
    ReadOnlySpan<double> WeightSums { get; }

    /// <summary>The last step's squared distances of its rows to their nearest centroids (before the step), in row order.</summary>
    void ReadDistances(Span<float> destination);

    /// <summary>Drops the staged batches (after an error, or at the end of a pass that stopped early).</summary>
    void DiscardStaged();
}

/// <summary>What one device step reports.</summary>
/// <param name="Inertia">The batch's weighted squared distances to the centroids before the step.</param>
/// <param name="Moved">The squared distance the centroids moved in all.</param>
/// <param name="BadRow">The batch's first row that is not finite, or -1; when set, the step changed nothing.</param>
internal readonly record struct MiniBatchStepResult(double Inertia, double Moved, int BadRow)
{
    /// <summary>The <see cref="BadRow"/> of a batch left alone because one before it in its launch sequence was bad.</summary>
    public const int NotStepped = int.MinValue;
}
