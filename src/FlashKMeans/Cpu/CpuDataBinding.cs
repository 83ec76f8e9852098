using System.Buffers;
using System.Runtime.CompilerServices;
using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;
using FlashKMeans.Threading;

namespace FlashKMeans.Cpu;

/// <summary>
/// CPU state for one fit: labels, assignment distances, seeding distances and (for weighted data) a copy
/// of the weights, all N long; centroid sums K × d in float64. The data itself is read from the source on
/// every pass and never copied whole: where the source centres, scales or normalises the rows it serves
/// (<see cref="RowMappingBatchSource"/>), each pass reads the rows under it and maps each slice on the thread that
/// works on it, while the slice is in cache (the source itself maps every batch on the reading thread: a step took
/// 3.2× as long at 200k × 128, K = 64, on data far from the origin).
/// </summary>
internal sealed partial class CpuDataBinding : IKMeansDataBinding, IReusableRowsBinding
{
    /// <summary>Which bounds pruning keeps; Auto decides by memory (tests pin each way).</summary>
    internal enum PruningBounds
    {
        Auto,
        Stored,
        GapsOnly,
    }

    private readonly IBatchSource _source;
    // What the passes read: the source under its row mappings, which each pass applies slice by slice (Served).
    private readonly IBatchSource _read;
    private readonly RowMappingBatchSource[] _maps;
    private float[] _mapped = [];
    private readonly ChunkedParallel _parallel;
    private readonly int _d;
    private readonly float[]? _weights;
    private readonly int[] _labels;
    private readonly float[] _distances;
    private readonly SeedState _seeds;
    private CandidateDistances? _candidates;
    private float[] _candidateDistances = [];
    private bool[] _candidateComputed = [];
    private readonly SeedDistancePruning? _seedPruning;
    private readonly float[] _centroids;
    private readonly PackedCentroids _packed;
    private readonly double[] _sums;
    private readonly double[] _clusterWeights;
    private readonly YinyangPruning? _pruning;
    private readonly ChunkSums _chunkSums;
    // How this binding was made, for bindings of the same rows with another K (ForClusterCount).
    private readonly DataSummary _summary;
    private readonly int _threads;
    private readonly bool _usePruning, _seedPruningOn;
    private readonly PruningBounds _bounds;

    public CpuDataBinding(IBatchSource source, DataSummary summary, int k, int threads, bool usePruning,
        PruningBounds bounds = PruningBounds.Auto, bool seedPruning = true)
    {
        (_summary, _threads, _usePruning, _bounds, _seedPruningOn) = (summary, threads, usePruning, bounds, seedPruning);
        _source = source;
        _read = RowMappingBatchSource.Unwrap(source, out _maps);
        _parallel = new ChunkedParallel(threads);
        _d = source.Dimension;
        RowCount = summary.RowCount;
        _seeds = new SeedState(RowCount);
        NumberOfClusters = k;
        if (RowCount > Array.MaxLength)
            throw new NotSupportedException($"The CPU backend holds per-row state in arrays; {RowCount} rows is more than it can index.");
        int n = (int)RowCount;
        _labels = new int[n];
        Array.Fill(_labels, -1);
        _distances = new float[n];
        _centroids = new float[k * _d];
        _packed = PackedCentroids.Pack(_centroids, _d, featureQuads: true);
        _sums = new double[k * _d];
        _clusterWeights = new double[k];
        if (source.HasWeights)
        {
            _weights = new float[n];
            using var reader = source.OpenReader();
            while (reader.TryRead(out var batch))
                batch.Weights.Span.CopyTo(_weights.AsSpan((int)batch.FirstRow));
        }
        int width = _packed.Width;
        bool storeBounds = bounds switch
        {
            PruningBounds.Stored => true,
            PruningBounds.GapsOnly => false,
            _ => YinyangPruning.StoresBoundsFor(_d, k, width),
        };
        if (seedPruning)
            _seedPruning = new SeedDistancePruning(_d, threads);
        if (usePruning && YinyangPruning.Applies(k, width) && (storeBounds || YinyangPruning.KeepsGapsFor(k, width)))
            _pruning = new YinyangPruning(n, _d, k, width, threads, storeBounds);
        _chunkSums = new ChunkSums(k, _d, RowCount, _weights);
    }

    public long RowCount { get; }

    public int Dimension => _d;

    public int NumberOfClusters { get; }

    private float Weight(long row) => _weights is null ? 1f : _weights[row];

    /// <summary>The last step's labels (tests).</summary>
    internal ReadOnlySpan<int> LabelsForTesting => _labels;

    /// <summary>The last step's squared distances (tests).</summary>
    internal ReadOnlySpan<float> DistancesForTesting => _distances;

    /// <summary>Yinyang pruning state, when it is on (diagnostics and tests).</summary>
    internal YinyangPruning? Pruning => _pruning;

    /// <summary>Seeding's pruning state, when it is on (diagnostics and tests).</summary>
    internal SeedDistancePruning? SeedPruning => _seedPruning;

    /// <summary>The seeding distances and nearest seeds (tests).</summary>
    internal ReadOnlySpan<float> SeedDistancesForTesting => _seeds.Distances;

    /// <summary>Each row's nearest seed so far (tests).</summary>
    internal ReadOnlySpan<int> SeedOwnersForTesting => _seeds.Owners;

    public void SetCentroids(ReadOnlySpan<float> centroids)
    {
        if (_pruning is not null && ChangedCentroids(centroids) * 4 > NumberOfClusters)
            _pruning.Reset(); // a new start: regroup rather than age bounds across a jump
        centroids.CopyTo(_centroids);
        _packed.Fill(_centroids);
    }

    private int ChangedCentroids(ReadOnlySpan<float> centroids)
    {
        int changed = 0;
        for (int c = 0; c < NumberOfClusters; c++)
            changed += centroids.Slice(c * _d, _d).SequenceEqual(_centroids.AsSpan(c * _d, _d)) ? 0 : 1;
        return changed;
    }

    public void GetCentroids(Span<float> destination) => _centroids.CopyTo(destination);

    public void GetClusterWeights(Span<double> destination) => _clusterWeights.CopyTo(destination);

    public LloydStepResult Step(bool normalizeCentroids, CancellationToken cancellationToken)
    {
        int k = NumberOfClusters, d = _d;
        long changed = 0;
        Array.Clear(_sums);
        Array.Clear(_clusterWeights);
        _pruning?.BeginStep(_centroids, _packed);
        int superRows = SuperChunkRows(d);
        bool sumInChunks = k <= ChunkSums.MaxClusters;
        _chunkSums.Reset();
        using (var reader = _read.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                // Assign a few MB of rows, then add them to the sums while they are still in cache.
                for (int offset = 0; offset < batch.RowCount; offset += superRows)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int rowCount = Math.Min(superRows, batch.RowCount - offset);
                    long first = batch.FirstRow + offset;
                    var rows = batch.Rows.Slice(offset * d, rowCount * d);
                    // The grouped sums read the whole slice after the assignment: map it once, in parallel, for both. The
                    // chunk sums read each block as it is assigned: each block is mapped there.
                    bool mapBlocks = _maps.Length > 0 && sumInChunks;
                    if (_maps.Length > 0 && !sumInChunks)
                        rows = MappedCopy(rows, first, cancellationToken);
                    if (sumInChunks)
                        _chunkSums.Open(first, rowCount);
                    // Fully optimised from the first call: a short fit's steps would otherwise run this loop unoptimised.
                    _parallel.ForSlice(first, rowCount, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (chunk, start, count) =>
                    {
                        int global = (int)start;
                        var chunkRows = rows.Span.Slice((int)(start - first) * d, count * d);
                        int[] fresh = ArrayPool<int>.Shared.Rent(count);
                        float[]? scratch = null;
                        try
                        {
                            var freshLabels = fresh.AsSpan(0, count);
                            var old = _labels.AsSpan(global, count);
                            // The plain assignment runs block by block, each block's rows still in L2 for the distances and
                            // sums after it (a chunk of long rows is larger than L2); the sums still take the rows in order.
                            // The pruned one keeps its bounds and panel jobs per chunk, so it is one block of the whole chunk.
                            int block = _pruning is null ? CacheBlockRows(d) : count;
                            for (int at = 0; at < count; at += block)
                            {
                                int m = Math.Min(block, count - at);
                                var part = mapBlocks ? Served(chunkRows.Slice(at * d, m * d), global + at, ref scratch) : chunkRows.Slice(at * d, m * d);
                                var partLabels = freshLabels.Slice(at, m);
                                var partDistances = _distances.AsSpan(global + at, m);
                                if (_pruning is null)
                                    FusedAssignKernel.Assign(part, _packed, partLabels, default);
                                else
                                    _pruning.AssignChunk(part, global, old, freshLabels, partDistances, _packed);  // the whole chunk
                                // Inertia and the farthest rows of the empty-cluster policy use distances without cancellation error.
                                VectorMath.SquaredDistancesToLabels(part, partLabels, _centroids, d, partDistances);
                                if (sumInChunks)
                                    _chunkSums.Add(chunk, part, global + at, partLabels);
                            }
                            int moved = 0;
                            for (int i = 0; i < count; i++)
                                moved += old[i] != freshLabels[i] ? 1 : 0;
                            freshLabels.CopyTo(old);
                            Interlocked.Add(ref changed, moved);
                        }
                        finally
                        {
                            ArrayPool<int>.Shared.Return(fresh);
                            if (scratch is not null)
                                ArrayPool<float>.Shared.Return(scratch);
                        }
                    }, cancellationToken);
                    if (sumInChunks)
                        _chunkSums.Close(first + rowCount, _sums, _clusterWeights);
                    else
                        Accumulate(first, rows, rowCount, cancellationToken);
                }
            }
        }
        _pruning?.EndStep();

        double inertia = WeightedSum(_distances, cancellationToken);
        int empty = 0;
        for (int c = 0; c < k; c++)
        {
            double weight = _clusterWeights[c];
            if (!(weight > 0))
            {
                empty++;
                continue;
            }
            var centroid = _centroids.AsSpan(c * d, d);
            var sum = _sums.AsSpan(c * d, d);
            double scale = 1.0 / weight;
            if (normalizeCentroids)
            {
                double norm = Math.Sqrt(DotSelf(sum));
                if (norm > 0)
                    scale = 1.0 / norm;
            }
            for (int f = 0; f < d; f++)
                centroid[f] = (float)(sum[f] * scale);
        }
        _packed.Fill(_centroids);
        return new LloydStepResult(inertia, changed, empty);
    }

    private static double DotSelf(ReadOnlySpan<double> v)
    {
        double s = 0;
        foreach (double x in v)
            s += x * x;
        return s;
    }

    /// <summary>
    /// Adds the batch's rows to their clusters' float64 sums and weights (<see cref="ClusterSums"/>: every cluster's sum is
    /// taken in row order whatever the thread count).
    /// </summary>
    private void Accumulate(long firstRow, ReadOnlyMemory<float> rows, int count, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int first = (int)firstRow;
        ClusterSums.Add(rows.Span[..(count * _d)], _d, _weights is null ? default : _weights.AsSpan(first, count), _labels.AsSpan(first, count),
            _sums, _clusterWeights, _parallel.Threads);
    }

    /// <summary>
    /// Rows assigned before their sums are taken: about 8 MB of them, a whole number of chunks, so that the
    /// second read of each row hits the cache. Depends only on d, never on the thread count.
    /// </summary>
    /// <summary>Rows of the step's blocks: about 256 KiB of them, in whole 64-row tiles of the assignment.</summary>
    private static int CacheBlockRows(int d) => Math.Max(64, (256 << 10) / (d * sizeof(float)) / 64 * 64);

    private static int SuperChunkRows(int d) =>
        Math.Max(1, (8 << 20) / (d * sizeof(float) * ChunkedParallel.ChunkRows)) * ChunkedParallel.ChunkRows;

    /// <summary>Σ w·v over all rows, in chunk order.</summary>
    private double WeightedSum(float[] values, CancellationToken cancellationToken) =>
        _parallel.Sum(RowCount, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            double s = 0;
            var v = values.AsSpan((int)first, count);
            if (_weights is null)
            {
                for (int i = 0; i < count; i++)
                    s += v[i];
            }
            else
            {
                var w = _weights.AsSpan((int)first, count);
                for (int i = 0; i < count; i++)
                    s += (double)w[i] * v[i];
            }
            return s;
        }, cancellationToken);

    public IReadOnlyList<FarRow> FindFarthestRows(int count, CancellationToken cancellationToken) =>
        HostRowSelection.FarthestRows(_labels, _distances, _weights, count);

    public double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken)
    {
        var packed = PackedCentroids.Pack(centroids, _d, featureQuads: true);
        var given = centroids.ToArray();
        int n = (int)RowCount;
        var labels = clusterWeights.IsEmpty ? null : new int[n];
        var distances = new float[n];
        bool pruned = _pruning?.TryBeginEvaluation(centroids, packed) == true;
        ForEachChunk((rows, _, global, count) =>
        {
            int[] scratch = ArrayPool<int>.Shared.Rent(count);
            try
            {
                if (pruned)
                    _pruning!.EvaluateChunk(rows, global, _labels.AsSpan(global, count), scratch.AsSpan(0, count), distances.AsSpan(global, count), packed);
                else
                    FusedAssignKernel.Assign(rows, packed, scratch.AsSpan(0, count), default);
                VectorMath.SquaredDistancesToLabels(rows, scratch.AsSpan(0, count), given, _d, distances.AsSpan(global, count));
                if (labels is not null)
                    scratch.AsSpan(0, count).CopyTo(labels.AsSpan(global, count));
            }
            finally
            {
                ArrayPool<int>.Shared.Return(scratch);
            }
        }, cancellationToken);
        if (labels is not null)
        {
            clusterWeights.Clear();
            for (int row = 0; row < n; row++)
                clusterWeights[labels[row]] += Weight(row);
        }
        return WeightedSum(distances, cancellationToken);
    }

    /// <summary>
    /// One pass: <paramref name="body"/>(rows, chunk, globalFirstRow, count) for every chunk of the whole data, in
    /// parallel within each batch. Chunks are fixed row ranges of the data (<see cref="ChunkedParallel.ForSlice"/>),
    /// not of the batch, so what a body keeps per chunk does not depend on how the source splits its batches; a chunk
    /// that straddles two batches comes in two calls, in row order, the second after the first has returned.
    /// </summary>
    private void ForEachChunk(ChunkBody body, CancellationToken cancellationToken)
    {
        int d = _d;
        using var reader = _read.OpenReader();
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rows = batch.Rows;
            long first = batch.FirstRow;
            _parallel.ForSlice(first, batch.RowCount, (chunk, start, count) =>
            {
                float[]? scratch = null;
                try
                {
                    body(Served(rows.Span.Slice((int)(start - first) * d, count * d), start, ref scratch), chunk, (int)start, count);
                }
                finally
                {
                    if (scratch is not null)
                        ArrayPool<float>.Shared.Return(scratch);
                }
            }, cancellationToken);
        }
    }

    /// <summary>
    /// <paramref name="rows"/> (read from under the source's mappings, from row <paramref name="firstRow"/> on) mapped into a
    /// buffer the binding keeps for it, chunk by chunk in parallel.
    /// </summary>
    private ReadOnlyMemory<float> MappedCopy(ReadOnlyMemory<float> rows, long firstRow, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_mapped.Length < rows.Length)
            _mapped = new float[rows.Length];
        var mapped = _mapped.AsMemory(0, rows.Length);
        RowMappingBatchSource.CopyMapped(_maps, rows, mapped, _d, firstRow, _parallel.Threads);
        return mapped;
    }

    /// <summary>
    /// Rows read from under the source's mappings (from row <paramref name="firstRow"/> on) as the source serves them:
    /// the rows themselves where it maps nothing, otherwise a mapped copy in <paramref name="scratch"/> (rented here from
    /// the shared pool, returned by the caller).
    /// </summary>
    private ReadOnlySpan<float> Served(ReadOnlySpan<float> read, long firstRow, ref float[]? scratch)
    {
        if (_maps.Length == 0)
            return read;
        if (scratch is null || scratch.Length < read.Length)
        {
            if (scratch is not null)
                ArrayPool<float>.Shared.Return(scratch);
            scratch = ArrayPool<float>.Shared.Rent(read.Length);
        }
        var copy = scratch.AsSpan(0, read.Length);
        RowMappingBatchSource.CopyMapped(_maps, read, copy, firstRow);
        return copy;
    }

    private delegate void ChunkBody(ReadOnlySpan<float> rows, int chunk, int globalFirstRow, int count);

    public void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken)
    {
        int d = _d;
        var order = new int[rows.Length];
        var keys = rows.ToArray();
        for (int i = 0; i < order.Length; i++)
        {
            if (keys[i] < 0 || keys[i] >= RowCount)
                throw new ArgumentOutOfRangeException(nameof(rows), keys[i], $"Row index outside [0, {RowCount}).");
            order[i] = i;
        }
        Array.Sort(keys, order);
        int next = 0;
        using var reader = _read.OpenReader();
        while (next < keys.Length && reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            long end = batch.FirstRow + batch.RowCount;
            var values = batch.Rows.Span;
            while (next < keys.Length && keys[next] < end)
            {
                int local = (int)(keys[next] - batch.FirstRow);
                int slot = order[next];
                RowMappingBatchSource.CopyMapped(_maps, values.Slice(local * d, d), vectors.Slice(slot * d, d), keys[next]);
                if (!weights.IsEmpty)
                    weights[slot] = batch.Weights.IsEmpty ? 1f : batch.Weights.Span[local];
                next++;
            }
        }
        if (next < keys.Length)
            throw new InvalidOperationException($"The source ended before row {keys[next]}.");
    }

    /// <inheritdoc />
    /// <remarks>The rows stay where the source keeps them: the new binding reads the same source, as a fresh bind would.</remarks>
    public IKMeansDataBinding ForClusterCount(int numberOfClusters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numberOfClusters, 1);
        return new CpuDataBinding(_source, _summary, numberOfClusters, _threads, _usePruning, _bounds, _seedPruningOn);
    }

    /// <inheritdoc />
    /// <remarks>The packing and kernel of the final evaluation and of the model's scorer (<see cref="Evaluate"/>).</remarks>
    public void Label(ReadOnlySpan<float> centroids, Span<int> labels, CancellationToken cancellationToken)
    {
        if (labels.Length != RowCount)
            throw new ArgumentException($"Expected {RowCount} labels, one per bound row; got room for {labels.Length}.", nameof(labels));
        if (centroids.IsEmpty || centroids.Length % _d != 0)
            throw new ArgumentException($"Expected m × {_d} centroids with m ≥ 1; got {centroids.Length} values.", nameof(centroids));
        var packed = PackedCentroids.Pack(centroids, _d, featureQuads: true);
        var all = new int[RowCount];
        ForEachChunk((rows, _, global, count) => FusedAssignKernel.Assign(rows, packed, all.AsSpan(global, count), default), cancellationToken);
        all.CopyTo(labels);
    }

    public void Dispose() => _pruning?.Dispose();
}
