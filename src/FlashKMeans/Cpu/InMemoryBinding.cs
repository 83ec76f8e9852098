using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Threading;

namespace FlashKMeans.Cpu;

/// <summary>
/// A CPU binding that reads the rows into memory once and measures them with a metric the fused kernel alone does not
/// give (<see cref="CreateScorer"/>), moving each centroid by its own rule (<see cref="UpdateCentroid"/>): L1 with medians
/// (<see cref="ManhattanDataBinding"/>) and squared Euclidean over the features present (<see cref="MissingFeatureDataBinding"/>).
/// The engine's Lloyd loop, seeding (sampling by D, the binding's distance) and empty-cluster repair run on it unchanged.
/// Every sum runs in row order and every centroid on its own, so results do not depend on the thread count.
/// </summary>
internal abstract class InMemoryBinding : IKMeansDataBinding
{
    private readonly float[] _rows;
    private readonly float[]? _weights;
    private readonly int _d, _k, _threads;

    /// <summary>The scorer of these centroids in the binding's metric.</summary>
    protected abstract IKMeansScorer CreateScorer(ReadOnlySpan<float> centroids, int threads);

    /// <summary>
    /// Moves one centroid for the rows it won (<paramref name="members"/>, in row order, each of positive total weight
    /// taken together): writes the new position into <paramref name="centroid"/>, which holds the old one.
    /// </summary>
    protected abstract void UpdateCentroid(ReadOnlySpan<float> rows, float[]? weights, ReadOnlySpan<int> members, Span<float> centroid);

    /// <summary>Why the rows must fit in memory, for the message when they do not.</summary>
    protected abstract string Kind { get; }
    private readonly int[] _labels;
    private readonly float[] _distances;
    private readonly double[] _clusterWeights;
    private float[] _centroids;
    private bool _stepped;
    private readonly SeedState _seeds;

    protected InMemoryBinding(IBatchSource source, DataSummary summary, int k, int threads, CancellationToken cancellationToken)
    {
        _d = source.Dimension;
        _k = k;
        _threads = threads;
        long values = summary.RowCount * _d;
        if (values > Array.MaxLength)
            throw new NotSupportedException(
                $"{Kind} holds its rows in memory, and {summary.RowCount} rows of {_d} features exceed one array; sample the data (MaximumPointsPerCentroid) or use stream learning.");
        RowCount = summary.RowCount;
        _seeds = new SeedState(RowCount);
        _rows = new float[values];
        _weights = source.HasWeights ? new float[RowCount] : null;
        using (var reader = source.OpenReader())
        {
            long at = 0;
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (at + batch.RowCount > RowCount)
                    throw new InvalidDataException($"The data changed between passes: the validating pass read {RowCount} rows, this one more.");
                batch.Rows.Span.CopyTo(_rows.AsSpan((int)(at * _d)));
                if (_weights is not null)
                    batch.Weights.Span.CopyTo(_weights.AsSpan((int)at));
                at += batch.RowCount;
            }
            if (at != RowCount)
                throw new InvalidDataException($"The data changed between passes: the validating pass read {RowCount} rows, this one {at}.");
        }
        _labels = new int[RowCount];
        _distances = new float[RowCount];
        _clusterWeights = new double[k];
        _centroids = new float[k * _d];
    }

    public long RowCount { get; }

    /// <summary>The rows, read when bound (row-major).</summary>
    protected ReadOnlySpan<float> Rows => _rows;

    /// <summary>The rows' weights, or null for unit weights.</summary>
    protected float[]? Weights => _weights;

    public int Dimension => _d;

    public int NumberOfClusters => _k;

    private double Weight(long row) => _weights is null ? 1.0 : _weights[row];

    public void SetCentroids(ReadOnlySpan<float> centroids) => _centroids = centroids.ToArray();

    public void GetCentroids(Span<float> destination) => _centroids.CopyTo(destination);

    public void GetClusterWeights(Span<double> destination) => _clusterWeights.CopyTo(destination);

    public LloydStepResult Step(bool normalizeCentroids, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var previous = _stepped ? (int[])_labels.Clone() : null;
        using (var scorer = CreateScorer(_centroids, _threads))
            scorer.Assign(_rows, _labels, _distances);
        double inertia = 0;
        long changed = 0;
        Array.Clear(_clusterWeights);
        for (long r = 0; r < RowCount; r++)
        {
            double w = Weight(r);
            inertia += w * _distances[r];
            _clusterWeights[_labels[r]] += w;
            changed += previous is null || previous[r] != _labels[r] ? 1 : 0;
        }
        _stepped = true;

        // Rows of each cluster, in row order, then each cluster's update on its own.
        var (start, members) = LabelGroups.ByLabel(_labels, _k);
        var updated = _centroids.ToArray();
        var options = new ParallelOptions { MaxDegreeOfParallelism = _threads, CancellationToken = cancellationToken };
        ParallelWork.For(0, _k, options, c =>
        {
            if (!(_clusterWeights[c] > 0))
                return;  // empty: the centroid stays, the loop's repair decides
            UpdateCentroid(_rows, _weights, members.AsSpan(start[c], start[c + 1] - start[c]), updated.AsSpan(c * _d, _d));
        });
        _centroids = updated;
        int empty = _clusterWeights.Count(w => !(w > 0));
        return new LloydStepResult(inertia, changed, empty);
    }

    public IReadOnlyList<FarRow> FindFarthestRows(int count, CancellationToken cancellationToken) =>
        HostRowSelection.FarthestRows(_labels, _distances, _weights, count);

    public double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken)
    {
        var labels = new int[RowCount];
        var distances = new float[RowCount];
        using (var scorer = CreateScorer(centroids, _threads))
            scorer.Assign(_rows, labels, distances);
        double inertia = 0;
        if (!clusterWeights.IsEmpty)
            clusterWeights.Clear();
        for (long r = 0; r < RowCount; r++)
        {
            inertia += Weight(r) * distances[r];
            if (!clusterWeights.IsEmpty)
                clusterWeights[labels[r]] += Weight(r);
        }
        return inertia;
    }

    public virtual void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken)
    {
        for (int i = 0; i < rows.Length; i++)
        {
            _rows.AsSpan((int)(rows[i] * _d), _d).CopyTo(vectors.Slice(i * _d, _d));
            if (!weights.IsEmpty)
                weights[i] = (float)Weight(rows[i]);
        }
    }

    public double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken)
    {
        int firstSeed = _seeds.Add(newSeeds.Length / _d, reset);
        var seedDistances = _seeds.Distances!;
        var owners = _seeds.Owners!;
        var labels = new int[RowCount];
        var nearest = new float[RowCount];
        using (var scorer = CreateScorer(newSeeds, _threads))
            scorer.Assign(_rows, labels, nearest);
        for (long r = 0; r < RowCount; r++)
        {
            if (nearest[r] < seedDistances[r])
            {
                seedDistances[r] = nearest[r];
                owners[r] = firstSeed + labels[r];
            }
        }
        return Potential(seedDistances);
    }

    private double Potential(ReadOnlySpan<float> distances)
    {
        double sum = 0;
        for (int r = 0; r < distances.Length; r++)
            sum += Weight(r) * distances[r];
        return sum;
    }

    public void GetSeedWeights(Span<double> weights) => _seeds.Weights(_weights, weights);

    public void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken)
    {
        var seedDistances = HostRowSelection.Initialised(_seeds.Distances);
        int m = candidates.Length / _d;
        var all = new float[RowCount * m];
        using (var scorer = CreateScorer(candidates, _threads))
            scorer.AllDistances(_rows, all);
        potentials.Clear();
        for (long r = 0; r < RowCount; r++)
        {
            double w = Weight(r);
            for (int j = 0; j < m; j++)
                potentials[j] += w * Math.Min(seedDistances[r], all[r * m + j]);
        }
    }

    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken) =>
        _seeds.RowsAtCumulativePotential(_weights, sortedTargets, rows);

    public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken) =>
        _seeds.SampleByPotential(_weights, scale, seed);

    public void Dispose() { }
}
