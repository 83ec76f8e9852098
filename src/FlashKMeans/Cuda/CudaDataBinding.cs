using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;
using FlashKMeans.Engine;

namespace FlashKMeans.Cuda;

/// <summary>
/// A fit's data resident on the GPU: the rows, packed once into the compute precision with their
/// squared norms, plus labels and distances. A Lloyd step is enqueued whole (assign, label-change
/// count, sort-inverse update, inertia) and the host waits once, reading back only the inertia, the
/// changed-label count and the K cluster weights the engine asks for.
/// </summary>
internal sealed class CudaDataBinding : IKMeansDataBinding
{
    private const int UploadRows = 1 << 16;

    private readonly CudaSession _s;
    private readonly CudaContext _context;
    private readonly int _d;
    private readonly int _k;
    private readonly int _ld;
    private readonly long _n;
    private readonly bool _deterministic;
    private readonly float[]? _hostWeights;
    private DeviceSeedDistances? _seeds;
    private readonly List<IDisposable> _owned = [];

    private readonly DeviceBuffer<byte> _x;
    private readonly DeviceBuffer<float> _xNorms;
    private readonly DeviceBuffer<float>? _weights;
    private readonly DeviceBuffer<int> _labels;
    private readonly DeviceBuffer<int> _previousLabels;
    private readonly DeviceBuffer<float> _distances;
    private readonly DeviceBuffer<float> _centroids;
    private readonly DeviceBuffer<byte> _packedCentroids;
    private readonly DeviceBuffer<float> _centroidNorms;
    private readonly DeviceBuffer<int> _counts;
    private readonly DeviceBuffer<int> _offsets;
    private readonly DeviceBuffer<int> _cursor;
    private readonly DeviceBuffer<int> _sorted;
    private readonly DeviceBuffer<long> _sums;          // fp64 bits or int64 fixed point, K × d
    private readonly DeviceBuffer<long>? _weightSums;   // likewise, K
    private readonly DeviceBuffer<float> _shift;
    private readonly DeviceBuffer<double> _weightOut;
    private readonly DeviceBuffer<long> _scalars;       // [0] inertia (fp64 bits), [1] changed labels
    private readonly PinnedBuffer<double> _hostClusterWeights;
    private readonly PinnedBuffer<long> _hostScalars;
    private float _scale = 1f;
    private float _weightScale = 1f;
    private CudaGraph? _stepGraph;
    private bool _stepGraphNormalizes;
    private bool _graphsFailed;

    public CudaDataBinding(CudaSession session, IBatchSource source, DataSummary summary, int k, bool deterministic, CancellationToken cancellationToken)
        : this(session, summary.RowCount, source.Dimension, k, source.HasWeights, deterministic)
    {
        try
        {
            Upload(source, cancellationToken);
            Prepare();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Binds <paramref name="n"/> fp32 rows that already sit on the device (benchmarks; no weights).</summary>
    internal CudaDataBinding(CudaSession session, DeviceBuffer<float> rows, long n, int d, int k, bool deterministic)
        : this(session, n, d, k, hasWeights: false, deterministic)
    {
        try
        {
            _s.PackRows(rows.Pointer, n, d, d, _x.Pointer, _ld, _xNorms.Pointer);
            Prepare();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private CudaDataBinding(CudaSession session, long n, int d, int k, bool hasWeights, bool deterministic)
    {
        _s = session;
        _context = session.Context;
        _d = d;
        _k = k;
        _n = n;
        _deterministic = deterministic;
        _ld = session.Precision.Pitch(_d);
        if (_n > int.MaxValue)
            throw new NotSupportedException($"The CUDA backend indexes rows with 32-bit integers; {_n} rows is too many (use a streaming source).");
        _context.MakeCurrent();
        try
        {
            _x = Own(new DeviceBuffer<byte>(_context, _n * _ld * session.Precision.ElementBytes));
            _xNorms = Own(new DeviceBuffer<float>(_context, _n));
            _labels = Own(new DeviceBuffer<int>(_context, _n));
            _previousLabels = Own(new DeviceBuffer<int>(_context, _n));
            _distances = Own(new DeviceBuffer<float>(_context, _n));
            _centroids = Own(new DeviceBuffer<float>(_context, (long)k * _d));
            _packedCentroids = Own(new DeviceBuffer<byte>(_context, (long)k * _ld * session.Precision.ElementBytes));
            _centroidNorms = Own(new DeviceBuffer<float>(_context, k));
            _counts = Own(new DeviceBuffer<int>(_context, k));
            _offsets = Own(new DeviceBuffer<int>(_context, k + 1L));
            _cursor = Own(new DeviceBuffer<int>(_context, k));
            _sorted = Own(new DeviceBuffer<int>(_context, _n));
            _sums = Own(new DeviceBuffer<long>(_context, (long)k * _d));
            _shift = Own(new DeviceBuffer<float>(_context, k));
            _weightOut = Own(new DeviceBuffer<double>(_context, k));
            _scalars = Own(new DeviceBuffer<long>(_context, 2));
            _hostClusterWeights = Own(new PinnedBuffer<double>(_context, k));
            _hostScalars = Own(new PinnedBuffer<long>(_context, 2));
            if (hasWeights)
            {
                _hostWeights = new float[_n];
                _weights = Own(new DeviceBuffer<float>(_context, _n));
                _weightSums = Own(new DeviceBuffer<long>(_context, k));
            }
            _previousLabels.Fill32(uint.MaxValue, _s.Stream);  // -1: every label counts as changed on the first step
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Once the rows are on the device: the fixed-point scales of the deterministic update.</summary>
    private void Prepare()
    {
        float maxWeight = _hostWeights is null || _hostWeights.Length == 0 ? 1f : _hostWeights.Max();
        // Total weights are summed in fixed point in every mode (Evaluate, seed weights), so their
        // scale is always needed; a scale of 1 would round every weight to an integer.
        _weightScale = FixedPointScale(maxWeight, _n);
        if (_deterministic)
        {
            // Fixed point: |sum| ≤ max|w·x| · n must stay below 2^62, with a power-of-two scale so
            // that scaling itself is exact.
            float maxAbs = _s.MaxAbs(_x.Pointer, _n, _d, _ld);
            _scale = FixedPointScale((double)maxAbs * maxWeight, _n);
        }
        _s.Stream.Synchronize();
    }

    /// <summary>The power of two 2^e with <paramref name="maxMagnitude"/> · n · 2^e &lt; 2^62, kept inside fp32's range.</summary>
    internal static float FixedPointScale(double maxMagnitude, long n)
    {
        if (!(maxMagnitude > 0))
            return 1f;
        int e = (int)Math.Floor(62 - Math.Log2(maxMagnitude * Math.Max(n, 1))) - 1;
        return MathF.Pow(2, Math.Clamp(e, -126, 126));
    }

    private T Own<T>(T resource) where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    private void Upload(IBatchSource source, CancellationToken cancellationToken)
    {
        using var staging = new PinnedBuffer<float>(_context, UploadRows * _d);
        using var rowsOnDevice = new DeviceBuffer<float>(_context, (long)UploadRows * _d);
        using var reader = source.OpenReader();
        long expected = 0;
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (batch.FirstRow != expected)
                throw new InvalidOperationException($"The source skipped from row {expected} to {batch.FirstRow}.");
            var rows = batch.Rows.Span;
            for (int start = 0; start < batch.RowCount; start += UploadRows)
            {
                int count = Math.Min(UploadRows, batch.RowCount - start);
                // The staging buffer is reused: wait for the previous chunk's copy before overwriting it.
                _s.Stream.Synchronize();
                rows.Slice(start * _d, count * _d).CopyTo(staging.Span);
                rowsOnDevice.CopyFrom(staging.Span[..(count * _d)], 0, _s.Stream);
                long first = batch.FirstRow + start;
                _s.PackRows(rowsOnDevice.Pointer, count, _d, _d, _x.At(first * _ld * _s.Precision.ElementBytes), _ld, _xNorms.At(first));
            }
            if (_hostWeights is not null)
            {
                var w = batch.Weights.Span;
                w.CopyTo(_hostWeights.AsSpan((int)batch.FirstRow));
            }
            expected += batch.RowCount;
        }
        if (expected != _n)
            throw new InvalidOperationException($"The source served {expected} rows; {_n} were expected.");
        if (_weights is not null)
            _weights.CopyFrom(_hostWeights, 0, _s.Stream);
        _s.Stream.Synchronize();
    }

    public long RowCount => _n;

    public int Dimension => _d;

    public int NumberOfClusters => _k;

    private ulong WeightsPointer => _weights?.Pointer ?? 0;

    /// <summary>Converts fp32 centroids into the stored form and norms; returns the owning buffers.</summary>
    private (DeviceBuffer<float> Raw, DeviceBuffer<byte> Packed, DeviceBuffer<float> Norms) UploadCentroids(ReadOnlySpan<float> centroids)
    {
        int m = centroids.Length / _d;
        var raw = new DeviceBuffer<float>(_context, Math.Max(1, centroids.Length));
        var packed = new DeviceBuffer<byte>(_context, (long)Math.Max(1, m) * _ld * _s.Precision.ElementBytes);
        var norms = new DeviceBuffer<float>(_context, Math.Max(1, m));
        raw.CopyFrom(centroids, 0, _s.Stream);
        _s.PackRows(raw.Pointer, m, _d, _d, packed.Pointer, _ld, norms.Pointer);
        return (raw, packed, norms);
    }

    public void SetCentroids(ReadOnlySpan<float> centroids)
    {
        if (centroids.Length != _k * _d)
            throw new ArgumentException($"Expected {_k} × {_d} centroids.", nameof(centroids));
        _context.MakeCurrent();
        _centroids.CopyFrom(centroids, 0, _s.Stream);
        _s.PackRows(_centroids.Pointer, _k, _d, _d, _packedCentroids.Pointer, _ld, _centroidNorms.Pointer);
        _s.Stream.Synchronize();
    }

    public void GetCentroids(Span<float> destination)
    {
        _context.MakeCurrent();
        _centroids.CopyTo(destination[..(_k * _d)], 0, _s.Stream);
    }

    public void GetClusterWeights(Span<double> destination) => _hostClusterWeights.Span.CopyTo(destination);

    public LloydStepResult Step(bool normalizeCentroids, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _context.MakeCurrent();
        // The whole step is one captured graph, replayed each iteration: its launches keep the same
        // buffers, so only the launch overhead goes (which dominates small problems).
        if (!_graphsFailed && (_stepGraph is null || _stepGraphNormalizes != normalizeCentroids))
        {
            _stepGraph?.Dispose();
            _stepGraph = null;
            try
            {
                _stepGraph = CudaGraph.Capture(_s.Stream, () => EnqueueStep(normalizeCentroids));
                _stepGraphNormalizes = normalizeCentroids;
            }
            catch (CudaException)
            {
                _graphsFailed = true;  // fall back to plain launches
            }
        }
        if (_stepGraph is not null)
            _stepGraph.Launch(_s.Stream);
        else
            EnqueueStep(normalizeCentroids);
        _s.Stream.Synchronize();
        return CudaBindingHost.StepResult(_hostScalars.Span, _hostClusterWeights.Span);
    }

    /// <summary>Enqueues one Lloyd step, ending with the copies of the scalars and cluster weights to pinned memory.</summary>
    private unsafe void EnqueueStep(bool normalizeCentroids, bool includeAssign = true)
    {
        var s = _s;
        long n = _n;
        if (includeAssign)
            s.Assign(_x.Pointer, _xNorms.Pointer, n, _d, _ld, _packedCentroids.Pointer, _centroidNorms.Pointer, _k, _ld,
                _labels.Pointer, _distances.Pointer, updateMin: false);
        _scalars.Clear(s.Stream);
        s.CountLabelChanges(_labels.Pointer, _previousLabels.Pointer, _scalars.At(1), n);
        s.WeightedSum(_distances.Pointer, WeightsPointer, n, _scalars.At(0));
        _counts.Clear(s.Stream);
        s.Histogram(_labels.Pointer, _counts.Pointer, n, _k);
        s.ExclusiveScan(_counts.Pointer, _offsets.Pointer, _cursor.Pointer, _k);
        s.Scatter(_labels.Pointer, _cursor.Pointer, _sorted.Pointer, n, _k);
        _sums.Clear(s.Stream);
        float? scale = _deterministic ? _scale : null;
        s.SegmentSums(_x.Pointer, WeightsPointer, _labels.Pointer, _sorted.Pointer, n, _k, _d, _ld, _sums.Pointer, scale);
        if (_weightSums is not null)
        {
            _weightSums.Clear(s.Stream);
            s.ClusterWeights(WeightsPointer, _labels.Pointer, _weightSums.Pointer, n, _k, _deterministic ? _weightScale : null);
        }
        s.FinalizeCentroids(_sums.Pointer, _counts.Pointer, _weightSums?.Pointer ?? 0, _centroids.Pointer, _shift.Pointer,
            _weightOut.Pointer, _k, _d, _deterministic ? 1.0 / _scale : null, 1.0 / _weightScale, normalizeCentroids);
        s.PackRows(_centroids.Pointer, _k, _d, _d, _packedCentroids.Pointer, _ld, _centroidNorms.Pointer);
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoHAsync(_hostClusterWeights.Pointer, _weightOut.Pointer, (nuint)(_k * sizeof(double)), s.Stream.Handle));
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoHAsync(_hostScalars.Pointer, _scalars.Pointer, 2 * sizeof(long), s.Stream.Handle));
    }

    /// <summary>Enqueues the assignment of <see cref="Step"/> alone, for the benchmark's assign-only timing.</summary>
    internal void EnqueueAssign() =>
        _s.Assign(_x.Pointer, _xNorms.Pointer, _n, _d, _ld, _packedCentroids.Pointer, _centroidNorms.Pointer, _k, _ld,
            _labels.Pointer, _distances.Pointer, updateMin: false);

    /// <summary>Enqueues everything of <see cref="Step"/> but the assignment, for the benchmark's breakdown.</summary>
    internal void EnqueueUpdate() => EnqueueStep(false, includeAssign: false);

    public IReadOnlyList<FarRow> FindFarthestRows(int count, CancellationToken cancellationToken)
    {
        _context.MakeCurrent();
        int n = (int)_n;
        var labels = new int[n];
        var distances = new float[n];
        _labels.CopyTo(labels, 0, _s.Stream);
        _distances.CopyTo(distances, 0, _s.Stream);
        return HostRowSelection.FarthestRows(labels, distances, _hostWeights, count);
    }

    public double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken)
    {
        _context.MakeCurrent();
        int m = centroids.Length / _d;
        var (raw, packed, norms) = UploadCentroids(centroids);
        using var _1 = raw;
        using var _2 = packed;
        using var _3 = norms;
        using var labels = new DeviceBuffer<int>(_context, _n);
        using var distances = new DeviceBuffer<float>(_context, _n);
        _s.Assign(_x.Pointer, _xNorms.Pointer, _n, _d, _ld, packed.Pointer, norms.Pointer, m, _ld, labels.Pointer, distances.Pointer, updateMin: false);
        return _s.ReduceAssignment(labels.Pointer, distances.Pointer, WeightsPointer, _n, m, _weightScale, clusterWeights);
    }

    public void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken)
    {
        CudaBindingHost.CheckRows(rows, _n);
        if (rows.IsEmpty)
            return;
        _context.MakeCurrent();
        using var indices = new DeviceBuffer<long>(_context, rows.Length);
        using var output = new DeviceBuffer<float>(_context, (long)rows.Length * _d);
        indices.CopyFrom(rows, 0, _s.Stream);
        _s.GatherRows(_x.Pointer, indices.Pointer, output.Pointer, rows.Length, _d, _ld);
        output.CopyTo(vectors[..(rows.Length * _d)], 0, _s.Stream);
        CudaBindingHost.GatherWeights(rows, weights, _hostWeights);
    }

    /// <summary>The seeding state, made on first use and freed with the binding.</summary>
    private DeviceSeedDistances Seeds => _seeds ??= Own(new DeviceSeedDistances(_s, _n, _hostWeights, WeightsPointer));

    public double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken)
    {
        _context.MakeCurrent();
        var seedDistances = Seeds.Add(newSeeds, reset);
        int m = newSeeds.Length / _d;
        if (m > 0)
        {
            var (raw, packed, norms) = UploadCentroids(newSeeds);
            using var _1 = raw;
            using var _2 = packed;
            using var _3 = norms;
            _s.Assign(_x.Pointer, _xNorms.Pointer, _n, _d, _ld, packed.Pointer, norms.Pointer, m, _ld, 0, seedDistances.Pointer, updateMin: true);
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
        // Candidates go in groups so that the n × group distance matrix stays within 256 MiB.
        int group = CudaBindingHost.CandidateGroup(_n);
        for (int first = 0; first < m; first += group)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(group, m - first);
            var (raw, packed, norms) = UploadCentroids(candidates.Slice(first * _d, count * _d));
            using var _1 = raw;
            using var _2 = packed;
            using var _3 = norms;
            using var distances = new DeviceBuffer<float>(_context, _n * count);
            using var output = new DeviceBuffer<double>(_context, count);
            _s.AllDistances(_x.Pointer, _n, _d, _ld, packed.Pointer, count, _ld, distances.Pointer);
            _s.CandidatePotentials(distances.Pointer, seed.Pointer, WeightsPointer, _n, count, output.Pointer);
            output.CopyTo(potentials.Slice(first, count), 0, _s.Stream);
        }
    }

    public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken) =>
        Seeds.FindRowsAtCumulativePotential(sortedTargets, rows);

    public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken) =>
        Seeds.SampleByPotential(scale, seed);

    public void Dispose()
    {
        List<Exception>? errors = null;
        try
        {
            _stepGraph?.Dispose();
        }
        catch (CudaException e)
        {
            (errors ??= []).Add(e);
        }
        _stepGraph = null;
        CudaBindingHost.DisposeInReverse(_owned, e => e is CudaException, ref errors);
        if (errors is not null)
            throw new AggregateException("Freeing the binding's GPU memory failed.", errors);
    }
}
