using FlashKMeans.Backends;
using FlashKMeans.Data;
using ILGPU;
using ILGPU.Runtime;

namespace FlashKMeans.ILGPU;

/// <summary>
/// A fit's rows resident on an ILGPU accelerator. The distance work and the sums run there (<see cref="IlgpuKernels"/>);
/// each step reads back the labels and distances (8 bytes a row), so that inertia, changed labels and the seeding
/// walks are summed on the host in row order, the same bits whatever the accelerator, and the engine's host helpers
/// (<see cref="HostRowSelection"/>) serve the farthest rows and the seeding draws as they do for the CPU.
/// </summary>
internal sealed class IlgpuDataBinding : IKMeansDataBinding
{
    private readonly IlgpuBackend _backend;
    private readonly Accelerator _accelerator;
    private readonly int _n, _d, _k;
    private readonly float[]? _weights;
    private readonly float _scale, _weightScale;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _rows;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _deviceWeights;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _centroids;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _labels;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _distances;
    private readonly MemoryBuffer1D<long, Stride1D.Dense> _sums;
    private readonly MemoryBuffer1D<long, Stride1D.Dense> _weightSums;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _counts;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _cursors;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _order;
    private readonly int[] _hostCounts;
    private MemoryBuffer1D<float, Stride1D.Dense>? _seedDistances;
    private MemoryBuffer1D<int, Stride1D.Dense>? _seedOwners;
    private readonly float[] _hostCentroids;
    private int[] _hostLabels;
    private int[] _previousLabels;  // the step before's labels, swapped with _hostLabels each step
    private readonly float[] _hostDistances;
    private readonly double[] _clusterWeights;
    private float[]? _hostSeedDistances;
    private int[]? _hostSeedOwners;
    private int _seedCount;
    private bool _first = true;

    public IlgpuDataBinding(IlgpuBackend backend, IBatchSource source, DataSummary summary, int k, CancellationToken cancellationToken)
    {
        _backend = backend;
        _accelerator = backend.Accelerator;
        _n = checked((int)summary.RowCount);
        _d = source.Dimension;
        _k = k;
        var rows = new float[checked((long)_n * _d)];
        float[]? weights = source.HasWeights ? new float[_n] : null;
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                batch.Rows.Span.CopyTo(rows.AsSpan((int)(batch.FirstRow * _d)));
                if (weights is not null)
                    batch.Weights.Span.CopyTo(weights.AsSpan((int)batch.FirstRow));
            }
        }
        _weights = weights;
        float maxWeight = weights is null || weights.Length == 0 ? 1f : weights.Max();
        float maxAbs = rows.Length == 0 ? 0 : rows.Max(MathF.Abs);
        _scale = FixedPointSums.Scale((double)maxAbs * maxWeight, _n);
        _weightScale = FixedPointSums.Scale(maxWeight, _n);
        var owned = new List<IDisposable>();
        try
        {
            _rows = Own(_accelerator.Allocate1D(rows));
            _deviceWeights = Own(_accelerator.Allocate1D(weights ?? Enumerable.Repeat(1f, _n).ToArray()));
            _centroids = Own(_accelerator.Allocate1D<float>(Math.Max(1, (long)k * _d)));
            _labels = Own(_accelerator.Allocate1D<int>(Math.Max(1, _n)));
            _distances = Own(_accelerator.Allocate1D<float>(Math.Max(1, _n)));
            _sums = Own(_accelerator.Allocate1D<long>(Math.Max(1, (long)k * _d)));
            _weightSums = Own(_accelerator.Allocate1D<long>(Math.Max(1, k)));
            _counts = Own(_accelerator.Allocate1D<int>(Math.Max(1, k)));
            _cursors = Own(_accelerator.Allocate1D<int>(Math.Max(1, k)));
            _order = Own(_accelerator.Allocate1D<int>(Math.Max(1, _n)));
        }
        catch
        {
            foreach (var resource in owned)
                resource.Dispose();
            throw;
        }
        _hostCentroids = new float[k * _d];
        _hostCounts = new int[Math.Max(1, k)];
        _hostLabels = new int[_n];
        _previousLabels = new int[_n];
        _hostDistances = new float[_n];
        _clusterWeights = new double[k];

        T Own<T>(T resource) where T : IDisposable
        {
            owned.Add(resource);
            return resource;
        }
    }

    public long RowCount => _n;

    public int Dimension => _d;

    public int NumberOfClusters => _k;

    public void SetCentroids(ReadOnlySpan<float> centroids)
    {
        centroids.CopyTo(_hostCentroids);
        Contiguous(_centroids).SubView(0, _hostCentroids.Length).CopyFromCPU(_hostCentroids);
        _first = true;
    }

    public void GetCentroids(Span<float> destination) => _hostCentroids.CopyTo(destination);

    public LloydStepResult Step(bool normalizeCentroids, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        (_previousLabels, _hostLabels) = (_hostLabels, _previousLabels);
        var previous = _previousLabels;
        _backend.Assign(_n, _rows.View, _centroids.View, _d, _k, _labels.View, _distances.View);
        _backend.Accumulate(_n, _rows.View, _deviceWeights.View, _labels.View, _d, _k, _scale, _weightScale, _sums.View, _weightSums.View,
            _counts.View, _cursors.View, _order.View, _hostCounts);
        _accelerator.Synchronize();
        Contiguous(_labels).SubView(0, _n).CopyToCPU(_hostLabels);
        Contiguous(_distances).SubView(0, _n).CopyToCPU(_hostDistances);
        var sums = _sums.GetAsArray1D();
        var weightSums = _weightSums.GetAsArray1D();

        double inertia = WeightedSum(_hostDistances);
        long changed = 0;
        for (int r = 0; r < _n; r++)
            changed += _first || previous[r] != _hostLabels[r] ? 1 : 0;
        _first = false;
        int empty = 0;
        for (int c = 0; c < _k; c++)
        {
            double weight = weightSums[c] / (double)_weightScale;
            _clusterWeights[c] = weight;
            if (!(weight > 0))
            {
                empty++;
                continue;
            }
            double scale = 1.0 / (weight * _scale);
            if (normalizeCentroids)
            {
                double norm = 0;
                for (int f = 0; f < _d; f++)
                    norm += (double)sums[c * _d + f] * sums[c * _d + f];
                norm = Math.Sqrt(norm);
                scale = norm > 0 ? 1.0 / norm : scale;
            }
            for (int f = 0; f < _d; f++)
                _hostCentroids[c * _d + f] = (float)(sums[c * _d + f] * scale);
        }
        Contiguous(_centroids).SubView(0, _hostCentroids.Length).CopyFromCPU(_hostCentroids);
        return new LloydStepResult(inertia, changed, empty);
    }

    public void GetClusterWeights(Span<double> destination) => _clusterWeights.CopyTo(destination);

    public IReadOnlyList<FarRow> FindFarthestRows(int count, CancellationToken cancellationToken) =>
        HostRowSelection.FarthestRows(_hostLabels, _hostDistances, _weights, count);

    public double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken)
    {
        int k = centroids.Length / _d;
        using var given = _accelerator.Allocate1D(centroids.IsEmpty ? new float[1] : centroids.ToArray());
        using var labels = _accelerator.Allocate1D<int>(Math.Max(1, _n));
        using var distances = _accelerator.Allocate1D<float>(Math.Max(1, _n));
        _backend.Assign(_n, _rows.View, given.View, _d, k, labels.View, distances.View);
        _accelerator.Synchronize();
        var hostDistances = new float[_n];
        Contiguous(distances).SubView(0, _n).CopyToCPU(hostDistances);
        if (!clusterWeights.IsEmpty)
        {
            var hostLabels = new int[_n];
            Contiguous(labels).SubView(0, _n).CopyToCPU(hostLabels);
            clusterWeights.Clear();
            for (int r = 0; r < _n; r++)
                clusterWeights[hostLabels[r]] += _weights?[r] ?? 1.0;
        }
        return WeightedSum(hostDistances);
    }

    public void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken)
    {
        for (int i = 0; i < rows.Length; i++)
        {
            if (rows[i] < 0 || rows[i] >= _n)
                throw new ArgumentOutOfRangeException(nameof(rows), rows[i], $"Row index outside [0, {_n}).");
            Contiguous(_rows).SubView(rows[i] * _d, _d).CopyToCPU(vectors.Slice(i * _d, _d));
            if (!weights.IsEmpty)
                weights[i] = _weights?[rows[i]] ?? 1f;
        }
    }

    public double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken)
    {
        _seedDistances ??= _accelerator.Allocate1D<float>(Math.Max(1, _n));
        _seedOwners ??= _accelerator.Allocate1D<int>(Math.Max(1, _n));
        _hostSeedDistances ??= new float[_n];
        _hostSeedOwners ??= new int[_n];
        if (reset)
        {
            Array.Fill(_hostSeedDistances, float.PositiveInfinity);
            Array.Fill(_hostSeedOwners, -1);
            Contiguous(_seedDistances).SubView(0, _n).CopyFromCPU(_hostSeedDistances);
            Contiguous(_seedOwners).SubView(0, _n).CopyFromCPU(_hostSeedOwners);
            _seedCount = 0;
        }
        int count = newSeeds.Length / _d;
        if (count > 0)
        {
            using var seeds = _accelerator.Allocate1D(newSeeds.ToArray());
            _backend.LowerSeedDistances(_n, _rows.View, seeds.View, _d, count, _seedCount, _seedDistances.View, _seedOwners.View);
            _accelerator.Synchronize();
            Contiguous(_seedDistances).SubView(0, _n).CopyToCPU(_hostSeedDistances);
            Contiguous(_seedOwners).SubView(0, _n).CopyToCPU(_hostSeedOwners);
            _seedCount += count;
        }
        return WeightedSum(_hostSeedDistances);
    }

    public void GetSeedWeights(Span<double> weights) => HostRowSelection.SeedWeights(_hostSeedOwners, _weights, _seedCount, weights);

    public void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken)
    {
        if (_seedDistances is null)
            throw new InvalidOperationException("Seed distances are not initialised.");
        int m = candidates.Length / _d;
        using var given = _accelerator.Allocate1D(candidates.ToArray());
        using var output = _accelerator.Allocate1D<float>(Math.Max(1, (long)_n * m));
        _backend.CandidateDistances(_n, _rows.View, given.View, _d, m, _seedDistances.View, output.View);
        _accelerator.Synchronize();
        var host = output.GetAsArray1D();
        // Row order, candidate by candidate: the same sums on every accelerator.
        for (int j = 0; j < m; j++)
        {
            double sum = 0;
            for (int r = 0; r < _n; r++)
                sum += (_weights?[r] ?? 1.0) * host[(long)r * m + j];
            potentials[j] = sum;
        }
    }

    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken) =>
        HostRowSelection.RowsAtCumulativePotential(HostRowSelection.Initialised(_hostSeedDistances), _weights, sortedTargets, rows);

    public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken) =>
        HostRowSelection.SampleByPotential(HostRowSelection.Initialised(_hostSeedDistances), _weights, scale, seed);

    /// <summary>A buffer as one contiguous view, for sub-views to copy from and to.</summary>
    private static ArrayView<T> Contiguous<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer) where T : unmanaged => buffer.View;

    /// <summary>Σ w·v in row order.</summary>
    private double WeightedSum(float[] values)
    {
        double sum = 0;
        for (int r = 0; r < _n; r++)
            sum += (_weights?[r] ?? 1.0) * values[r];
        return sum;
    }

    public void Dispose()
    {
        _seedOwners?.Dispose();
        _seedDistances?.Dispose();
        _order.Dispose();
        _cursors.Dispose();
        _counts.Dispose();
        _weightSums.Dispose();
        _sums.Dispose();
        _distances.Dispose();
        _labels.Dispose();
        _centroids.Dispose();
        _deviceWeights.Dispose();
        _rows.Dispose();
    }
}
