using System.Runtime.InteropServices;
using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cuda;

/// <summary>
/// Stream learning's steps on the GPU, whole: a batch's rows are assigned by the FlashAssign kernels, sorted by cluster and
/// summed (the Lloyd step's segment sums, in fp64), and the centroids move to their running means on the device, where they
/// stay from step to step with the weights they have seen.
/// <para>
/// Batches are staged on a copy stream into one of <see cref="StagingDepth"/> device slots, and stepped on in order on the
/// session's stream. Two events per slot order the two streams: "copied" (the step waits for it; the host waits for it
/// before it refills the slot's page-locked staging) and "consumed" (the next copy into the slot waits for it). So while the
/// GPU steps on one batch, the next ones cross the link. Rows of a page-locked source that are stored as the GPU computes
/// (fp16 for fp16, fp32 for fp32 and tf32) are copied straight from the source; other sources are converted into page-locked
/// staging by host threads, as are rows given as a span. Each step reads back the
/// centroids' shifts, the seen weights (for the engine's reassignment schedule), the batch's inertia and the first
/// non-finite row, if any, in which case the update writes nothing. Several staged steps may go in one launch sequence,
/// with one wait for all of them: the engine asks for that while its reassignment cannot fall due in between.
/// </para>
/// </summary>
internal sealed unsafe class CudaMiniBatchStepper : IMiniBatchStepper
{
    /// <summary>
    /// Device slots: at least one stepped on, one copied, one waiting; small batches get more (up to 16), so that several
    /// steps go in one launch sequence between the host's waits.
    /// </summary>
    private readonly int _depth;

    private readonly CudaSession _s;
    private readonly CudaContext _context;
    private readonly int _k;
    private readonly int _d;
    private readonly int _ld;
    private readonly int _eb;
    private readonly bool _normalize;
    private readonly ComputePrecision _centroidPrecision;
    private readonly int _hostThreads;
    private readonly TransferElement _transfer;   // how a source's rows cross the link: stored as computed, or fp32 packed on the GPU
    private readonly int _transferPitch;
    private readonly GpuResources _owned = new();
    private readonly CudaStream _copy;
    private readonly SyncEvent[] _copied;
    private readonly SyncEvent[] _consumed;
    private readonly Queue<Staged> _staged = new();
    private long _sequence;

    private readonly DeviceBuffer<float> _centroids;
    private readonly DeviceBuffer<byte> _packedCentroids;
    private readonly DeviceBuffer<float> _centroidNorms;
    private readonly DeviceBuffer<double> _seen;
    private readonly DeviceBuffer<double> _sums;
    private readonly DeviceBuffer<int> _counts;
    private readonly DeviceBuffer<int> _offsets;
    private readonly DeviceBuffer<int> _cursor;
    private readonly DeviceBuffer<double> _clusterWeights;
    private readonly DeviceBuffer<float> _shift;
    private readonly DeviceBuffer<double> _inertia;      // one per step of a launch sequence
    private readonly DeviceBuffer<int> _badRows;         // one per step of a launch sequence
    private readonly PinnedBuffer<float> _hostShift;
    private readonly PinnedBuffer<double> _hostSeen;
    private readonly PinnedBuffer<double> _hostInertia;
    private readonly PinnedBuffer<int> _hostBadRows;

    // Sized for the largest batch so far (BatchBuffers).
    private int _capacity;
    private int _lastRows;
    private readonly GpuResources _batchBuffers = new();   // the per-batch buffers, freed to grow
    private readonly DeviceBuffer<byte>[] _landing;
    private readonly DeviceBuffer<float>[] _weights;
    private readonly PinnedBuffer<byte>?[] _hostRows;
    private DeviceBuffer<byte> _packed = null!;
    private DeviceBuffer<float> _norms = null!;
    private DeviceBuffer<int> _labels = null!;
    private DeviceBuffer<int> _sorted = null!;
    private DeviceBuffer<float> _distances = null!;
    private int _disposed;

    /// <summary>A staged batch: its slot, rows, whether it has weights, and whether its slot holds fp32 rows the GPU packs.</summary>
    private readonly record struct Staged(int Slot, int Rows, bool Weighted, bool Packs);

    /// <param name="session">Device, stream and kernels.</param>
    /// <param name="k">K.</param>
    /// <param name="d">d.</param>
    /// <param name="batchRows">Rows of the batches expected (the buffers grow for larger ones).</param>
    /// <param name="normalize">Whether moved centroids are scaled back to unit length (cosine).</param>
    /// <param name="centroidPrecision">The precision the centroids are kept in: each moved value is rounded to it.</param>
    /// <param name="hostThreads">Threads that convert a source's rows into staging.</param>
    public CudaMiniBatchStepper(CudaSession session, int k, int d, int batchRows, bool normalize, ComputePrecision centroidPrecision, int hostThreads)
    {
        _centroidPrecision = centroidPrecision;
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(d, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        _s = session;
        _context = session.Context;
        _k = k;
        _d = d;
        _ld = session.Precision.Pitch(d);
        _eb = session.Precision.ElementBytes;
        _normalize = normalize;
        _hostThreads = Math.Max(1, hostThreads);
        _depth = Math.Clamp((1 << 18) / batchRows, 3, MaximumDepth);
        _copied = new SyncEvent[_depth];
        _consumed = new SyncEvent[_depth];
        _landing = new DeviceBuffer<byte>[_depth];
        _weights = new DeviceBuffer<float>[_depth];
        _hostRows = new PinnedBuffer<byte>?[_depth];
        (_transfer, _transferPitch) = session.Precision.Mode switch
        {
            ComputePrecision.Float16 => (TransferElement.Float16, _ld),
            ComputePrecision.BFloat16 => (TransferElement.BFloat16, _ld),
            _ => (TransferElement.Float32, d),
        };
        _context.MakeCurrent();
        try
        {
            _copy = Own(new CudaStream(_context));
            for (int i = 0; i < _depth; i++)
            {
                _copied[i] = Own(new SyncEvent(_context));
                _consumed[i] = Own(new SyncEvent(_context));
            }
            _centroids = Own(new DeviceBuffer<float>(_context, (long)k * d));
            _packedCentroids = Own(new DeviceBuffer<byte>(_context, (long)k * _ld * _eb));
            _centroidNorms = Own(new DeviceBuffer<float>(_context, k));
            _seen = Own(new DeviceBuffer<double>(_context, k));
            _sums = Own(new DeviceBuffer<double>(_context, (long)k * d));
            _counts = Own(new DeviceBuffer<int>(_context, k));
            _offsets = Own(new DeviceBuffer<int>(_context, k + 1L));
            _cursor = Own(new DeviceBuffer<int>(_context, k));
            _clusterWeights = Own(new DeviceBuffer<double>(_context, k));
            _shift = Own(new DeviceBuffer<float>(_context, (long)_depth * k));
            _inertia = Own(new DeviceBuffer<double>(_context, _depth));
            _badRows = Own(new DeviceBuffer<int>(_context, _depth));
            _hostShift = Own(new PinnedBuffer<float>(_context, _depth * k));
            _hostSeen = Own(new PinnedBuffer<double>(_context, k));
            _hostInertia = Own(new PinnedBuffer<double>(_context, _depth));
            _hostBadRows = Own(new PinnedBuffer<int>(_context, _depth));
            session.ReserveCentroidTiles(k, _ld);
            EnsureCapacity(batchRows);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The most slots, for batches of up to 16,384 rows.</summary>
    private const int MaximumDepth = 16;

    public int StagingDepth => _depth;

    public int StagedBatches => _staged.Count;

    public ReadOnlySpan<double> WeightSums => _hostSeen.Span;

    private T Own<T>(T resource) where T : IDisposable => _owned.Own(resource);

    public void Load(ReadOnlySpan<float> centroids, ReadOnlySpan<double> weightSums)
    {
        if (centroids.Length != (long)_k * _d || weightSums.Length != _k)
            throw new ArgumentException($"Expected {_k} × {_d} centroids and {_k} seen weights.");
        _context.MakeCurrent();
        _centroids.CopyFrom(centroids, 0, _s.Stream);
        _s.PackRows(_centroids.Pointer, _k, _d, _d, _packedCentroids.Pointer, _ld, _centroidNorms.Pointer);
        _seen.CopyFrom(weightSums, 0, _s.Stream);
        _s.Stream.Synchronize();
        weightSums.CopyTo(_hostSeen.Span);
    }

    public void Read(Span<float> centroids, Span<double> weightSums)
    {
        _context.MakeCurrent();
        _centroids.CopyTo(centroids[..(_k * _d)], 0, _s.Stream);
        _seen.CopyTo(weightSums[.._k], 0, _s.Stream);
    }

    public void Stage(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights)
    {
        int n = CheckRows(rows.Length % _d == 0 ? rows.Length / _d : -1);
        if (!weights.IsEmpty && weights.Length != n)
            throw new ArgumentException($"Expected {n} weights or none.", nameof(weights));
        StageRows(MemoryMarshal.AsBytes(rows), RowElementType.Float32, n, direct: false, weights);
    }

    public void Stage(IRowBlockSource source, long first, int count)
    {
        ArgumentNullException.ThrowIfNull(source);
        int n = CheckRows(count);
        StageRows(source.GetRowBytes(first, n), source.ElementType, n, HalfPrecisionConversion.CopiesStraightFrom(source, _transfer, _transferPitch),
            source.HasWeights ? source.GetWeights(first, n) : default);
    }

    /// <summary>
    /// Enqueues the copy of <paramref name="n"/> rows into the next slot: straight from <paramref name="bytes"/> where they are
    /// page-locked in the transfer layout (<paramref name="direct"/>), else converted into the slot's page-locked staging by
    /// the host threads first.
    /// </summary>
    private void StageRows(ReadOnlySpan<byte> bytes, RowElementType type, int n, bool direct, ReadOnlySpan<float> weights)
    {
        int slot = NextSlot(n);
        long transferBytes = (long)n * _transferPitch * HalfPrecisionConversion.ElementBytes(_transfer);
        void* host;
        if (direct)
        {
            fixed (byte* p = bytes)
                host = p;  // the source's own page-locked memory: the pointer stays valid after the fixed block
        }
        else
        {
            // The staging is free once its last copy has completed.
            _copied[slot].Synchronize();
            var staging = _hostRows[slot] ??= NewStaging();
            HalfPrecisionConversion.ConvertRows(bytes, type, n, _d, new Span<byte>(staging.Pointer, checked((int)transferBytes)),
                _transfer, _transferPitch, _hostThreads);
            host = staging.Pointer;
        }
        _consumed[slot].MakeWait(_copy);
        _copy.CopyToDevice(_landing[slot].Pointer, host, transferBytes);
        CopyWeights(slot, weights);
        _copied[slot].Record(_copy);
        _staged.Enqueue(new Staged(slot, n, !weights.IsEmpty, Packs: _transfer == TransferElement.Float32));
    }

    private PinnedBuffer<byte> NewStaging()
    {
        return _batchBuffers.Own(new PinnedBuffer<byte>(_context, checked((int)((long)_capacity * _transferPitch * HalfPrecisionConversion.ElementBytes(_transfer)))));
    }

    private void CopyWeights(int slot, ReadOnlySpan<float> weights)
    {
        if (weights.IsEmpty)
            return;
        fixed (float* p = weights)
            _copy.CopyToDevice(_weights[slot].Pointer, p, weights.Length * sizeof(float));
    }

    private int CheckRows(int n)
    {
        if (n < 1)
            throw new ArgumentException($"A batch needs at least one whole row of {_d} values.");
        return n;
    }

    /// <summary>The slot of the next staged batch, the buffers grown first where the batch is larger than any before.</summary>
    private int NextSlot(int rows)
    {
        if (_staged.Count >= _depth)
            throw new InvalidOperationException($"At most {_depth} batches may be staged ahead of their steps.");
        if (rows > _capacity)
        {
            if (_staged.Count > 0)
                throw new InvalidOperationException($"A batch of {rows} rows cannot be staged behind smaller ones; step on those first.");
            EnsureCapacity(rows);
        }
        _context.MakeCurrent();
        return (int)(_sequence++ % _depth);
    }

    /// <summary>(Re)allocates the per-batch buffers for batches of up to <paramref name="rows"/> rows; nothing may be staged.</summary>
    private void EnsureCapacity(int rows)
    {
        if (rows <= _capacity)
            return;
        _context.MakeCurrent();
        _copy.Synchronize();
        _s.Stream.Synchronize();
        FreeBatchBuffers();
        long landingBytes = Math.Max((long)rows * _d * sizeof(float), (long)rows * _transferPitch * HalfPrecisionConversion.ElementBytes(_transfer));
        for (int i = 0; i < _depth; i++)
        {
            _landing[i] = Batch(new DeviceBuffer<byte>(_context, landingBytes));
            _weights[i] = Batch(new DeviceBuffer<float>(_context, rows));
        }
        _packed = Batch(new DeviceBuffer<byte>(_context, (long)rows * _ld * _eb));
        _norms = Batch(new DeviceBuffer<float>(_context, rows));
        _labels = Batch(new DeviceBuffer<int>(_context, rows));
        _sorted = Batch(new DeviceBuffer<int>(_context, rows));
        _distances = Batch(new DeviceBuffer<float>(_context, rows));
        _capacity = rows;
    }

    private T Batch<T>(T resource) where T : IDisposable => _batchBuffers.Own(resource);

    private void FreeBatchBuffers()
    {
        Array.Clear(_hostRows);
        _capacity = 0;
        List<Exception>? errors = null;
        FreeGraphs(ref errors);
        _batchBuffers.Free(ref errors);
        if (errors is not null)
            throw new AggregateException("Freeing the mini-batch buffers failed.", errors);
    }

    public void StepStaged(double forgettingFactor, Span<MiniBatchStepResult> results)
    {
        int steps = results.Length;
        if (steps < 1 || steps > _staged.Count)
            throw new ArgumentOutOfRangeException(nameof(results), $"{steps} steps asked for; {_staged.Count} batches are staged.");
        _context.MakeCurrent();
        var s = _s;
        try
        {
            _badRows.Fill32(int.MaxValue, s.Stream);
            for (int step = 0; step < steps; step++)
                Enqueue(_staged.Dequeue(), step, forgettingFactor);
            s.Stream.CopyToHost(_hostShift.Pointer, _shift.Pointer, (long)steps * _k * sizeof(float));
            s.Stream.CopyToHost(_hostSeen.Pointer, _seen.Pointer, _k * sizeof(double));
            s.Stream.CopyToHost(_hostInertia.Pointer, _inertia.Pointer, steps * sizeof(double));
            s.Stream.CopyToHost(_hostBadRows.Pointer, _badRows.Pointer, steps * sizeof(int));
            s.Stream.Synchronize();
        }
        catch
        {
            DiscardStaged();
            Drain();
            throw;
        }
        bool skipped = false;
        for (int step = 0; step < steps; step++)
        {
            int bad = _hostBadRows.Span[step];
            if (skipped || bad != int.MaxValue)
            {
                // This batch, or one before it in the sequence, was bad: the update wrote nothing from here on.
                results[step] = new MiniBatchStepResult(double.NaN, 0, skipped ? MiniBatchStepResult.NotStepped : bad);
                skipped = true;
                continue;
            }
            double moved = 0;
            foreach (float shift in _hostShift.Span.Slice(step * _k, _k))
                moved += shift;
            results[step] = new MiniBatchStepResult(_hostInertia.Span[step], moved, -1);
        }
    }

    /// <summary>
    /// Enqueues one step on a staged batch as step <paramref name="step"/> of a launch sequence: its inertia, first bad row
    /// and centroid shifts go to that step's slots, and its update is skipped when any batch of the sequence so far was bad.
    /// The step's launches are captured once per (slot, step, rows, kind of batch, forgetting factor) as a CUDA graph and
    /// replayed, since small batches are launch-bound; where capture fails they are launched one by one.
    /// </summary>
    private void Enqueue(Staged batch, int step, double forgettingFactor)
    {
        var s = _s;
        _copied[batch.Slot].MakeWait(s.Stream);
        var key = (batch.Slot, step, batch.Rows, batch.Weighted, batch.Packs, forgettingFactor);
        if (!_graphsFailed && !_graphs.ContainsKey(key))
        {
            try
            {
                _graphs[key] = CudaGraph.Capture(s.Stream, () => EnqueueStep(batch, step, forgettingFactor));
            }
            catch (CudaException)
            {
                _graphsFailed = true;  // plain launches from here on
            }
        }
        if (_graphs.TryGetValue(key, out var graph))
            graph.Launch(s.Stream);
        else
            EnqueueStep(batch, step, forgettingFactor);
        _consumed[batch.Slot].Record(s.Stream);
        _lastRows = batch.Rows;
    }

    private readonly Dictionary<(int Slot, int Step, int Rows, bool Weighted, bool Packs, double Decay), CudaGraph> _graphs = [];
    private bool _graphsFailed;

    /// <summary>The launches of one step (see <see cref="Enqueue"/>); the slot's copy has been waited for.</summary>
    private void EnqueueStep(Staged batch, int step, double forgettingFactor)
    {
        var s = _s;
        int n = batch.Rows, slot = batch.Slot;
        ulong rows = _landing[slot].Pointer;
        if (batch.Packs)
        {
            s.PackRows(rows, n, _d, _d, _packed.Pointer, _ld, _norms.Pointer);
            rows = _packed.Pointer;
        }
        else
        {
            s.RowNorms(rows, n, _d, _ld, _norms.Pointer);
        }
        ulong weights = batch.Weighted ? _weights[slot].Pointer : 0;
        s.FirstNonFiniteRow(_norms.Pointer, n, _badRows.At(step));
        s.Assign(rows, _norms.Pointer, n, _d, _ld, _packedCentroids.Pointer, _centroidNorms.Pointer, _k, _ld,
            _labels.Pointer, _distances.Pointer, updateMin: false);
        // The batch's rows grouped by cluster and summed in fp64, as a Lloyd step sums them.
        _counts.Clear(s.Stream);
        _sums.Clear(s.Stream);
        s.Histogram(_labels.Pointer, _counts.Pointer, n, _k);
        s.ExclusiveScan(_counts.Pointer, _offsets.Pointer, _cursor.Pointer, _k);
        s.Scatter(_labels.Pointer, _cursor.Pointer, _sorted.Pointer, n, _k);
        s.SegmentSums(rows, weights, _offsets.Pointer, _sorted.Pointer, n, _k, _d, _ld, _sums.Pointer, fixedScale: null);
        if (batch.Weighted)
        {
            _clusterWeights.Clear(s.Stream);
            s.ClusterWeights(weights, _labels.Pointer, _clusterWeights.Pointer, n, _k, fixedScale: null);
        }
        s.WeightedSum(_distances.Pointer, weights, n, _inertia.At(step));
        s.FinalizeRunningMean(_sums.Pointer, _counts.Pointer, batch.Weighted ? _clusterWeights.Pointer : 0, _seen.Pointer, forgettingFactor,
            _centroidPrecision, _badRows.Pointer, step + 1, _k, _d,
            new FinalizeTargets(_centroids.Pointer, _shift.At((long)step * _k), WeightOut: 0, _normalize)
            {
                Packed = _packedCentroids.Pointer,
                Norms = _centroidNorms.Pointer,
                PackedPitch = _ld,
            });
    }

    /// <summary>Frees the captured steps: they hold the pointers of buffers about to be freed.</summary>
    private void FreeGraphs(ref List<Exception>? errors)
    {
        Disposal.DisposeInReverse([.. _graphs.Values], e => e is CudaException, ref errors);
        _graphs.Clear();
    }

    public void ReadDistances(Span<float> destination)
    {
        _context.MakeCurrent();
        _distances.CopyTo(destination[.._lastRows], 0, _s.Stream);
    }

    public void DiscardStaged() => _staged.Clear();

    private void Drain()
    {
        try
        {
            _copy?.Synchronize();
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
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _context.MakeCurrent();
        // Copies may still read staging or write device slots: let them finish before anything is freed.
        Drain();
        _staged.Clear();
        List<Exception>? errors = null;
        FreeGraphs(ref errors);
        _batchBuffers.Free(ref errors);
        _owned.Free(ref errors);
        if (errors is not null)
            throw new AggregateException("Freeing the mini-batch stepper's memory failed.", errors);
    }
}
