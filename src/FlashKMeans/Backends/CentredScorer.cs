using System.Buffers;
using FlashKMeans.Cpu;
using FlashKMeans.Data;

namespace FlashKMeans.Backends;

/// <summary>
/// Scores rows against centroids moved to the origin: rows and centroids both minus the centroids' mean, so
/// a backend's float32 expansion ‖x‖² + ‖c‖² − 2x·c keeps its digits for data far from the origin (squared
/// distances do not change under a common shift). Each row's distance to its nearest centroid is then taken
/// again from the differences, so it is exact to float32 rounding (a row equal to its centroid scores 0).
/// Every scoring path of a model goes through it.
/// </summary>
internal sealed class CentredScorer : IKMeansScorer
{
    /// <summary>About 16 MB of shifted rows at a time.</summary>
    private const int BlockValues = 4 << 20;

    private readonly IKMeansScorer _inner;
    private readonly float[] _origin;
    private readonly float[] _centred;
    private readonly int _d;

    /// <param name="centroids">K × d centroids.</param>
    /// <param name="dimension">d.</param>
    /// <param name="createScorer">Makes the scorer that does the distance work, given the centred centroids.</param>
    public CentredScorer(ReadOnlySpan<float> centroids, int dimension, Func<ReadOnlyMemory<float>, int, IKMeansScorer> createScorer)
    {
        _d = dimension;
        _origin = Origin(centroids, dimension);
        _centred = centroids.ToArray();
        ShiftedBatchSource.Subtract(_centred, _origin);
        _inner = createScorer(_centred, dimension);
    }

    /// <summary>The shift that scoring subtracts: the centroids' mean, rounded to float32.</summary>
    public ReadOnlySpan<float> Shift => _origin;

    /// <summary>The centroids minus <see cref="Shift"/>.</summary>
    public ReadOnlySpan<float> CentredCentroids => _centred;

    /// <summary>The mean of K × d centroids, summed in float64.</summary>
    public static float[] Origin(ReadOnlySpan<float> centroids, int dimension)
    {
        int k = centroids.Length / dimension;
        var sum = new double[dimension];
        for (int c = 0; c < k; c++)
            VectorMath.AddScaled(sum, centroids.Slice(c * dimension, dimension), 1.0);
        var origin = new float[dimension];
        for (int j = 0; j < dimension; j++)
            origin[j] = (float)(sum[j] / k);
        return origin;
    }

    public void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        int d = _d, n = rows.Length / d, blockRows = BlockRows(n);
        float[] buffer = ArrayPool<float>.Shared.Rent(blockRows * d);
        try
        {
            for (int first = 0; first < n; first += blockRows)
            {
                int count = Math.Min(blockRows, n - first);
                var block = Shifted(rows, first, count, buffer);
                var blockLabels = labels.Slice(first, count);
                _inner.Assign(block, blockLabels, distances.IsEmpty ? default : distances.Slice(first, count));
                if (distances.IsEmpty)
                    continue;
                for (int i = 0; i < count; i++)
                    distances[first + i] = VectorMath.SquaredDistance(block.Slice(i * d, d), _centred.AsSpan(blockLabels[i] * d, d));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    public void AllDistances(ReadOnlySpan<float> rows, Span<float> distances)
    {
        int d = _d, n = rows.Length / d, k = _centred.Length / d, blockRows = BlockRows(n);
        float[] buffer = ArrayPool<float>.Shared.Rent(blockRows * d);
        try
        {
            for (int first = 0; first < n; first += blockRows)
            {
                int count = Math.Min(blockRows, n - first);
                _inner.AllDistances(Shifted(rows, first, count, buffer), distances.Slice(first * k, count * k));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    private int BlockRows(int n) => Math.Max(1, Math.Min(n, BlockValues / _d));

    /// <summary>Rows [first, first + count) minus the shift, in <paramref name="buffer"/>.</summary>
    private Span<float> Shifted(ReadOnlySpan<float> rows, int first, int count, float[] buffer)
    {
        var block = buffer.AsSpan(0, count * _d);
        rows.Slice(first * _d, count * _d).CopyTo(block);
        ShiftedBatchSource.Subtract(block, _origin);
        return block;
    }

    public void Dispose() => _inner.Dispose();
}
