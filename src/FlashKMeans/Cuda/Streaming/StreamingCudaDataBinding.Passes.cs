using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda.Streaming;

// Passes over the batches: the first (validation, norms, caching), and every later one's order, overlap of copies and work, and drain.
internal sealed unsafe partial class StreamingCudaDataBinding
{
    /// <summary>Work on one batch, enqueued on the session's stream: rows in stored form, their norms.</summary>
    private delegate void BatchWork(long first, int count, ulong rows, ulong norms);

    /// <summary>The rows as a span per batch of one pass (the cached ones merged), for the seeding primitives (<see cref="DeviceRowsBinding"/>).</summary>
    private protected override void ForEachSpan(DeviceSeeding.SpanWork work, CancellationToken cancellationToken) =>
        RunPass(false, null, (first, count, rows, norms) => work(first, count, rows, norms), cancellationToken, mergeCached: true);

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
                    _copy.CopyToDevice(target, host, _feeder.TransferBytes(hostRows));
                if (hostRows < count)
                {
                    // The split's fp32 part, straight from the page-locked source (native memory: stays valid).
                    void* raw;
                    fixed (byte* p = _directSource!.GetRowBytes(first + hostRows, count - hostRows))
                        raw = p;
                    _copy.CopyToDevice(_rawBuffers[slot].Pointer, raw, (long)(count - hostRows) * _d * 4);
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
}
