using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;

namespace FlashKMeans.Cuda.Streaming;

/// <summary>
/// A fit's data kept on the host and moved to the GPU batch by batch: the out-of-core counterpart of
/// <see cref="CudaDataBinding"/>, driving the same kernels through the same <see cref="CudaSession"/>.
/// <para>
/// Every pass walks the batches in row order. A batch the device cache holds is used in place; any
/// other batch is filled into a ring buffer of pinned host memory by host threads (converted to the
/// compute type there when that is 16 bits, halving the bytes on the link), copied to the GPU on a copy
/// stream, and consumed on the session's stream. Two events per ring slot order the three: "copied"
/// (the compute stream waits for it; the host waits for it before refilling the slot) and "consumed"
/// (the copy stream waits for it before overwriting the slot's device buffer). So filling batch i + 1,
/// copying batch i and computing on batch i − 1 overlap.
/// </para>
/// <para>
/// The first pass (at bind) fills the cache, computes every row's squared norm (kept for the whole
/// fit, 4 bytes a row) and the largest |x| of the deterministic update's fixed-point scale. Seed
/// distances live on the GPU for all N rows. With <see cref="LabelPlacement.Device"/> so do labels,
/// previous labels and distances, and every reduction over rows (inertia, label changes, histogram,
/// potentials) runs once over those full arrays, exactly as in memory. Per batch, the step sorts the
/// batch's labels and adds the batch's rows into the cluster sums; with the deterministic update these
/// are exact integer sums, so streamed and in-memory fits give bit-identical centroids, labels and inertia.
/// </para>
/// <para>
/// With <see cref="LabelPlacement.Host"/> each batch is assigned into a small device slot whose labels and
/// distances a <see cref="LabelReadback"/> copies to pinned host memory on its own stream, and a
/// <see cref="HostLabelStore"/> keeps all N rows. The integer reductions (label changes, cluster counts)
/// are summed batch by batch, which gives the same integers; the inertia is summed on the host by
/// <see cref="HostWeightedSum"/> in the GPU's reduction order, which gives the same double. So both
/// placements give the same fit, bit for bit.
/// </para>
/// <para>
/// <see cref="ForAssignment"/> makes an assign-only binding for prediction: no first pass, no cache and no
/// per-row state at all (norms are computed per batch, labels go straight back through the read-back), so
/// N is bounded only by the source.
/// </para>
/// </summary>
internal sealed unsafe partial class StreamingCudaDataBinding : DeviceRowsBinding, IKMeansDataBinding
{
    private readonly CudaSession _s;
    private readonly CudaContext _context;
    private readonly int _d;
    private readonly int _k;
    private readonly int _ld;
    private readonly long _n;
    private readonly int _eb;
    private readonly bool _deterministic;
    private readonly GpuResources _owned = new();

    private readonly int _batchRows;
    private readonly long _batchCount;
    private readonly long _cachedBatches;
    private readonly int _mergeRows;        // most rows of adjacent cached batches handled as one span
    private readonly TransferElement _transfer;
    private readonly int _transferPitch;
    private readonly bool _packOnDevice;    // tf32: the GPU rounds; the link carries fp32 rows
    private readonly bool _direct;          // the source's own page-locked memory feeds the copies
    private readonly bool _split;           // page-locked fp32 rows, 16-bit compute: part converted on the host, part packed on the GPU
    private readonly double _hostShare;
    private readonly DeviceBuffer<float>[] _rawBuffers = [];
    private readonly UnmanagedRowsBatchSource? _directSource;
    private readonly int _hostThreads;
    private readonly BatchFeeder _feeder;
    private readonly PinnedRing _ring;
    private readonly CudaStream _copy;
    private readonly SyncEvent[] _copied;
    private readonly SyncEvent[] _consumed;
    private readonly DeviceBuffer<byte>? _cache;
    private readonly DeviceBuffer<byte>[] _transferBuffers;
    private readonly DeviceBuffer<byte>? _packed;
    private readonly DeviceBuffer<uint> _maxAbs;

    private readonly bool _assignOnly;      // prediction: no first pass, no cache, no per-row state
    private readonly DeviceBuffer<float>? _xNorms;       // every row's norm; null when assign-only
    private readonly DeviceBuffer<float>? _batchNorms;   // assign-only: the current batch's norms (stream order keeps one enough)
    private readonly float[]? _hostWeights;
    private readonly DeviceBuffer<float>? _weights;
    private readonly DeviceBuffer<int>? _labels;          // device placement
    private readonly DeviceBuffer<int>? _previousLabels;  // device placement
    private readonly DeviceBuffer<float>? _distances;     // device placement
    private readonly HostLabelStore? _store;              // host placement
    private readonly LabelReadback? _readback;            // host placement and assign-only
    private long _changed;                                // label changes counted by the step's read-back
    private readonly DeviceBuffer<int> _batchSorted;
    private readonly DeviceBuffer<int> _batchCounts;
    private readonly DeviceBuffer<int> _batchOffsets;
    private readonly DeviceBuffer<int> _batchCursor;
    private readonly DeviceBuffer<float> _centroids;
    private readonly DeviceBuffer<byte> _packedCentroids;
    private readonly DeviceBuffer<float> _centroidNorms;
    private readonly DeviceBuffer<int> _counts;
    private readonly DeviceBuffer<long> _sums;
    private readonly DeviceBuffer<long>? _weightSums;
    private readonly DeviceBuffer<float> _shift;
    private readonly DeviceBuffer<double> _weightOut;
    private readonly DeviceBuffer<long> _scalars;
    private readonly PinnedBuffer<double> _hostClusterWeights;
    private readonly PinnedBuffer<long> _hostScalars;
    private float _scale = 1f;
    private float _weightScale = 1f;
    private int _disposed;

    /// <param name="session">Device, stream and kernels.</param>
    /// <param name="source">The rows; read once now and again on every pass for the batches not cached.</param>
    /// <param name="rowCount">N, from validation.</param>
    /// <param name="k">K.</param>
    /// <param name="deterministic">Exact fixed-point update.</param>
    /// <param name="plan">Batch size, ring depth and cached batches.</param>
    /// <param name="hostThreads">Threads that fill and convert ring buffers.</param>
    /// <param name="slotAllocator">Ring buffers; page-locked unless a test substitutes another.</param>
    /// <param name="cancellationToken">Stops the first pass.</param>
    /// <param name="assignOnly">
    /// Prediction only (see <see cref="ForAssignment"/>): the rows go through the ring on every pass and are
    /// checked for NaN and infinity as they are read; fitting methods are not available.
    /// </param>
    /// <param name="hostConversionShare">
    /// For page-locked fp32 rows computed in fp16/bf16: the share of each batch's rows converted on the
    /// host (2 bytes a value on the link, but host memory traffic); the rest is copied as fp32 straight
    /// from the source and packed on the GPU (4 bytes a value on the link, no host work). Balancing the
    /// two beats either alone when host memory bandwidth, not the link, limits the conversion. Null: 0.5,
    /// the best share measured on the H200 machine (127 ms a pass for N = 16.7M, d = 128, against 156 ms
    /// all fp32 on the link and 199 ms all converted on the host; bench/results/h200.md).
    /// </param>
    public StreamingCudaDataBinding(CudaSession session, IBatchSource source, long rowCount, int k, bool deterministic,
        StreamingPlan plan, int hostThreads, IHostSlotAllocator? slotAllocator, CancellationToken cancellationToken,
        double? hostConversionShare = null, bool assignOnly = false)
    {
        _assignOnly = assignOnly;
        _s = session;
        _context = session.Context;
        _d = source.Dimension;
        _k = k;
        _n = rowCount;
        _deterministic = deterministic;
        _ld = session.Precision.Pitch(_d);
        _eb = session.Precision.ElementBytes;
        _batchRows = plan.BatchRows;
        _batchCount = (_n + _batchRows - 1) / _batchRows;
        _cachedBatches = assignOnly ? 0 : Math.Clamp(plan.CachedBatches, 0, _batchCount);
        if (_n > int.MaxValue && !assignOnly)
            throw new NotSupportedException($"{_n} rows: a fit keeps norms, weights and seeding distances for every row on the GPU, indexed with 32-bit integers (prediction streams any number of rows).");
        bool hostLabels = plan.HostLabels || assignOnly;
        (_transfer, _transferPitch, _packOnDevice) = session.Precision.Mode switch
        {
            ComputePrecision.Float16 => (TransferElement.Float16, _ld, false),
            ComputePrecision.BFloat16 => (TransferElement.BFloat16, _ld, false),
            ComputePrecision.TensorFloat32 => (TransferElement.Float32, _d, true),
            _ => (TransferElement.Float32, _ld, false),
        };
        _directSource = source as UnmanagedRowsBatchSource;
        // Assign-only passes read every row on the host anyway, to check it: the ring serves them all.
        _direct = !assignOnly && HalfPrecisionConversion.CopiesStraightFrom(source, _transfer, _transferPitch);
        _feeder = Own(new BatchFeeder(source, _n, _transfer, _transferPitch, hostThreads, validateRows: assignOnly));
        _hostThreads = Math.Max(1, hostThreads);
        _hostShare = Math.Clamp(hostConversionShare ?? DefaultHostConversionShare, 0, 1);
        _split = !_direct && !assignOnly && _directSource is { IsPageLocked: true, ElementType: RowElementType.Float32 } &&
                 _transfer is TransferElement.Float16 or TransferElement.BFloat16 && _hostShare < 1;
        long transferBatchBytes = _feeder.TransferBytes(_batchRows);
        long storedRowBytes = (long)_ld * _eb;
        _context.MakeCurrent();
        try
        {
            // The cache first, as the resident binding allocates its rows first (see the notes on the
            // cached-vs-resident assign time).
            if (_cachedBatches > 0)
                _cache = Own(new DeviceBuffer<byte>(_context, Math.Min(_cachedBatches * _batchRows, _n) * storedRowBytes));
            // Copies straight from the source leave the ring unused: keep it token-sized.
            _ring = Own(new PinnedRing(slotAllocator ?? new PinnedSlotAllocator(_context), plan.RingDepth, _direct ? 1 : transferBatchBytes));
            _copy = Own(new CudaStream(_context));
            _copied = new SyncEvent[plan.RingDepth];
            _consumed = new SyncEvent[plan.RingDepth];
            for (int i = 0; i < plan.RingDepth; i++)
            {
                _copied[i] = Own(new SyncEvent(_context));
                _consumed[i] = Own(new SyncEvent(_context));
            }
            // Device landing buffers: needed for every batch that is not cached, and for cached ones that the GPU packs.
            bool needTransfer = _cachedBatches < _batchCount || _packOnDevice;
            _transferBuffers = new DeviceBuffer<byte>[needTransfer ? plan.RingDepth : 0];
            for (int i = 0; i < _transferBuffers.Length; i++)
                _transferBuffers[i] = Own(new DeviceBuffer<byte>(_context, transferBatchBytes));
            if (_packOnDevice && _cachedBatches < _batchCount)
                _packed = Own(new DeviceBuffer<byte>(_context, _batchRows * storedRowBytes));
            _maxAbs = Own(new DeviceBuffer<uint>(_context, 1));
            if (_split)
            {
                _rawBuffers = new DeviceBuffer<float>[plan.RingDepth];
                for (int i = 0; i < _rawBuffers.Length; i++)
                    _rawBuffers[i] = Own(new DeviceBuffer<float>(_context, (long)_batchRows * _d));
            }

            if (assignOnly)
                _batchNorms = Own(new DeviceBuffer<float>(_context, _batchRows));
            else
                _xNorms = Own(new DeviceBuffer<float>(_context, _n));
            // Adjacent cached batches are contiguous in the cache, so later passes run them as one span
            // (fewer, larger launches and one flush of the cluster sums per span, not per batch). Labels
            // read back per batch keep spans to one batch, so that a read-back slot stays batch-sized.
            long cachedRows = Math.Min(_cachedBatches * _batchRows, _n);
            _mergeRows = hostLabels ? _batchRows : (int)Math.Max(_batchRows, Math.Min(cachedRows, MaximumMergedRows));
            if (hostLabels)
            {
                _readback = Own(new LabelReadback(_context, _s.Stream, plan.RingDepth, _mergeRows, slotAllocator ?? new PinnedSlotAllocator(_context)));
                if (!assignOnly)
                    _store = Own(new HostLabelStore(_n));
            }
            else
            {
                _labels = Own(new DeviceBuffer<int>(_context, _n));
                _previousLabels = Own(new DeviceBuffer<int>(_context, _n));
                _distances = Own(new DeviceBuffer<float>(_context, _n));
            }
            _batchSorted = Own(new DeviceBuffer<int>(_context, _mergeRows));
            _batchCounts = Own(new DeviceBuffer<int>(_context, k));
            _batchOffsets = Own(new DeviceBuffer<int>(_context, k + 1L));
            _batchCursor = Own(new DeviceBuffer<int>(_context, k));
            _centroids = Own(new DeviceBuffer<float>(_context, (long)k * _d));
            _packedCentroids = Own(new DeviceBuffer<byte>(_context, (long)k * _ld * _eb));
            session.ReserveCentroidTiles(k, _ld);  // the captured steps must not allocate
            _centroidNorms = Own(new DeviceBuffer<float>(_context, k));
            _counts = Own(new DeviceBuffer<int>(_context, k));
            _sums = Own(new DeviceBuffer<long>(_context, (long)k * _d));
            _shift = Own(new DeviceBuffer<float>(_context, k));
            _weightOut = Own(new DeviceBuffer<double>(_context, k));
            _scalars = Own(new DeviceBuffer<long>(_context, 2));
            _hostClusterWeights = Own(new PinnedBuffer<double>(_context, k));
            _hostScalars = Own(new PinnedBuffer<long>(_context, 2));
            if (source.HasWeights && !assignOnly)
            {
                _hostWeights = new float[_n];
                _weights = Own(new DeviceBuffer<float>(_context, _n));
                _weightSums = Own(new DeviceBuffer<long>(_context, k));
            }
            _previousLabels?.Fill32(uint.MaxValue, _s.Stream);  // -1: every label counts as changed on the first step (the host store starts so)
            if (!assignOnly)
                FirstPass(cancellationToken);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// An assign-only binding for prediction: every pass streams all rows through the ring (checked for
    /// NaN and infinity on the way), computes their norms per batch and brings labels back per batch, so
    /// nothing is held per row and N may exceed 2³¹. Only <see cref="AssignBatches"/> may be called on it.
    /// </summary>
    /// <param name="session">Device, stream and kernels.</param>
    /// <param name="source">The rows; read once per <see cref="AssignBatches"/>.</param>
    /// <param name="rowCount">N.</param>
    /// <param name="k">Centroids that <see cref="AssignBatches"/> will be given.</param>
    /// <param name="plan">Batch size and ring depth (its cache is ignored).</param>
    /// <param name="hostThreads">Threads that fill and convert ring buffers.</param>
    /// <param name="slotAllocator">Ring and read-back buffers; page-locked unless a test substitutes another.</param>
    internal static StreamingCudaDataBinding ForAssignment(CudaSession session, IBatchSource source, long rowCount, int k,
        StreamingPlan plan, int hostThreads, IHostSlotAllocator? slotAllocator = null) =>
        new(session, source, rowCount, k, deterministic: false, plan with { CachedBatches = 0 }, hostThreads, slotAllocator,
            CancellationToken.None, assignOnly: true);

    /// <summary>Whether labels, previous labels and distances of all rows live on the host.</summary>
    internal bool LabelsOnHost => _readback is not null;

    /// <summary>Share of page-locked fp32 rows converted on the host when the rest is packed on the GPU (measured best).</summary>
    internal const double DefaultHostConversionShare = 0.5;

    /// <summary>Cap on the rows of one merged span of cached batches (its sort indices take 4 bytes a row).</summary>
    private const int MaximumMergedRows = 1 << 25;

    /// <summary>Batches kept on the GPU after the first pass.</summary>
    internal long CachedBatches => _cachedBatches;

    /// <summary>Batches per pass.</summary>
    internal long BatchCount => _batchCount;

    /// <summary>Whether page-locked fp32 rows are split between host conversion and packing on the GPU.</summary>
    internal bool SplitsConversion => _split;

    /// <summary>Whether copies read the source's own page-locked memory rather than the ring.</summary>
    internal bool CopiesFromSource => _direct;

    private protected override T Own<T>(T resource) => _owned.Own(resource);

    private protected override CudaSession Session => _s;

    private protected override int Pitch => _ld;

    private protected override float[]? HostWeights => _hostWeights;

    public override long RowCount => _n;

    public override int Dimension => _d;

    public int NumberOfClusters => _k;

    private protected override ulong WeightsPointer => _weights?.Pointer ?? 0;

    private ulong WeightsAt(long row) => _weights?.At(row) ?? 0;

    /// <summary>Where the norm of <paramref name="row"/> of the batch starting at <paramref name="batchFirst"/> is.</summary>
    private ulong NormsAt(long row, long batchFirst) => _xNorms?.At(row) ?? _batchNorms!.At(row - batchFirst);

    private void ThrowIfAssignOnly()
    {
        if (_assignOnly)
            throw new InvalidOperationException("This binding only assigns rows (prediction); it cannot fit.");
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
        ThrowIfAssignOnly();
        cancellationToken.ThrowIfCancellationRequested();
        _context.MakeCurrent();
        var s = _s;
        float? scale = _deterministic ? _scale : null;
        float? weightScale = _deterministic ? _weightScale : null;
        _sums.Clear(s.Stream);
        _weightSums?.Clear(s.Stream);
        var store = _store;
        if (store is not null)
        {
            // Host labels: cluster counts and label changes are integers summed batch by batch.
            _counts.Clear(s.Stream);
            _changed = 0;
            _readback!.Start((first, labels, distances) => _changed += store.Store(first, labels, distances));
        }
        RunPass(firstPass: false, wanted: null, (first, count, rows, norms) =>
        {
            var (labels, distances) = store is null ? (_labels!.At(first), _distances!.At(first)) : _readback!.Acquire();
            s.Assign(rows, norms, count, _d, _ld, _packedCentroids.Pointer, _centroidNorms.Pointer, _k, _ld,
                labels, distances, updateMin: false);
            // The batch's rows are grouped by cluster and added into the running sums; fixed point
            // makes that sum exact and independent of how rows are split into batches.
            _batchCounts.Clear(s.Stream);
            s.Histogram(labels, _batchCounts.Pointer, count, _k);
            s.ExclusiveScan(_batchCounts.Pointer, _batchOffsets.Pointer, _batchCursor.Pointer, _k);
            s.Scatter(labels, _batchCursor.Pointer, _batchSorted.Pointer, count, _k);
            s.SegmentSums(rows, WeightsAt(first), _batchOffsets.Pointer, _batchSorted.Pointer, count, _k, _d, _ld, _sums.Pointer, scale);
            if (_weightSums is not null)
                s.ClusterWeights(WeightsAt(first), labels, _weightSums.Pointer, count, _k, weightScale);
            if (store is not null)
            {
                s.Histogram(labels, _counts.Pointer, count, _k);
                _readback!.Submit(first, count, withDistances: true);
            }
        }, cancellationToken, mergeCached: true);
        try
        {
            if (store is null)
            {
                // Reductions over all rows run once on the full arrays, in the in-memory binding's order.
                _scalars.Clear(s.Stream);
                s.WeightedSum(_distances!.Pointer, WeightsPointer, _n, _scalars.At(0));
                _counts.Clear(s.Stream);
                s.Histogram(_labels!.Pointer, _counts.Pointer, _n, _k, previous: _previousLabels!.Pointer, changed: _scalars.At(1));
            }
            else
            {
                _readback!.Finish();
            }
            s.FinalizeCentroids(_sums.Pointer, _counts.Pointer, _weightSums?.Pointer ?? 0, _k, _d, _deterministic ? 1.0 / _scale : null,
                1.0 / _weightScale, new FinalizeTargets(_centroids.Pointer, _shift.Pointer, _weightOut.Pointer, normalizeCentroids)
                {
                    Packed = _packedCentroids.Pointer,
                    Norms = _centroidNorms.Pointer,
                    PackedPitch = _ld,
                });
            s.Stream.CopyToHost(_hostClusterWeights.Pointer, _weightOut.Pointer, _k * sizeof(double));
            if (store is null)
            {
                s.Stream.CopyToHost(_hostScalars.Pointer, _scalars.Pointer, 2 * sizeof(long));
            }
            else
            {
                // The host sums the inertia (in the GPU's order) while the GPU finalises the centroids.
                var scalars = _hostScalars.Span;
                scalars[0] = BitConverter.DoubleToInt64Bits(HostInertia(store));
                scalars[1] = _changed;
            }
            s.Stream.Synchronize();
        }
        catch
        {
            Drain();
            throw;
        }
        return CudaBindingHost.StepResult(_hostScalars.Span, _hostClusterWeights.Span);
    }

    /// <summary>Σ w·distance over the host store, bit-identical to <see cref="CudaSession.WeightedSum"/> over the same values.</summary>
    private double HostInertia(HostLabelStore store)
    {
        fixed (float* weights = _hostWeights)
            return HostWeightedSum.Sum(store.Distances, weights, _n, _hostThreads);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        // Copies may still read the ring or write device buffers: let them finish before anything is freed.
        if (_copy is not null)
            Drain();
        List<Exception>? errors = null;
        _owned.Free(ref errors);
        if (errors is not null)
            throw new AggregateException("Freeing the streaming binding's memory failed.", errors);
    }
}
