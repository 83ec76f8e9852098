using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda.Streaming;

// Inertia under given centroids (on the GPU, or over the host store), the rows farthest from their centroids, and rows gathered by index.
internal sealed unsafe partial class StreamingCudaDataBinding
{
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

    public override double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken)
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
}
