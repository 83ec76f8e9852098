using FlashKMeans.Threading;
using FlashKMeans.Backends;

namespace FlashKMeans.Cpu;

/// <summary>Scores rows against fixed centroids with the fused kernel, chunks in parallel.</summary>
internal sealed class CpuScorer : IKMeansScorer
{
    private readonly PackedCentroids _packed;
    private readonly ChunkedParallel _parallel;
    private readonly int _d;

    public CpuScorer(ReadOnlySpan<float> centroids, int dimension, int threads)
    {
        _d = dimension;
        _packed = PackedCentroids.Pack(centroids, dimension);
        _parallel = new ChunkedParallel(threads);
    }

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
            _parallel.For(n, (chunk, first, count) =>
            {
                var chunkRows = new ReadOnlySpan<float>((float*)rowsAddress + first * d, count * d);
                var chunkLabels = new Span<int>((int*)labelsAddress + first, count);
                Span<float> chunkDistances = wantDistances
                    ? new Span<float>((float*)distancesAddress + first, count)
                    : new float[count];
                FusedAssignKernel.Assign(chunkRows, packed, chunkLabels, chunkDistances);
            }, CancellationToken.None);
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
            _parallel.For(n, (chunk, first, count) =>
                FusedAssignKernel.AllDistances(
                    new ReadOnlySpan<float>((float*)rowsAddress + first * d, count * d),
                    packed,
                    new Span<float>((float*)distancesAddress + first * k, count * k)), CancellationToken.None);
        }
    }

    public void Dispose() { }
}
