using System.Buffers;
using FlashKMeans.Backends;
using FlashKMeans.Threading;

namespace FlashKMeans.Cpu;

// Seeding on the CPU binding: each row's distance to its nearest seed so far, updated seed by seed or round by round
// (pruned where it pays, SeedDistancePruning), greedy k-means++'s candidates evaluated against it, and rows drawn by it.
internal sealed partial class CpuDataBinding
{
    public double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken)
    {
        int added = newSeeds.Length / _d;
        int firstSeed = _seeds.Add(added, reset);
        var seedDistances = _seeds.Distances!;
        var owners = _seeds.Owners!;
        if (reset)
            _seedPruning?.Reset();
        _seedPruning?.Add(newSeeds);
        if (!reset && added == 1 && _candidates is { } cached && cached.Matches(newSeeds, _d, out int candidate))
        {
            // Greedy k-means++ commits one of the candidates it has just evaluated: reuse those distances. A row
            // a pruned evaluation skipped has none, and needs none: the winner is no nearer than its D².
            var computed = cached.Computed;
            _parallel.For(RowCount, (chunk, first, count) =>
            {
                for (int i = (int)first, end = (int)first + count; i < end; i++)
                {
                    float distance = cached.Distances[cached.Index(i, candidate)];
                    // '&', not '&&': a skipped row's entry is stale but never taken, and no branch follows the pattern.
                    if ((distance < seedDistances[i]) & (computed is null || computed[i]))
                    {
                        seedDistances[i] = distance;
                        owners[i] = firstSeed;
                    }
                }
            }, cancellationToken);
            _candidates = null;
            return WeightedSum(seedDistances, cancellationToken);
        }
        _candidates = null;
        var packed = PackedCentroids.Pack(newSeeds, _d);
        if (_seedPruning?.BeginRound(packed) == true)
        {
            // Bit-identical to the pass below, skipping what the seeds' triangle inequality rules out.
            ForEachChunk((rows, _, global, count) =>
                _seedPruning.UpdateChunk(rows, seedDistances.AsSpan(global, count), owners.AsSpan(global, count), firstSeed),
                cancellationToken);
            return WeightedSum(seedDistances, cancellationToken);
        }
        ForEachChunk((rows, _, global, count) =>
        {
            int[] labels = ArrayPool<int>.Shared.Rent(count);
            float[] nearest = ArrayPool<float>.Shared.Rent(count);
            try
            {
                FusedAssignKernel.Assign(rows, packed, labels.AsSpan(0, count), nearest.AsSpan(0, count));
                var current = seedDistances.AsSpan(global, count);
                var owner = owners.AsSpan(global, count);
                for (int i = 0; i < count; i++)
                {
                    if (nearest[i] < current[i])
                    {
                        current[i] = nearest[i];
                        owner[i] = firstSeed + labels[i];
                    }
                }
            }
            finally
            {
                ArrayPool<int>.Shared.Return(labels);
                ArrayPool<float>.Shared.Return(nearest);
            }
        }, cancellationToken);
        return WeightedSum(seedDistances, cancellationToken);
    }

    public void GetSeedWeights(Span<double> weights) => _seeds.Weights(_weights, weights);

    public void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken)
    {
        var seedDistances = HostRowSelection.Initialised(_seeds.Distances);
        var owners = _seeds.Owners!;
        int m = candidates.Length / _d;
        bool pruned = _seedPruning?.BeginCandidates(candidates, RowCount) == true;
        // Keep every row's distance to every candidate (N × m, m is small) so that committing the winner needs no
        // pass; past one array's reach the winner is committed with a pass instead. The arrays serve every step.
        CandidateDistances? cache = null;
        if (RowCount * m <= Array.MaxLength)
        {
            if (_candidateDistances.Length < RowCount * m)
                _candidateDistances = new float[RowCount * m];
            if (pruned && _candidateComputed.Length < RowCount)
                _candidateComputed = new bool[RowCount];
            cache = new CandidateDistances(candidates.ToArray(), m, RowCount, _candidateDistances, pruned ? _candidateComputed : null);
        }
        _candidates = cache;
        // Partial sums per chunk of the whole data (not of a batch), each taken in row order and added in chunk
        // order afterwards: the grouping of the sums, and so the candidate they pick, is the same for any batch
        // layout and thread count. A chunk split across two batches carries on from where the first part left it.
        var partials = new double[(long)ChunkedParallel.ChunkCount(RowCount) * m];
        if (pruned)
        {
            // Bit-identical to the pass below: rows no candidate can bring nearer add w·D² without being read.
            bool[] computed = cache is null ? new bool[RowCount] : cache.Computed!;
            ForEachChunk((rows, chunk, global, count) =>
                _seedPruning!.EvaluateChunk(rows, global, seedDistances.AsSpan(global, count), owners.AsSpan(global, count),
                    _weights is null ? default : _weights.AsSpan(global, count), partials.AsSpan(chunk * m, m),
                    cache?.Distances, computed.AsSpan(global, count)),
                cancellationToken);
        }
        else
        {
            var packed = PackedCentroids.Pack(candidates, _d);
            ForEachChunk((rows, chunk, global, count) =>
            {
                var all = cache is null ? new float[count * m] : cache.Distances.AsSpan((int)((long)global * m), count * m);
                var local = partials.AsSpan(chunk * m, m);
                FusedAssignKernel.AllDistances(rows, packed, all);
                for (int i = 0; i < count; i++)
                {
                    float current = seedDistances[global + i];
                    double w = Weight(global + i);
                    var row = all.Slice(i * m, m);
                    for (int j = 0; j < m; j++)
                        local[j] += w * Math.Min(current, row[j]);
                }
            }, cancellationToken);
        }
        potentials.Clear();
        for (int chunk = 0; chunk < partials.Length / m; chunk++)
            for (int j = 0; j < m; j++)
                potentials[j] += partials[chunk * m + j];
    }

    /// <summary>
    /// The last evaluated seed candidates and every row's distance to each: row-major (N × m) as the unpruned pass
    /// writes them, or, where the evaluation was pruned, candidate-major (m × N) for the rows marked in
    /// <see cref="Computed"/> only (a skipped row keeps D² under every candidate, and the commit reads one
    /// candidate's distances in row order).
    /// </summary>
    private sealed class CandidateDistances(float[] vectors, int count, long rows, float[] distances, bool[]? computed)
    {
        public int Count { get; } = count;

        public float[] Distances { get; } = distances;

        /// <summary>Per row, whether its distances were computed; null where every row's were (row-major).</summary>
        public bool[]? Computed { get; } = computed;

        /// <summary>Where row <paramref name="row"/>'s distance to candidate <paramref name="candidate"/> is.</summary>
        public long Index(long row, int candidate) => Computed is null ? row * Count + candidate : candidate * rows + row;

        public bool Matches(ReadOnlySpan<float> seed, int d, out int index)
        {
            for (index = 0; index < Count; index++)
            {
                if (vectors.AsSpan(index * d, d).SequenceEqual(seed))
                    return true;
            }
            return false;
        }
    }

    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken) =>
        _seeds.RowsAtCumulativePotential(_weights, sortedTargets, rows);

    public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken) =>
        _seeds.SampleByPotential(_weights, scale, seed);
}
