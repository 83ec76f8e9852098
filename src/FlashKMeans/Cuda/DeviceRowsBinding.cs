using FlashKMeans.Backends;
using FlashKMeans.Data;

namespace FlashKMeans.Cuda;

/// <summary>
/// What a GPU binding does the same way however it holds its rows (resident, <see cref="CudaDataBinding"/>: one span;
/// cached or streamed: a span per batch of a pass), written once over <see cref="ForEachSpan"/>: seeding's primitives
/// (distances to the nearest seed so far, the seeds' weights, the candidates' potentials, rows by cumulative potential)
/// and binding k-means‖'s candidates.
/// </summary>
internal abstract class DeviceRowsBinding : ISeedReductionHost
{
    private DeviceSeedDistances? _seeds;

    /// <summary>N.</summary>
    public abstract long RowCount { get; }

    /// <summary>d.</summary>
    public abstract int Dimension { get; }

    /// <summary>The inertia and cluster weights of <paramref name="centroids"/> over every row (a pass, with no step).</summary>
    public abstract double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken);

    /// <summary>The device the rows are on.</summary>
    private protected abstract CudaSession Session { get; }

    /// <summary>The rows' pitch as stored, in elements.</summary>
    private protected abstract int Pitch { get; }

    /// <summary>The rows' weights on the host, or null for unit weights.</summary>
    private protected abstract float[]? HostWeights { get; }

    /// <summary>The rows' weights on the device, or 0 for unit weights.</summary>
    private protected abstract ulong WeightsPointer { get; }

    /// <summary>Enqueues <paramref name="work"/> for every span of the rows as they are held, in row order.</summary>
    private protected abstract void ForEachSpan(DeviceSeeding.SpanWork work, CancellationToken cancellationToken);

    /// <summary>Takes <paramref name="resource"/> into what the binding frees when it is disposed.</summary>
    private protected abstract T Own<T>(T resource) where T : IDisposable;

    /// <summary>The seeding state, made on first use and freed with the binding.</summary>
    private DeviceSeedDistances Seeds => _seeds ??= Own(new DeviceSeedDistances(Session, RowCount, HostWeights, WeightsPointer));

    public double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken) =>
        DeviceSeeding.UpdateSeedDistances(Session, Seeds, newSeeds, reset, Dimension, Pitch, ForEachSpan, cancellationToken);

    public void GetSeedWeights(Span<double> weights)
    {
        // One assignment against every seed so far: its argmin (lowest index on ties) is the first seed to reach each row.
        var seeds = Seeds.SeedsSinceReset;
        CudaBindingHost.CheckSeedCount(weights, seeds.Length, Dimension);
        Evaluate(seeds, weights, CancellationToken.None);
    }

    public void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken) =>
        DeviceSeeding.EvaluateSeedCandidates(Session, Seeds, candidates, potentials, RowCount, Dimension, Pitch, WeightsPointer, ForEachSpan,
            cancellationToken);

    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken) =>
        Seeds.FindRowsAtCumulativePotential(sortedTargets, rows);

    public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken) =>
        Seeds.SampleByPotential(scale, seed);

    /// <summary>
    /// The candidates are few beside the data: bound resident on this binding's GPU when the reduction reaches
    /// <see cref="CudaDataBinding.DeviceReductionThreshold"/>, otherwise left to the host.
    /// </summary>
    public IKMeansDataBinding? TryBindCandidates(IBatchSource candidates, DataSummary summary, int numberOfClusters, CancellationToken cancellationToken) =>
        CudaDataBinding.BindCandidates(Session, candidates, summary, numberOfClusters, cancellationToken);
}
