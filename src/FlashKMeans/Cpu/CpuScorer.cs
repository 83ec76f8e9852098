using System.Buffers;
using System.Runtime.CompilerServices;
using FlashKMeans.Backends;
using FlashKMeans.Primitives;
using FlashKMeans.Threading;

namespace FlashKMeans.Cpu;

/// <summary>
/// Scores rows against fixed centroids with the fused kernel, slices of rows in parallel. Each row's result depends on
/// that row alone, so the slices can follow the thread count: a batch of a thousand rows (a mini-batch step) still
/// uses every thread, where the fixed chunks of the training loops would give it one.
/// </summary>
internal sealed class CpuScorer : IKMeansScorer, ITopKScorer
{
    /// <summary>About 64 KB of a block's distances: they are selected from while still in cache.</summary>
    private const int NearestBlockValues = 16 << 10;

    private readonly PackedCentroids _packed;
    private readonly int _threads;
    private readonly int _d;

    /// <summary>
    /// The fewest rows worth a task of their own: 64, and enough that a slice holds about 2^18 multiply-adds, so that a
    /// small scoring call (a prototype model's few rows against its few prototypes) runs inline rather than paying the
    /// thread pool's wake-up, which costs more than its arithmetic.
    /// </summary>
    private int MinimumSliceRows => (int)Math.Clamp((1L << 18) / ((long)_packed.Count * _d), 64, 1 << 20);

    public CpuScorer(ReadOnlySpan<float> centroids, int dimension, int threads)
    {
        _d = dimension;
        _packed = PackedCentroids.Pack(centroids, dimension, featureQuads: true);
        _threads = threads;
    }

    /// <summary>Takes new positions of the same K centroids, re-packed in place.</summary>
    public void SetCentroids(ReadOnlySpan<float> centroids) => _packed.Fill(centroids);

    public unsafe void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        int n = rows.Length / _d;
        int d = _d;
        var packed = _packed;
        fixed (float* rowPointer = rows)
        fixed (int* labelPointer = labels)
        fixed (float* distancePointer = distances)
        {
            // Spans cannot enter the lambda; the pointers are valid for the whole synchronous call.
            nint rowsAddress = (nint)rowPointer, labelsAddress = (nint)labelPointer, distancesAddress = (nint)distancePointer;
            bool wantDistances = !distances.IsEmpty;
            RowSlices.For(n, _threads, MinimumSliceRows, (first, count) =>
            {
                var chunkRows = new ReadOnlySpan<float>((float*)rowsAddress + (long)first * d, count * d);
                var chunkLabels = new Span<int>((int*)labelsAddress + first, count);
                Span<float> chunkDistances = wantDistances
                    ? new Span<float>((float*)distancesAddress + first, count)
                    : new float[count];
                FusedAssignKernel.Assign(chunkRows, packed, chunkLabels, chunkDistances);
            });
        }
    }

    public unsafe void AllDistances(ReadOnlySpan<float> rows, Span<float> distances)
    {
        int n = rows.Length / _d;
        int d = _d, k = _packed.Count;
        var packed = _packed;
        fixed (float* rowPointer = rows)
        fixed (float* distancePointer = distances)
        {
            nint rowsAddress = (nint)rowPointer, distancesAddress = (nint)distancePointer;
            RowSlices.For(n, _threads, MinimumSliceRows, (first, count) =>
                FusedAssignKernel.AllDistances(
                    new ReadOnlySpan<float>((float*)rowsAddress + (long)first * d, count * d),
                    packed,
                    new Span<float>((float*)distancesAddress + (long)first * k, count * k)));
        }
    }

    /// <inheritdoc />
    public bool FindsNearest(int count) => true;

    /// <inheritdoc />
    /// <remarks>
    /// Slices of rows in parallel; each takes the distances of a few rows at a time (<see cref="AllDistances"/>'s
    /// arithmetic, so the same values) into a buffer that stays in cache and selects from it: no n × K matrix is written.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // a prototype model's prediction calls it at once
    public unsafe void Nearest(ReadOnlySpan<float> rows, int count, Span<int> indices, Span<float> distances)
    {
        int n = rows.Length / _d;
        int d = _d, k = _packed.Count;
        var packed = _packed;
        int blockRows = Math.Max(1, NearestBlockValues / k);
        fixed (float* rowPointer = rows)
        fixed (int* indexPointer = indices)
        fixed (float* distancePointer = distances)
        {
            nint rowsAddress = (nint)rowPointer, indicesAddress = (nint)indexPointer, distancesAddress = (nint)distancePointer;
            RowSlices.For(n, _threads, MinimumSliceRows, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, sliceRows) =>
            {
                var buffer = ArrayPool<float>.Shared.Rent(Math.Min(blockRows, sliceRows) * k);
                try
                {
                    for (int at = first; at < first + sliceRows; at += blockRows)
                    {
                        int here = Math.Min(blockRows, first + sliceRows - at);
                        var block = buffer.AsSpan(0, here * k);
                        FusedAssignKernel.AllDistances(new ReadOnlySpan<float>((float*)rowsAddress + (long)at * d, here * d), packed, block);
                        TopKSelection.NearestOfRows(block, k, new Span<int>((int*)indicesAddress + (long)at * count, here * count),
                            new Span<float>((float*)distancesAddress + (long)at * count, here * count));
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(buffer);
                }
            });
        }
    }

    public void Dispose() { }
}
