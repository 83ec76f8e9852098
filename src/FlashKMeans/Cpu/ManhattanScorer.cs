using System.Numerics;
using System.Runtime.InteropServices;
using FlashKMeans.Backends;
using FlashKMeans.Threading;

namespace FlashKMeans.Cpu;

/// <summary>
/// L1 (Manhattan) distances Σ|x − c| of rows to fixed centroids, SIMD over the features and row slices in parallel.
/// Each distance is summed in one fixed order (lanes, then the lanes added, then the tail), so every row's result is
/// the same at any thread count; ties go to the lower centroid index.
/// </summary>
internal sealed class ManhattanScorer : IKMeansScorer
{
    private readonly float[] _centroids;
    private readonly int _d, _k, _threads;

    public ManhattanScorer(ReadOnlySpan<float> centroids, int dimension, int threads)
    {
        _centroids = centroids.ToArray();
        _d = dimension;
        _k = centroids.Length / dimension;
        _threads = threads;
    }

    /// <summary>Takes new positions of the same K centroids.</summary>
    public void SetCentroids(ReadOnlySpan<float> centroids) => centroids.CopyTo(_centroids);

    /// <summary>Σ|a − b| in float32.</summary>
    public static float Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length, j = 0;
        var sum = Vector<float>.Zero;
        if (Vector.IsHardwareAccelerated)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            for (int i = 0; i < va.Length; i++)
                sum += Vector.Abs(va[i] - vb[i]);
            j = va.Length * Vector<float>.Count;
        }
        float total = Vector.Sum(sum);
        for (; j < n; j++)
            total += MathF.Abs(a[j] - b[j]);
        return total;
    }

    public void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        int n = rows.Length / _d;
        var rowArray = rows.ToArray();
        var labelArray = new int[n];
        var distanceArray = new float[n];
        RowSlices.For(n, _threads, 16, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                var row = rowArray.AsSpan(r * _d, _d);
                float best = float.PositiveInfinity;
                int label = 0;
                for (int c = 0; c < _k; c++)
                {
                    float distance = Distance(row, _centroids.AsSpan(c * _d, _d));
                    if (distance < best)
                    {
                        best = distance;
                        label = c;
                    }
                }
                labelArray[r] = label;
                distanceArray[r] = best;
            }
        });
        labelArray.CopyTo(labels);
        if (!distances.IsEmpty)
            distanceArray.CopyTo(distances);
    }

    public void AllDistances(ReadOnlySpan<float> rows, Span<float> distances)
    {
        int n = rows.Length / _d;
        var rowArray = rows.ToArray();
        var output = new float[(long)n * _k];
        RowSlices.For(n, _threads, 16, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                for (int c = 0; c < _k; c++)
                    output[(long)r * _k + c] = Distance(rowArray.AsSpan(r * _d, _d), _centroids.AsSpan(c * _d, _d));
            }
        });
        output.CopyTo(distances);
    }

    public void Dispose() { }
}
