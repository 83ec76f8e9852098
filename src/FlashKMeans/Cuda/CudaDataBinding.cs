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
/// The device state lives in a <see cref="CudaBatch"/>: a binding of its own holds a batch of one and steps it;
/// the problems of a batched fit (<see cref="CudaBatchBinding"/>) are bindings on slices of one shared batch,
/// which seed, re-seed and evaluate here while the batch steps them all at once.
/// </summary>
internal sealed class CudaDataBinding : DeviceRowsBinding, IKMeansDataBinding, IStepAheadBinding, IReusableRowsBinding
{
    /// <summary>
    /// k-means‖'s reduction runs on the GPU from this many candidate × K × d products on (about 1.3·10⁹ at K = 1024 and
    /// d = 128 stays on the host, where it takes a fraction of a second; K = 2048 moves).
    /// </summary>
    internal static long DeviceReductionThreshold { get; set; } = 1L << 32;

    private const int UploadRows = 1 << 16;

    private readonly CudaSession _s;
    private readonly CudaContext _context;
    private readonly CudaBatch _batch;
    private readonly bool _ownsBatch;
    private readonly int _problem;
    private readonly int _d;
    private readonly int _k;
    private readonly int _ld;
    private readonly long _n;
    private readonly float[]? _hostWeights;
    private readonly GpuResources _owned = new();

    // This problem's slices of the batch's buffers.
    private readonly DeviceBuffer<byte> _x;
    private readonly DeviceBuffer<float> _xNorms;
    private readonly DeviceBuffer<float>? _weights;
    private float _scale = 1f;
    private float _weightScale = 1f;

    public CudaDataBinding(CudaSession session, IBatchSource source, DataSummary summary, int k, CancellationToken cancellationToken)
        : this(session, summary.RowCount, source.Dimension, k, source.HasWeights)
    {
        try
        {
            Upload(source, cancellationToken);
            Prepare();
            ShareScales();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Binds <paramref name="n"/> fp32 rows that already sit on the device (benchmarks; no weights).
    /// </summary>
    internal CudaDataBinding(CudaSession session, DeviceBuffer<float> rows, long n, int d, int k)
        : this(session, n, d, k, hasWeights: false)
    {
        try
        {
            _s.PackRows(rows.Pointer, n, d, d, _x.Pointer, _ld, _xNorms.Pointer);
            Prepare();
            ShareScales();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Problem <paramref name="problem"/> of <paramref name="batch"/>: uploads <paramref name="source"/> into its
    /// slices. The batch stays its creator's, and steps all its problems at once; <see cref="Step(bool, bool, CancellationToken)"/> here is an error.
    /// </summary>
    internal CudaDataBinding(CudaSession session, CudaBatch batch, int problem, IBatchSource source, CancellationToken cancellationToken)
        : this(session, batch, ownsBatch: false, problem, source.HasWeights)
    {
        try
        {
            if (source.Dimension != batch.Dimension)
                throw new ArgumentException($"The source has dimension {source.Dimension}; the batch holds rows of {batch.Dimension}.", nameof(source));
            Upload(source, cancellationToken);
            Prepare();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The rows of <paramref name="rowsOf"/>, a binding of its own batch, for a fit of <paramref name="k"/> clusters: read where they lie.</summary>
    private CudaDataBinding(CudaDataBinding rowsOf, int k)
        : this(rowsOf._s, new CudaBatch(rowsOf._s, 1, rowsOf._n, rowsOf._d, k, rowsOf._weights is not null, rowsOf._batch), ownsBatch: true,
            problem: 0, rowsOf._weights is not null)
    {
        rowsOf._hostWeights?.CopyTo(_hostWeights!, 0);
        _scale = rowsOf._scale;
        _weightScale = rowsOf._weightScale;
        ShareScales();
    }

    private CudaDataBinding(CudaSession session, long n, int d, int k, bool hasWeights)
        : this(session, NewBatch(session, n, d, k, hasWeights), ownsBatch: true, problem: 0, hasWeights)
    {
    }

    private static CudaBatch NewBatch(CudaSession session, long n, int d, int k, bool hasWeights)
    {
        if (n > int.MaxValue)
            throw new NotSupportedException($"The CUDA backend indexes rows with 32-bit integers; {n} rows is too many (use a streaming source).");
        return new CudaBatch(session, batches: 1, n, d, k, hasWeights);
    }

    private CudaDataBinding(CudaSession session, CudaBatch batch, bool ownsBatch, int problem, bool hasWeights)
    {
        _s = session;
        _context = session.Context;
        _batch = batch;
        _ownsBatch = ownsBatch;
        _problem = problem;
        _d = batch.Dimension;
        _k = batch.Clusters;
        _n = batch.Rows;
        _ld = batch.Pitch;
        if (ownsBatch)
            _owned.Own(batch);  // freed last
        _context.MakeCurrent();
        try
        {
            if (hasWeights != (batch.Weights is not null))
                throw new ArgumentException("A problem's weights must match its batch's: all weighted or none.", nameof(hasWeights));
            long rows = problem * _n;
            long rowBytes = (long)_ld * session.Precision.ElementBytes;
            _x = Own(batch.X.Slice(rows * rowBytes, _n * rowBytes));
            _xNorms = Own(batch.XNorms.Slice(rows, _n));
            if (batch.Weights is not null)
            {
                _hostWeights = new float[_n];
                _weights = Own(batch.Weights.Slice(rows, _n));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A binding of its own steps its batch of one with this problem's fixed-point scales.</summary>
    private void ShareScales()
    {
        _batch.Scale = _scale;
        _batch.WeightScale = _weightScale;
    }

    /// <summary>The scale of the fixed-point row sums that this problem alone calls for.</summary>
    internal float Scale => _scale;

    /// <summary>The batch this problem belongs to (for tests and benchmarks).</summary>
    internal CudaBatch Batch => _batch;

    /// <summary>The scale of its weight sums, likewise.</summary>
    internal float WeightScale => _weightScale;

    /// <summary>Once the rows are on the device: the fixed-point scales of the row and weight sums.</summary>
    private void Prepare()
    {
        float maxWeight = _hostWeights is null || _hostWeights.Length == 0 ? 1f : _hostWeights.Max();
        // Total weights are summed in fixed point in every mode (Evaluate, seed weights), so their
        // scale is always needed; a scale of 1 would round every weight to an integer.
        _weightScale = FixedPointScale(maxWeight, _n);
        // Row sums are in fixed point (CudaBatch.Scale): |sum| ≤ max|w·x| · n must stay below 2^62, with a power-of-two
        // scale so that scaling itself is exact.
        float maxAbs = _s.MaxAbs(_x.Pointer, _n, _d, _ld);
        _scale = FixedPointScale((double)maxAbs * maxWeight, _n);
        _s.Stream.Synchronize();
    }

    /// <summary>The power of two 2^e with <paramref name="maxMagnitude"/> · n · 2^e &lt; 2^62, kept inside fp32's range.</summary>
    internal static float FixedPointScale(double maxMagnitude, long n) => FixedPointSums.Scale(maxMagnitude, n);

    private protected override T Own<T>(T resource) => _owned.Own(resource);

    private protected override CudaSession Session => _s;

    private protected override int Pitch => _ld;

    private protected override float[]? HostWeights => _hostWeights;

    /// <summary>
    /// Copies the source's rows to the device through two page-locked staging buffers: the host fills one (on every
    /// core, since one thread's copy is slower than the link) while the copy engine drains the other, so host copies
    /// and transfers overlap. One device buffer suffices: the
    /// stream orders each chunk's transfer after the previous chunk's pack.
    /// </summary>
    private void Upload(IBatchSource source, CancellationToken cancellationToken)
    {
        // Page-locked memory costs about 0.35 ms per MiB to allocate: no more than the rows need.
        int chunkRows = (int)Math.Min(UploadRows, _n);
        using var stagingA = new PinnedBuffer<float>(_context, chunkRows * _d);
        using var stagingB = new PinnedBuffer<float>(_context, chunkRows * _d);
        using var drainedA = new SyncEvent(_context);
        using var drainedB = new SyncEvent(_context);
        using var rowsOnDevice = new DeviceBuffer<float>(_context, (long)chunkRows * _d);
        using var reader = source.OpenReader();
        long expected = 0;
        int chunk = 0;
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (batch.FirstRow != expected)
                throw new InvalidOperationException($"The source skipped from row {expected} to {batch.FirstRow}.");
            var rows = batch.Rows.Span;
            for (int start = 0; start < batch.RowCount; start += chunkRows, chunk++)
            {
                int count = Math.Min(chunkRows, batch.RowCount - start);
                var (staging, drained) = chunk % 2 == 0 ? (stagingA, drainedA) : (stagingB, drainedB);
                // This buffer's last transfer (two chunks ago) must be done before it is overwritten.
                drained.Synchronize();
                Threading.HostCopy.InParallel(rows.Slice(start * _d, count * _d), staging.Span);
                rowsOnDevice.CopyFrom(staging.Span[..(count * _d)], 0, _s.Stream);
                drained.Record(_s.Stream);
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

    public override long RowCount => _n;

    public override int Dimension => _d;

    public int NumberOfClusters => _k;

    private protected override ulong WeightsPointer => _weights?.Pointer ?? 0;

    public void SetCentroids(ReadOnlySpan<float> centroids)
    {
        if (centroids.Length != _k * _d)
            throw new ArgumentException($"Expected {_k} × {_d} centroids.", nameof(centroids));
        _batch.WriteCentroids(_problem, centroids);
    }

    public void GetCentroids(Span<float> destination) => _batch.CopyCentroidsOut(_problem, destination);

    public void GetClusterWeights(Span<double> destination) => _batch.HostClusterWeights(_problem).CopyTo(destination);

    public LloydStepResult Step(bool normalizeCentroids, CancellationToken cancellationToken) => Step(normalizeCentroids, stepAhead: false, cancellationToken);

    public LloydStepResult Step(bool normalizeCentroids, bool stepAhead, CancellationToken cancellationToken)
    {
        if (!_ownsBatch)
            throw new InvalidOperationException("This problem is part of a batch, which steps all its problems at once.");
        Span<LloydStepResult> result = stackalloc LloydStepResult[1];
        _batch.Step(normalizeCentroids, result, stepAhead, cancellationToken);
        return result[0];
    }

    /// <summary>Enqueues the assignment of <see cref="Step(bool, bool, CancellationToken)"/> alone, for the benchmark's assign-only timing.</summary>
    internal void EnqueueAssign() => _batch.EnqueueAssign();

    /// <summary>Enqueues everything of <see cref="Step(bool, bool, CancellationToken)"/> but the assignment, for the benchmark's breakdown.</summary>
    internal void EnqueueUpdate() => _batch.EnqueueUpdate();

    public IReadOnlyList<FarRow> FindFarthestRows(int count, CancellationToken cancellationToken)
    {
        var labels = new int[_n];
        var distances = new float[_n];
        _batch.CopyAssignmentOut(_problem, labels, distances);
        return HostRowSelection.FarthestRows(labels, distances, _hostWeights, count);
    }

    public override double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken)
    {
        using var assigned = AssignAll(centroids);
        return _s.ReduceAssignment(assigned.Labels.Pointer, assigned.Distances.Pointer, WeightsPointer, _n, assigned.Clusters, _weightScale, clusterWeights);
    }

    public IKMeansDataBinding ForClusterCount(int numberOfClusters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numberOfClusters, 1);
        if (!_ownsBatch)
            throw new InvalidOperationException("This problem is part of a batch; only a binding of its own batch lends its rows.");
        return new CudaDataBinding(this, numberOfClusters);
    }

    public void Label(ReadOnlySpan<float> centroids, Span<int> labels, CancellationToken cancellationToken)
    {
        if (labels.Length != _n)
            throw new ArgumentException($"Expected {_n} labels, one per bound row; got room for {labels.Length}.", nameof(labels));
        cancellationToken.ThrowIfCancellationRequested();
        using var assigned = AssignAll(centroids);
        assigned.Labels.CopyTo(labels, 0, _s.Stream);
    }

    /// <summary>Every row's nearest of <paramref name="centroids"/> and its distance, into buffers of their own.</summary>
    private Assignment AssignAll(ReadOnlySpan<float> centroids)
    {
        _context.MakeCurrent();
        int m = centroids.Length / _d;
        if (m < 1 || centroids.Length != m * _d)
            throw new ArgumentException($"Expected m × {_d} centroids with m ≥ 1; got {centroids.Length} values.", nameof(centroids));
        var owned = new GpuResources();
        try
        {
            var uploaded = owned.Own(UploadedCentroids.Upload(_s, centroids, _d));
            var labels = owned.Own(new DeviceBuffer<int>(_context, _n));
            var distances = owned.Own(new DeviceBuffer<float>(_context, _n));
            _s.Assign(_x.Pointer, _xNorms.Pointer, _n, _d, _ld, uploaded.Packed, uploaded.Norms, m, _ld, labels.Pointer, distances.Pointer, updateMin: false);
            return new Assignment(owned, m, labels, distances);
        }
        catch
        {
            List<Exception>? freeing = null;
            owned.Free(ref freeing);  // the first failure is the one to report
            throw;
        }
    }

    /// <summary>An assignment of every row, in device buffers freed with it.</summary>
    private readonly ref struct Assignment(GpuResources owned, int clusters, DeviceBuffer<int> labels, DeviceBuffer<float> distances)
    {
        public int Clusters => clusters;

        public DeviceBuffer<int> Labels => labels;

        public DeviceBuffer<float> Distances => distances;

        public void Dispose() => owned.Free("an assignment's GPU memory");
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

    /// <summary>The rows as one span, for the seeding primitives.</summary>
    private protected override void ForEachSpan(DeviceSeeding.SpanWork work, CancellationToken cancellationToken) =>
        work(0, _n, _x.Pointer, _xNorms.Pointer);

    /// <summary>
    /// k-means‖'s candidates bound resident on <paramref name="session"/>'s GPU when the reduction reaches
    /// <see cref="DeviceReductionThreshold"/>, for either GPU binding; <c>null</c> below it.
    /// </summary>
    internal static IKMeansDataBinding? BindCandidates(CudaSession session, IBatchSource candidates, DataSummary summary, int numberOfClusters,
        CancellationToken cancellationToken)
    {
        if (summary.RowCount * numberOfClusters * (double)candidates.Dimension < DeviceReductionThreshold)
            return null;
        return new CudaDataBinding(session, candidates, summary, numberOfClusters, cancellationToken);
    }

    public void Dispose()
    {
        List<Exception>? errors = null;
        _owned.Free(ref errors);
        if (errors is not null)
            throw new AggregateException("Freeing the binding's GPU memory failed.", errors);
    }
}
