using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// L1 (Manhattan) distances on the GPU (assign_l1.cu), for k-medians fits and L1 streams: the rows go up in fp32 chunks,
/// labels and distances come back. The medians that move the centroids stay on the host, which holds every row of a
/// cluster at once.
/// </summary>
internal sealed class CudaManhattanScorer : IKMeansScorer
{
    private const long ChunkBytes = 256L << 20;

    private readonly CudaSession _s;
    private readonly int _d;
    private readonly int _k;
    private readonly GpuResources _owned = new();
    private readonly DeviceBuffer<float> _centroids;

    public CudaManhattanScorer(CudaSession session, ReadOnlySpan<float> centroids, int dimension)
    {
        _k = IKMeansScorer.CentroidCount(centroids, dimension);
        _s = session;
        _d = dimension;
        session.Context.MakeCurrent();
        _centroids = _owned.Own(new DeviceBuffer<float>(session.Context, centroids.Length));
        _centroids.CopyFrom(centroids, 0, session.Stream);
        session.Stream.Synchronize();
    }

    public void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        int n = IKMeansScorer.RowCount(rows, _d);
        if (labels.Length != n || (!distances.IsEmpty && distances.Length != n))
            throw new ArgumentException($"Expected {n} labels, and {n} distances or none.");
        int chunk = ChunkRows(_d, n);
        var context = _s.Context;
        context.MakeCurrent();
        using var x = new DeviceBuffer<float>(context, (long)chunk * _d);
        using var label = new DeviceBuffer<int>(context, chunk);
        using var distance = new DeviceBuffer<float>(context, chunk);
        for (int first = 0; first < n; first += chunk)
        {
            int count = Math.Min(chunk, n - first);
            x.CopyFrom(rows.Slice(first * _d, count * _d), 0, _s.Stream);
            _s.AssignL1(x.Pointer, _centroids.Pointer, count, _k, _d, label.Pointer, distance.Pointer);
            label.CopyTo(labels.Slice(first, count), 0, _s.Stream);
            if (!distances.IsEmpty)
                distance.CopyTo(distances.Slice(first, count), 0, _s.Stream);
        }
    }

    public void AllDistances(ReadOnlySpan<float> rows, Span<float> distances)
    {
        int n = IKMeansScorer.RowCount(rows, _d);
        if (distances.Length != (long)n * _k)
            throw new ArgumentException($"Expected {n} × {_k} distances.", nameof(distances));
        int chunk = ChunkRows(Math.Max(_d, _k), n);
        var context = _s.Context;
        context.MakeCurrent();
        using var x = new DeviceBuffer<float>(context, (long)chunk * _d);
        using var output = new DeviceBuffer<float>(context, (long)chunk * _k);
        for (int first = 0; first < n; first += chunk)
        {
            int count = Math.Min(chunk, n - first);
            x.CopyFrom(rows.Slice(first * _d, count * _d), 0, _s.Stream);
            _s.DistancesL1(x.Pointer, _centroids.Pointer, count, _k, _d, output.Pointer);
            output.CopyTo(distances.Slice(first * _k, count * _k), 0, _s.Stream);
        }
    }

    /// <summary>Rows a chunk holds: at most 256 MiB of <paramref name="width"/> floats a row, at least one, at most n.</summary>
    private static int ChunkRows(int width, int n) => (int)Math.Clamp(Math.Min(ChunkBytes / (4L * width), n), 1, 1 << 20);

    public void Dispose()
    {
        _s.Context.MakeCurrent();
        _owned.Free("the L1 scorer's GPU memory");
    }
}
