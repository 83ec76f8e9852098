using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;
using FlashKMeans.Engine;

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
internal sealed unsafe class StreamingCudaDataBinding : IKMeansDataBinding, ISeedReductionHost
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
    private DeviceSeedDistances? _seeds;
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

    private T Own<T>(T resource) where T : IDisposable
    {
        return _owned.Own(resource);
    }

    public long RowCount => _n;

    public int Dimension => _d;

    public int NumberOfClusters => _k;

    private ulong WeightsPointer => _weights?.Pointer ?? 0;

    private ulong WeightsAt(long row) => _weights?.At(row) ?? 0;

    /// <summary>Where the norm of <paramref name="row"/> of the batch starting at <paramref name="batchFirst"/> is.</summary>
    private ulong NormsAt(long row, long batchFirst) => _xNorms?.At(row) ?? _batchNorms!.At(row - batchFirst);

    private void ThrowIfAssignOnly()
    {
        if (_assignOnly)
            throw new InvalidOperationException("This binding only assigns rows (prediction); it cannot fit.");
    }

    /// <summary>Work on one batch, enqueued on the session's stream: rows in stored form, their norms.</summary>
    private delegate void BatchWork(long first, int count, ulong rows, ulong norms);

    private void FirstPass(CancellationToken cancellationToken)
    {
        _maxAbs.Clear(_s.Stream);
        RunPass(firstPass: true, wanted: null, work: null, cancellationToken);
        Span<uint> bits = stackalloc uint[1];
        _maxAbs.CopyTo(bits, 0, _s.Stream);
        if (_weights is not null)
            _weights.CopyFrom(_hostWeights, 0, _s.Stream);
        if (_deterministic)
        {
            // The same scales as the in-memory binding: they depend on max|x| over the stored values, max w and N only.
            float maxAbs = BitConverter.UInt32BitsToSingle(bits[0]);
            float maxWeight = _hostWeights is null || _hostWeights.Length == 0 ? 1f : _hostWeights.Max();
            _scale = CudaDataBinding.FixedPointScale((double)maxAbs * maxWeight, _n);
            _weightScale = CudaDataBinding.FixedPointScale(maxWeight, _n);
        }
        _s.Stream.Synchronize();
    }

    /// <summary>
    /// One pass over the batches in row order (those <paramref name="wanted"/> accepts, by batch index).
    /// Returns with the work enqueued; the caller synchronises. On any error both streams are drained
    /// before the exception leaves, so that no copy still reads or writes memory about to be freed.
    /// </summary>
    /// <param name="firstPass">The pass at bind: fills the cache, computes norms and max |x|.</param>
    /// <param name="wanted">Batches to visit (by index), or null for all.</param>
    /// <param name="work">What to enqueue per batch (or per merged span).</param>
    /// <param name="mergeCached">Whether adjacent cached batches may reach <paramref name="work"/> as one span.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    private void RunPass(bool firstPass, Func<long, bool>? wanted, BatchWork? work, CancellationToken cancellationToken, bool mergeCached = false)
    {
        _context.MakeCurrent();
        _feeder.Restart();
        long storedRowBytes = (long)_ld * _eb;
        long sequence = 0;
        try
        {
            var order = PassOrder(firstPass).ToList();
            for (int at = 0; at < order.Count; at++)
            {
                long b = order[at];
                cancellationToken.ThrowIfCancellationRequested();
                if (wanted is not null && !wanted(b))
                    continue;
                long first = b * _batchRows;
                int count = (int)Math.Min(_batchRows, _n - first);
                bool cached = b < _cachedBatches;
                ulong stored = cached ? _cache!.At(first * storedRowBytes) : 0;
                if (cached && !firstPass)
                {
                    while (mergeCached && at + 1 < order.Count && order[at + 1] == order[at] + 1 && order[at + 1] < _cachedBatches &&
                           count + Math.Min(_batchRows, _n - order[at + 1] * _batchRows) <= _mergeRows &&
                           (wanted is null || wanted(order[at + 1])))
                    {
                        at++;
                        count += (int)Math.Min(_batchRows, _n - order[at] * _batchRows);
                    }
                    work?.Invoke(first, count, stored, _xNorms!.At(first));
                    continue;
                }
                int slot = _ring.SlotOf(sequence++);
                long bytes = _feeder.TransferBytes(count);
                ulong target = cached && !_packOnDevice ? stored : _transferBuffers[slot].Pointer;
                int hostRows = _split ? (int)Math.Round(count * _hostShare) : count;
                void* host = null;
                // The ring slot is free once its last copy has completed.
                _copied[slot].Synchronize();
                if (_direct)
                {
                    fixed (byte* p = _directSource!.GetRowBytes(first, count))
                        host = p;  // native memory: the pointer stays valid after the fixed block
                }
                else if (hostRows > 0)
                {
                    var hostSlot = _ring[slot];
                    var weights = firstPass && _hostWeights is not null ? _hostWeights.AsSpan((int)first, hostRows) : default;
                    _feeder.Fill(first, hostRows, new Span<byte>((void*)hostSlot.Pointer, checked((int)_feeder.TransferBytes(hostRows))), weights);
                    host = (void*)hostSlot.Pointer;
                }
                _consumed[slot].MakeWait(_copy);
                if (hostRows > 0)
                    CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyHtoDAsync(target, host, (nuint)_feeder.TransferBytes(hostRows), _copy.Handle));
                if (hostRows < count)
                {
                    // The split's fp32 part, straight from the page-locked source (native memory: stays valid).
                    void* raw;
                    fixed (byte* p = _directSource!.GetRowBytes(first + hostRows, count - hostRows))
                        raw = p;
                    CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyHtoDAsync(_rawBuffers[slot].Pointer, raw, (nuint)((long)(count - hostRows) * _d * 4), _copy.Handle));
                }
                _copied[slot].Record(_copy);
                _copied[slot].MakeWait(_s.Stream);
                if (hostRows < count)
                {
                    // Same packing kernel as the resident binding: bit-identical to the host's conversion.
                    long storedAt = (long)hostRows * _ld * _eb;
                    _s.PackRows(_rawBuffers[slot].Pointer, count - hostRows, _d, _d, target + (ulong)storedAt, _ld, NormsAt(first + hostRows, first));
                }
                ulong rows = target;
                if (_packOnDevice)
                {
                    rows = cached ? stored : _packed!.Pointer;
                    _s.PackRows(target, count, _d, _d, rows, _ld, NormsAt(first, first));
                }
                else if (firstPass || _assignOnly)
                {
                    // Assign-only passes keep no norms between passes: each batch's are computed again.
                    RowNorms(rows, count, NormsAt(first, first));
                }
                if (firstPass)
                    AccumulateMaxAbs(rows, count);
                work?.Invoke(first, count, rows, NormsAt(first, first));
                _consumed[slot].Record(_s.Stream);
            }
        }
        catch
        {
            Drain();
            throw;
        }
    }

    /// <summary>
    /// The order batches are visited in. The first pass goes in row order. Later passes interleave the
    /// streamed batches (in row order, as forward-only sources need) with the cached ones in proportion,
    /// so that while a streamed batch crosses the link the GPU computes on cached batches, and the link
    /// stays busy for the whole pass instead of only its streamed part. Results do not depend on the
    /// order: labels land at their rows, the fixed-point sums are exact, and the reductions over rows run
    /// after the pass.
    /// </summary>
    private IEnumerable<long> PassOrder(bool firstPass)
    {
        long streamed = _batchCount - _cachedBatches;
        if (firstPass || streamed == 0 || _cachedBatches == 0)
        {
            for (long b = 0; b < _batchCount; b++)
                yield return b;
            yield break;
        }
        long nextCached = 0;
        for (long i = 0; i < streamed; i++)
        {
            yield return _cachedBatches + i;
            long until = (i + 1) * _cachedBatches / streamed;
            for (; nextCached < until; nextCached++)
                yield return nextCached;
        }
    }

    private void Drain()
    {
        try
        {
            _copy.Synchronize();
        }
        catch (CudaException)
        {
            // The original error matters more; a sticky context error would repeat here.
        }
        try
        {
            _s.Stream.Synchronize();
        }
        catch (CudaException)
        {
        }
        // Last: its copies wait for the compute stream's work.
        _readback?.Abandon();
    }

    private long GridStride(long work) => Math.Min((work + 255) / 256, (long)_context.MultiprocessorCount * 16);

    private void RowNorms(ulong rows, int count, ulong norms) => _s.RowNorms(rows, count, _d, _ld, norms);

    private void AccumulateMaxAbs(ulong rows, int count)
    {
        if (!_deterministic)
            return;
        var args = new KernelArgs().Add(rows).Add(_maxAbs.Pointer).Add((long)count).Add(_d).Add(_ld);
        _s.Kernels.Get("row_pack", "max_abs_" + _s.Precision.Suffix).Launch(_s.Stream, (GridStride((long)count * _d), 1, 1), 256, 0, args);
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
            CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoHAsync(_hostClusterWeights.Pointer, _weightOut.Pointer, (nuint)(_k * sizeof(double)), s.Stream.Handle));
            if (store is null)
            {
                CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoHAsync(_hostScalars.Pointer, _scalars.Pointer, 2 * sizeof(long), s.Stream.Handle));
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

    /// <summary>Enqueues the assignment of a step over the cached rows alone, for the benchmark's breakdown.</summary>
    internal void EnqueueCachedAssign()
    {
        if (_labels is null || _distances is null)
            throw new InvalidOperationException("The cached-assignment breakdown needs labels on the device.");
        long rows = Math.Min(_cachedBatches * _batchRows, _n);
        if (rows > 0)
            _s.Assign(_cache!.Pointer, _xNorms!.Pointer, rows, _d, _ld, _packedCentroids.Pointer, _centroidNorms.Pointer, _k, _ld,
                _labels.Pointer, _distances.Pointer, updateMin: false);
    }

    /// <summary>
    /// Labels of every row under <paramref name="centroids"/> (K × d), streamed the same way as a Lloyd
    /// step: the assign-only pass of prediction for data larger than GPU memory. Returns the inertia.
    /// </summary>
    internal double Predict(ReadOnlySpan<float> centroids, Span<int> labels, CancellationToken cancellationToken)
    {
        ThrowIfAssignOnly();
        if (labels.Length < _n)
            throw new ArgumentException($"Room for {_n} labels is needed.", nameof(labels));
        if (_store is not null)
        {
            // Labels straight into the caller's span, distances into the store for the inertia; as on the
            // device, the next step then counts every label as changed.
            fixed (int* output = labels)
            {
                nint o = (nint)output;
                var store = _store;
                AssignBatches(centroids, withDistances: true, (first, batch, distances) =>
                {
                    batch.CopyTo(new Span<int>((int*)o + first, batch.Length));
                    store.Store(first, batch, distances);
                }, cancellationToken);
            }
            _store.ResetLabels();
            return HostInertia(_store);
        }
        _context.MakeCurrent();
        int m = centroids.Length / _d;
        using var uploaded = UploadedCentroids.Upload(_s, centroids, _d);
        using var result = new DeviceBuffer<double>(_context, 1);
        RunPass(false, null, (first, count, rows, xNorms) =>
            _s.Assign(rows, xNorms, count, _d, _ld, uploaded.Packed, uploaded.Norms, m, _ld, _labels!.At(first), _distances!.At(first), updateMin: false),
            cancellationToken, mergeCached: true);
        _s.WeightedSum(_distances!.Pointer, WeightsPointer, _n, result.Pointer);
        _labels!.CopyTo(labels[..(int)_n], 0, _s.Stream);
        Span<double> inertia = stackalloc double[1];
        result.CopyTo(inertia, 0, _s.Stream);
        // The step's labels were overwritten: the next step must count every label as changed.
        _previousLabels!.Fill32(uint.MaxValue, _s.Stream);
        return inertia[0];
    }

    /// <summary>
    /// The assign-only pass: streams every row once, assigns it to the nearest of <paramref name="centroids"/>
    /// (m × d) and hands each batch's labels (and squared distances in the compute precision, when
    /// <paramref name="withDistances"/>) to <paramref name="handler"/> on this thread, in the order the pass
    /// visits them (row order when nothing is cached, as in an assign-only binding), while later batches are
    /// still being copied and assigned. The prediction pass of an assign-only binding
    /// (<see cref="ForAssignment"/>); also serves <see cref="Predict"/> and <see cref="Evaluate"/> under host
    /// label placement.
    /// </summary>
    /// <param name="centroids">m × d centroids.</param>
    /// <param name="withDistances">Whether distances come back too.</param>
    /// <param name="handler">Receives each batch on the host.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    /// <param name="deviceWork">More work per batch on the GPU, enqueued after its assignment (first row, rows, device labels).</param>
    internal void AssignBatches(ReadOnlySpan<float> centroids, bool withDistances, LabelBatchHandler handler, CancellationToken cancellationToken,
        Action<long, int, ulong>? deviceWork = null)
    {
        var readback = _readback ?? throw new InvalidOperationException("Batches are read back only with labels on the host.");
        if (centroids.IsEmpty || centroids.Length % _d != 0)
            throw new ArgumentException($"Expected m × {_d} centroids with m ≥ 1.", nameof(centroids));
        _context.MakeCurrent();
        int m = centroids.Length / _d;
        using var uploaded = UploadedCentroids.Upload(_s, centroids, _d);
        readback.Start(handler);
        RunPass(false, null, (first, count, rows, xNorms) =>
        {
            var (labels, distances) = readback.Acquire();
            _s.Assign(rows, xNorms, count, _d, _ld, uploaded.Packed, uploaded.Norms, m, _ld, labels, distances, updateMin: false);
            deviceWork?.Invoke(first, count, labels);
            readback.Submit(first, count, withDistances);
        }, cancellationToken, mergeCached: true);
        try
        {
            readback.Finish();
        }
        catch
        {
            Drain();
            throw;
        }
    }

    public IReadOnlyList<FarRow> FindFarthestRows(int count, CancellationToken cancellationToken)
    {
        ThrowIfAssignOnly();
        if (_store is not null)
            return HostRowSelection.FarthestRows(_store.LabelSpan, _store.DistanceSpan, _hostWeights, count);
        _context.MakeCurrent();
        int n = (int)_n;
        var labels = new int[n];
        var distances = new float[n];
        _labels!.CopyTo(labels, 0, _s.Stream);
        _distances!.CopyTo(distances, 0, _s.Stream);
        return HostRowSelection.FarthestRows(labels, distances, _hostWeights, count);
    }

    public double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken)
    {
        ThrowIfAssignOnly();
        if (_store is not null)
            return EvaluateOnHost(centroids, clusterWeights, cancellationToken);
        _context.MakeCurrent();
        int m = centroids.Length / _d;
        using var uploaded = UploadedCentroids.Upload(_s, centroids, _d);
        using var labels = new DeviceBuffer<int>(_context, _n);
        using var distances = new DeviceBuffer<float>(_context, _n);
        RunPass(false, null, (first, count, rows, xNorms) =>
            _s.Assign(rows, xNorms, count, _d, _ld, uploaded.Packed, uploaded.Norms, m, _ld, labels.At(first), distances.At(first), updateMin: false),
            cancellationToken, mergeCached: true);
        return _s.ReduceAssignment(labels.Pointer, distances.Pointer, WeightsPointer, _n, m, _weightScale, clusterWeights);
    }

    /// <summary>
    /// <see cref="Evaluate"/> with labels on the host: the cluster weights are summed per batch on the GPU
    /// (integer counts, or the exact fixed-point weights of <see cref="CudaSession.ReduceAssignment"/>), the
    /// distances come back to a temporary host array, and the inertia is summed there in the GPU's order.
    /// The step's labels and distances are left alone.
    /// </summary>
    private double EvaluateOnHost(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken)
    {
        _context.MakeCurrent();
        int m = centroids.Length / _d;
        bool wantWeights = !clusterWeights.IsEmpty;
        using var scratch = new HostLabelStore(_n);
        using var counts = new DeviceBuffer<int>(_context, wantWeights && _weights is null ? m : 0);
        using var sums = new DeviceBuffer<long>(_context, wantWeights && _weights is not null ? m : 0);
        counts.Clear(_s.Stream);
        sums.Clear(_s.Stream);
        AssignBatches(centroids, withDistances: true, (first, labels, distances) => scratch.Store(first, labels, distances), cancellationToken,
            (first, count, labels) =>
            {
                if (!wantWeights)
                    return;
                if (_weights is null)
                    _s.Histogram(labels, counts.Pointer, count, m);
                else
                    _s.ClusterWeights(WeightsAt(first), labels, sums.Pointer, count, m, _weightScale);
            });
        double inertia = HostInertia(scratch);
        if (wantWeights)
        {
            if (_weights is null)
            {
                var host = new int[m];
                counts.CopyTo(host, 0, _s.Stream);
                for (int c = 0; c < m; c++)
                    clusterWeights[c] = host[c];
            }
            else
            {
                var host = new long[m];
                sums.CopyTo(host, 0, _s.Stream);
                for (int c = 0; c < m; c++)
                    clusterWeights[c] = host[c] / (double)_weightScale;
            }
        }
        return inertia;
    }

    public void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken)
    {
        CudaBindingHost.CheckRows(rows, _n);
        if (rows.IsEmpty)
            return;
        _context.MakeCurrent();
        // Requests are grouped by batch (stable, so order within a batch is kept); one pass visits only
        // the batches that hold a requested row, and gathers from their stored form, as in memory.
        int count = rows.Length;
        var order = Enumerable.Range(0, count).ToArray();
        var rowArray = rows.ToArray();
        Array.Sort(order, (a, b) => rowArray[a] != rowArray[b] ? rowArray[a].CompareTo(rowArray[b]) : a.CompareTo(b));
        var local = new long[count];
        var starts = new Dictionary<long, (int Start, int Count)>();
        for (int i = 0; i < count; i++)
        {
            long row = rowArray[order[i]];
            long batch = row / _batchRows;
            local[i] = row - batch * _batchRows;
            starts[batch] = starts.TryGetValue(batch, out var range) ? (range.Start, range.Count + 1) : (i, 1);
        }
        using var indices = new DeviceBuffer<long>(_context, count);
        using var output = new DeviceBuffer<float>(_context, (long)count * _d);
        indices.CopyFrom(local, 0, _s.Stream);
        RunPass(false, starts.ContainsKey, (first, batchCount, stored, norms) =>
        {
            var (start, n) = starts[first / _batchRows];
            _s.GatherRows(stored, indices.At(start), output.At((long)start * _d), n, _d, _ld);
        }, cancellationToken);
        var sorted = new float[(long)count * _d];
        output.CopyTo(sorted, 0, _s.Stream);
        for (int i = 0; i < count; i++)
            sorted.AsSpan(i * _d, _d).CopyTo(vectors.Slice(order[i] * _d, _d));
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
