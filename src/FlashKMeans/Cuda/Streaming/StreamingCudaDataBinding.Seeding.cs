using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;

namespace FlashKMeans.Cuda.Streaming;

// Seeding's primitives over the streamed rows: distances to the nearest seed so far, their weights and potentials, and rows by cumulative potential.
internal sealed unsafe partial class StreamingCudaDataBinding
{
    /// <summary>The seeding state, made on first use and freed with the binding.</summary>
    private DeviceSeedDistances Seeds => _seeds ??= Own(new DeviceSeedDistances(_s, _n, _hostWeights, WeightsPointer));

    public double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken) =>
        DeviceSeeding.UpdateSeedDistances(_s, Seeds, newSeeds, reset, _d, _ld, EveryBatch, cancellationToken);

    /// <summary>The rows as a span per batch of one pass (the cached ones merged), for the seeding primitives.</summary>
    private void EveryBatch(DeviceSeeding.SpanWork work, CancellationToken cancellationToken) =>
        RunPass(false, null, (first, count, rows, norms) => work(first, count, rows, norms), cancellationToken, mergeCached: true);

    public void GetSeedWeights(Span<double> weights)
    {
        // One assignment against every seed so far: its argmin (lowest index on ties) is the first seed to reach each row.
        var seeds = Seeds.SeedsSinceReset;
        CudaBindingHost.CheckSeedCount(weights, seeds.Length, _d);
        Evaluate(seeds, weights, CancellationToken.None);
    }

    public void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken) =>
        DeviceSeeding.EvaluateSeedCandidates(_s, Seeds, candidates, potentials, _n, _d, _ld, WeightsPointer, EveryBatch, cancellationToken);

    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken) =>
        Seeds.FindRowsAtCumulativePotential(sortedTargets, rows);

    public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken) =>
        Seeds.SampleByPotential(scale, seed);

    /// <summary>The candidates are few beside the data: they are bound resident, as <see cref="CudaDataBinding"/> binds them.</summary>
    public IKMeansDataBinding? TryBindCandidates(IBatchSource candidates, DataSummary summary, int numberOfClusters, CancellationToken cancellationToken) =>
        CudaDataBinding.BindCandidates(_s, candidates, summary, numberOfClusters, cancellationToken);
}
