using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda.Streaming;

// Labels and distances for given centroids, over all batches: whole passes for prediction, or batch by batch to a handler.
internal sealed unsafe partial class StreamingCudaDataBinding
{
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
}
