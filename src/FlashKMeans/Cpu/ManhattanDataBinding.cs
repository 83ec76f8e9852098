using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Threading;

namespace FlashKMeans.Cpu;

/// <summary>
/// The CPU binding of an L1 (Manhattan) fit, k-medians: every distance is Σ|x − c|, and a step moves each centroid to
/// the weighted coordinate-wise median of its rows, which minimises the L1 cost of those rows, so no step raises the
/// objective. The engine's Lloyd loop, seeding (k-means++ and k-means‖ then sample by D = L1 distance, the k-medians
/// form) and empty-cluster repair run on it unchanged. Medians need every row of a cluster at once, so the rows are
/// held in memory, read once when bound.
/// </summary>
internal sealed class ManhattanDataBinding : IKMeansDataBinding
{
    private readonly float[] _rows;
    private readonly float[]? _weights;
    private readonly int _d, _k, _threads;
    private readonly int[] _labels;
    private readonly float[] _distances;
    private readonly double[] _clusterWeights;
    private float[] _centroids;
    private bool _stepped;
    private float[]? _seedDistances;
    private int[]? _seedOwners;
    private int _seedCount;

    public ManhattanDataBinding(IBatchSource source, DataSummary summary, int k, int threads, CancellationToken cancellationToken)
    {
        _d = source.Dimension;
        _k = k;
        _threads = threads;
        long values = summary.RowCount * _d;
        if (values > Array.MaxLength)
            throw new NotSupportedException(
                $"An L1 (k-medians) fit holds its rows in memory, and {summary.RowCount} rows of {_d} features exceed one array; sample the data (MaximumPointsPerCentroid) or use stream learning.");
        RowCount = summary.RowCount;
        _rows = new float[values];
        _weights = source.HasWeights ? new float[RowCount] : null;
        using (var reader = source.OpenReader())
        {
            long at = 0;
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                batch.Rows.Span.CopyTo(_rows.AsSpan((int)(at * _d)));
                if (_weights is not null)
                    batch.Weights.Span.CopyTo(_weights.AsSpan((int)at));
                at += batch.RowCount;
            }
        }
        _labels = new int[RowCount];
        _distances = new float[RowCount];
        _clusterWeights = new double[k];
        _centroids = new float[k * _d];
    }

    public long RowCount { get; }

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
        using (var scorer = new ManhattanScorer(_centroids, _d, _threads))
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

        // Rows of each cluster, in row order (a counting sort by label), then each cluster's medians on its own.
        var start = new int[_k + 1];
        foreach (int label in _labels)
            start[label + 1]++;
        for (int c = 0; c < _k; c++)
            start[c + 1] += start[c];
        var members = new int[RowCount];
        var fill = (int[])start.Clone();
        for (int r = 0; r < RowCount; r++)
            members[fill[_labels[r]]++] = r;
        var updated = _centroids.ToArray();
        var options = new ParallelOptions { MaxDegreeOfParallelism = _threads, CancellationToken = cancellationToken };
        ParallelWork.For(0, _k, options, c =>
        {
            if (!(_clusterWeights[c] > 0))
                return;  // empty: the centroid stays, the loop's repair decides
            var rows = members.AsSpan(start[c], start[c + 1] - start[c]);
            var values = new float[rows.Length];
            var weights = new float[rows.Length];
            for (int j = 0; j < _d; j++)
            {
                for (int i = 0; i < rows.Length; i++)
                {
                    values[i] = _rows[(long)rows[i] * _d + j];
                    weights[i] = _weights is null ? 1f : _weights[rows[i]];
                }
                updated[c * _d + j] = WeightedMedian.Lower(values, weights);
            }
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
        using (var scorer = new ManhattanScorer(centroids, _d, _threads))
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

    public void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken)
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
        var seedDistances = _seedDistances ??= new float[RowCount];
        var owners = _seedOwners ??= new int[RowCount];
        if (reset)
        {
            Array.Fill(seedDistances, float.PositiveInfinity);
            Array.Fill(owners, -1);
            _seedCount = 0;
        }
        int firstSeed = _seedCount;
        _seedCount += newSeeds.Length / _d;
        var labels = new int[RowCount];
        var nearest = new float[RowCount];
        using (var scorer = new ManhattanScorer(newSeeds, _d, _threads))
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

    public void GetSeedWeights(Span<double> weights)
    {
        var owners = _seedOwners ?? throw new InvalidOperationException("Seed distances are not initialised.");
        if (weights.Length != _seedCount)
            throw new ArgumentException($"{_seedCount} seeds have been added, not {weights.Length}.", nameof(weights));
        weights.Clear();
        for (long r = 0; r < owners.Length; r++)
        {
            if (owners[r] >= 0)
                weights[owners[r]] += Weight(r);
        }
    }

    public void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken)
    {
        var seedDistances = _seedDistances ?? throw new InvalidOperationException("Seed distances are not initialised.");
        int m = candidates.Length / _d;
        var all = new float[RowCount * m];
        using (var scorer = new ManhattanScorer(candidates, _d, _threads))
            scorer.AllDistances(_rows, all);
        potentials.Clear();
        for (long r = 0; r < RowCount; r++)
        {
            double w = Weight(r);
            for (int j = 0; j < m; j++)
                potentials[j] += w * Math.Min(seedDistances[r], all[r * m + j]);
        }
    }

    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken)
    {
        var seedDistances = _seedDistances ?? throw new InvalidOperationException("Seed distances are not initialised.");
        HostRowSelection.RowsAtCumulativePotential(seedDistances, _weights, sortedTargets, rows);
    }

    public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken)
    {
        var seedDistances = _seedDistances ?? throw new InvalidOperationException("Seed distances are not initialised.");
        return HostRowSelection.SampleByPotential(seedDistances, _weights, scale, seed);
    }

    public void Dispose() { }
}
