using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// Assignment and distances of new rows on the GPU under fixed centroids (the model's Transform), or under centroids
/// replaced between calls (a stream's steps). Rows go up in chunks, are packed into the compute precision, and labels or
/// distances come back. The assignment's device buffers are kept from one call to the next; from the second call on,
/// rows also go through page-locked staging filled on every core, since such a scorer is evidently being reused.
/// </summary>
internal sealed class CudaScorer : IReusableScorer, ITopKScorer
{
    private const long ChunkBytes = 256L << 20;

    private readonly CudaSession _s;
    private readonly int _d;
    private readonly int _k;
    private readonly int _ld;
    private readonly DeviceBuffer<float> _centroids;
    private readonly DeviceBuffer<byte> _packed;
    private readonly DeviceBuffer<float> _norms;
    private readonly object _gate = new();
    private DeviceBuffer<float>? _raw;
    private DeviceBuffer<byte>? _rowsPacked;
    private DeviceBuffer<float>? _rowNorms;
    private DeviceBuffer<int>? _labelsOut;
    private DeviceBuffer<float>? _distancesOut;
    private PinnedBuffer<float>? _staging;
    private int _capacity;
    private int _calls;

    public CudaScorer(CudaSession session, ReadOnlySpan<float> centroids, int dimension)
    {
        _k = IKMeansScorer.CentroidCount(centroids, dimension);
        _s = session;
        _d = dimension;
        _ld = session.Precision.Pitch(dimension);
        var context = session.Context;
        context.MakeCurrent();
        _centroids = new DeviceBuffer<float>(context, centroids.Length);
        _packed = new DeviceBuffer<byte>(context, (long)_k * _ld * session.Precision.ElementBytes);
        _norms = new DeviceBuffer<float>(context, _k);
        _centroids.CopyFrom(centroids, 0, session.Stream);
        session.PackRows(_centroids.Pointer, _k, _d, _d, _packed.Pointer, _ld, _norms.Pointer);
        session.Stream.Synchronize();
    }

    public void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        int n = IKMeansScorer.RowCount(rows, _d);
        if (labels.Length != n)
            throw new ArgumentException($"Expected {n} labels.", nameof(labels));
        if (!distances.IsEmpty && distances.Length != n)
            throw new ArgumentException($"Expected {n} distances or none.", nameof(distances));
        int chunk = (int)Math.Clamp(ChunkBytes / (4L * _d), 1, 1 << 20);
        lock (_gate)
        {
            var context = _s.Context;
            context.MakeCurrent();
            int capacity = Math.Min(chunk, n);
            EnsureCapacity(capacity);
            bool staged = ++_calls > 1;
            if (staged && (_staging is null || _staging.Length < (long)capacity * _d))
            {
                _staging?.Dispose();
                _staging = new PinnedBuffer<float>(context, capacity * _d);
            }
            for (int first = 0; first < n; first += chunk)
            {
                int count = Math.Min(chunk, n - first);
                var chunkRows = rows.Slice(first * _d, count * _d);
                if (staged)
                {
                    // The staging's previous transfer was waited for by the last chunk's label copy.
                    Threading.HostCopy.InParallel(chunkRows, _staging!.Span);
                    _raw!.CopyFrom(_staging.Span[..chunkRows.Length], 0, _s.Stream);
                }
                else
                {
                    _raw!.CopyFrom(chunkRows, 0, _s.Stream);
                }
                _s.PackRows(_raw.Pointer, count, _d, _d, _rowsPacked!.Pointer, _ld, _rowNorms!.Pointer);
                _s.Assign(_rowsPacked.Pointer, _rowNorms.Pointer, count, _d, _ld, _packed.Pointer, _norms.Pointer, _k, _ld,
                    _labelsOut!.Pointer, _distancesOut!.Pointer, updateMin: false);
                _labelsOut.CopyTo(labels.Slice(first, count), 0, _s.Stream);
                if (!distances.IsEmpty)
                    _distancesOut.CopyTo(distances.Slice(first, count), 0, _s.Stream);
            }
        }
    }

    /// <inheritdoc />
    public bool FindsNearest(int count) => count >= 1 && count <= Math.Min(_k, CudaSession.MaximumTopK) && _s.CanTopK(_d);

    /// <inheritdoc />
    /// <remarks>On tensor cores in the session's precision (flash_topk.cu); the distances are the kernel's.</remarks>
    public void Nearest(ReadOnlySpan<float> rows, int count, Span<int> indices, Span<float> distances)
    {
        int n = IKMeansScorer.RowCount(rows, _d);
        if (!FindsNearest(count))
            throw new ArgumentOutOfRangeException(nameof(count), count, $"The GPU finds 1 to min(K = {_k}, {CudaSession.MaximumTopK}) nearest centroids of rows of {_d} values in its tensor-core precisions.");
        if (indices.Length != (long)n * count || distances.Length != (long)n * count)
            throw new ArgumentException($"Expected {n} × {count} indices and distances.");
        int chunk = (int)Math.Clamp(ChunkBytes / (4L * Math.Max(_d, 2 * count)), 1, 1 << 20);
        lock (_gate)
        {
            var context = _s.Context;
            context.MakeCurrent();
            int capacity = Math.Min(chunk, n);
            EnsureCapacity(capacity);
            using var found = new DeviceBuffer<int>(context, (long)capacity * count);
            using var foundDistances = new DeviceBuffer<float>(context, (long)capacity * count);
            for (int first = 0; first < n; first += chunk)
            {
                int rowsHere = Math.Min(chunk, n - first);
                _raw!.CopyFrom(rows.Slice(first * _d, rowsHere * _d), 0, _s.Stream);
                _s.PackRows(_raw.Pointer, rowsHere, _d, _d, _rowsPacked!.Pointer, _ld, _rowNorms!.Pointer);
                _s.TopK(_rowsPacked.Pointer, _rowNorms.Pointer, rowsHere, _d, _ld, _packed.Pointer, _norms.Pointer, _k, count,
                    found.Pointer, foundDistances.Pointer);
                found.CopyTo(indices.Slice(first * count, rowsHere * count), 0, _s.Stream);
                foundDistances.CopyTo(distances.Slice(first * count, rowsHere * count), 0, _s.Stream);
            }
        }
    }

    /// <inheritdoc />
    public void SetCentroids(ReadOnlySpan<float> centroids)
    {
        if (centroids.Length != (long)_k * _d)
            throw new ArgumentException($"Expected K × d = {_k} × {_d} centroid values, got {centroids.Length}.", nameof(centroids));
        lock (_gate)
        {
            _s.Context.MakeCurrent();
            _centroids.CopyFrom(centroids, 0, _s.Stream);
            _s.PackRows(_centroids.Pointer, _k, _d, _d, _packed.Pointer, _ld, _norms.Pointer);
            _s.Stream.Synchronize();
        }
    }

    /// <summary>Device buffers for chunks of at least <paramref name="rows"/> rows, kept for later calls.</summary>
    private void EnsureCapacity(int rows)
    {
        if (rows <= _capacity)
            return;
        FreeWork();
        var context = _s.Context;
        _raw = new DeviceBuffer<float>(context, (long)rows * _d);
        _rowsPacked = new DeviceBuffer<byte>(context, (long)rows * _ld * _s.Precision.ElementBytes);
        _rowNorms = new DeviceBuffer<float>(context, rows);
        _labelsOut = new DeviceBuffer<int>(context, rows);
        _distancesOut = new DeviceBuffer<float>(context, rows);
        _capacity = rows;
    }

    private void FreeWork()
    {
        _distancesOut?.Dispose();
        _labelsOut?.Dispose();
        _rowNorms?.Dispose();
        _rowsPacked?.Dispose();
        _raw?.Dispose();
        (_raw, _rowsPacked, _rowNorms, _labelsOut, _distancesOut, _capacity) = (null, null, null, null, null, 0);
    }

    public void AllDistances(ReadOnlySpan<float> rows, Span<float> distances)
    {
        int n = IKMeansScorer.RowCount(rows, _d);
        if (distances.Length != (long)n * _k)
            throw new ArgumentException($"Expected {n} × {_k} distances.", nameof(distances));
        int chunk = (int)Math.Clamp(ChunkBytes / (4L * Math.Max(_d, _k)), 1, 1 << 20);
        lock (_gate)
        {
            var context = _s.Context;
            context.MakeCurrent();
            int capacity = Math.Min(chunk, n);
            using var raw = new DeviceBuffer<float>(context, (long)capacity * _d);
            using var packed = new DeviceBuffer<byte>(context, (long)capacity * _ld * _s.Precision.ElementBytes);
            using var output = new DeviceBuffer<float>(context, (long)capacity * _k);
            for (int first = 0; first < n; first += chunk)
            {
                int count = Math.Min(chunk, n - first);
                raw.CopyFrom(rows.Slice(first * _d, count * _d), 0, _s.Stream);
                _s.PackRows(raw.Pointer, count, _d, _d, packed.Pointer, _ld, 0);
                _s.AllDistances(packed.Pointer, count, _d, _ld, _packed.Pointer, _k, _ld, output.Pointer);
                output.CopyTo(distances.Slice(first * _k, count * _k), 0, _s.Stream);
            }
        }
    }

    public void Dispose()
    {
        _s.Context.MakeCurrent();
        FreeWork();
        _staging?.Dispose();
        _staging = null;
        _norms.Dispose();
        _packed.Dispose();
        _centroids.Dispose();
    }
}
