using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;

namespace FlashKMeans.Cuda.Streaming;

// Seeding's primitives over the streamed rows: distances to the nearest seed so far, their weights and potentials, and rows by cumulative potential.
internal sealed unsafe partial class StreamingCudaDataBinding
{
    /// <summary>The seeding state, made on first use and freed with the binding.</summary>
    private DeviceSeedDistances Seeds => _seeds ??= Own(new DeviceSeedDistances(_s, _n, _hostWeights, WeightsPointer));

    public double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken)
    {
        _context.MakeCurrent();
        var seedDistances = Seeds.Add(newSeeds, reset);
        int m = newSeeds.Length / _d;
        if (m > 0)
        {
            using var uploaded = UploadedCentroids.Upload(_s, newSeeds, _d);
            RunPass(false, null, (first, count, rows, xNorms) =>
                _s.Assign(rows, xNorms, count, _d, _ld, uploaded.Packed, uploaded.Norms, m, _ld, 0, seedDistances.At(first), updateMin: true),
                cancellationToken, mergeCached: true);
            _s.Stream.Synchronize();
        }
        return Seeds.Potential();
    }

    public void GetSeedWeights(Span<double> weights)
    {
        // One assignment against every seed so far: its argmin (lowest index on ties) is the first seed to reach each row.
        var seeds = Seeds.SeedsSinceReset;
        CudaBindingHost.CheckSeedCount(weights, seeds.Length, _d);
        Evaluate(seeds, weights, CancellationToken.None);
    }

    public void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken)
    {
        var seed = Seeds.Current;
        _context.MakeCurrent();
        int m = candidates.Length / _d;
        // The same groups as in memory, one pass each: the n × group distance matrix stays within 256 MiB,
        // and the potentials are reduced over all rows at once, so they equal the in-memory ones.
        int group = CudaBindingHost.CandidateGroup(_n);
        for (int first = 0; first < m; first += group)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(group, m - first);
            using var uploaded = UploadedCentroids.Upload(_s, candidates.Slice(first * _d, count * _d), _d);
            using var distances = new DeviceBuffer<float>(_context, _n * count);
            using var output = new DeviceBuffer<double>(_context, count);
            RunPass(false, null, (row, rowsInBatch, rows, xNorms) =>
                _s.AllDistances(rows, rowsInBatch, _d, _ld, uploaded.Packed, count, _ld, distances.At(row * count)),
                cancellationToken, mergeCached: true);
            _s.CandidatePotentials(distances.Pointer, seed.Pointer, WeightsPointer, _n, count, output.Pointer);
            output.CopyTo(potentials.Slice(first, count), 0, _s.Stream);
        }
    }

    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken) =>
        Seeds.FindRowsAtCumulativePotential(sortedTargets, rows);

    public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken) =>
        Seeds.SampleByPotential(scale, seed);

    /// <summary>The candidates are few beside the data: they are bound resident, as <see cref="CudaDataBinding"/> binds them.</summary>
    public IKMeansDataBinding? TryBindCandidates(IBatchSource candidates, DataSummary summary, int numberOfClusters, CancellationToken cancellationToken) =>
        CudaDataBinding.BindCandidates(_s, candidates, summary, numberOfClusters, cancellationToken);
}
