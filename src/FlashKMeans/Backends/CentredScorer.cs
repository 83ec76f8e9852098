using System.Buffers;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Primitives;
using FlashKMeans.Threading;

namespace FlashKMeans.Backends;

/// <summary>
/// Scores rows against centroids moved to the origin: rows and centroids both minus the centroids' mean, so
/// a backend's float32 expansion ‖x‖² + ‖c‖² − 2x·c keeps its digits for data far from the origin (squared
/// distances do not change under a common shift). Centroids whose mean lies within their own spread are scored
/// as they are, rows read in place (see <see cref="Origin"/>). Each row's distance to its nearest centroid is then
/// taken again from the differences, so it is exact to float32 rounding (a row equal to its centroid scores 0).
/// Every scoring path of a model goes through it.
/// </summary>
internal sealed class CentredScorer : IKMeansScorer, ITopKScorer
{
    /// <summary>About 16 MB of shifted rows at a time.</summary>
    private const int BlockValues = 4 << 20;

    private readonly IKMeansScorer _inner;
    private readonly float[]? _origin;
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
        if (_origin is not null)
            ShiftedBatchSource.Subtract(_centred, _origin);
        _inner = createScorer(_centred, dimension);
    }

    /// <summary>
    /// The shift to score with: the mean m of the K × d centroids (summed in float64, rounded to float32), or null
    /// where ‖m‖² is within their spread E‖c − m‖², so that the expansion loses under a bit and rows can be read in
    /// place (on the GPU, straight from page-locked or mapped memory). Centroids spread less than the data they came
    /// from, so data far from the origin compared with its spread always gets a shift.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static float[]? Origin(ReadOnlySpan<float> centroids, int dimension)
    {
        int k = centroids.Length / dimension;
        var sum = new double[dimension];
        for (int c = 0; c < k; c++)
            VectorMath.AddScaled(sum, centroids.Slice(c * dimension, dimension), 1.0);
        var mean = new double[dimension];
        double offset = 0;
        for (int j = 0; j < dimension; j++)
        {
            mean[j] = sum[j] / k;
            offset += mean[j] * mean[j];
        }
        double spread = 0;
        for (int c = 0; c < k; c++)
        {
            for (int j = 0; j < dimension; j++)
            {
                double delta = centroids[c * dimension + j] - mean[j];
                spread += delta * delta;
            }
        }
        if (!ShiftedBatchSource.Worthwhile(offset, spread / k))
            return null;
        return mean.Select(v => (float)v).ToArray();
    }

    public void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        int d = _d, n = rows.Length / d, blockRows = BlockRows(n);
        float[] buffer = _origin is null ? [] : ArrayPool<float>.Shared.Rent(blockRows * d);
        try
        {
            for (int first = 0; first < n; first += blockRows)
            {
                int count = Math.Min(blockRows, n - first);
                var block = Shifted(rows, first, count, buffer);
                var blockLabels = labels.Slice(first, count);
                _inner.Assign(block, blockLabels, distances.IsEmpty ? default : distances.Slice(first, count));
                if (!distances.IsEmpty)
                    DistancesToLabels(block, blockLabels, distances.Slice(first, count));
            }
        }
        finally
        {
            if (buffer.Length > 0)
                ArrayPool<float>.Shared.Return(buffer);
        }
    }

    public void AllDistances(ReadOnlySpan<float> rows, Span<float> distances)
    {
        int d = _d, n = rows.Length / d, k = _centred.Length / d, blockRows = BlockRows(n);
        float[] buffer = _origin is null ? [] : ArrayPool<float>.Shared.Rent(blockRows * d);
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
            if (buffer.Length > 0)
                ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc />
    public bool FindsNearest(int count) => _inner is ITopKScorer top && top.FindsNearest(count);

    /// <inheritdoc />
    /// <remarks>The inner scorer finds the nearest; their distances are then taken again from the differences and the
    /// count sorted by them, as <see cref="Assign"/> does for the nearest one.</remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]  // a prototype model's prediction calls it at once
    public void Nearest(ReadOnlySpan<float> rows, int count, Span<int> indices, Span<float> distances)
    {
        var inner = _inner as ITopKScorer ?? throw new InvalidOperationException("The inner scorer finds no nearest centroids.");
        int d = _d, n = rows.Length / d, blockRows = BlockRows(n);
        float[] buffer = _origin is null ? [] : ArrayPool<float>.Shared.Rent(blockRows * d);
        try
        {
            for (int first = 0; first < n; first += blockRows)
            {
                int rowsHere = Math.Min(blockRows, n - first);
                var block = Shifted(rows, first, rowsHere, buffer);
                var blockIndices = indices.Slice(first * count, rowsHere * count);
                var blockDistances = distances.Slice(first * count, rowsHere * count);
                inner.Nearest(block, count, blockIndices, blockDistances);
                for (int r = 0; r < rowsHere; r++)
                {
                    var row = block.Slice(r * d, d);
                    var rowIndices = blockIndices.Slice(r * count, count);
                    var rowDistances = blockDistances.Slice(r * count, count);
                    for (int i = 0; i < count; i++)
                        rowDistances[i] = VectorMath.SquaredDistance(row, _centred.AsSpan(rowIndices[i] * d, d));
                    TopKSelection.Sort(rowIndices, rowDistances);
                }
            }
        }
        finally
        {
            if (buffer.Length > 0)
                ArrayPool<float>.Shared.Return(buffer);
        }
    }

    private int BlockRows(int n) => _origin is null ? Math.Max(1, n) : Math.Max(1, Math.Min(n, BlockValues / _d));

    /// <summary>
    /// Rows [first, first + count) minus the shift, in <paramref name="buffer"/> (in place where there is no shift): slices
    /// on every core, as the inner scorer's work is (on one thread the shift took as long as a CPU assignment at d = 128).
    /// </summary>
    private unsafe ReadOnlySpan<float> Shifted(ReadOnlySpan<float> rows, int first, int count, float[] buffer)
    {
        int d = _d;
        if (_origin is null)
            return rows.Slice(first * d, count * d);
        var origin = _origin;
        fixed (float* from = rows.Slice(first * d, count * d))
        {
            // Spans cannot enter the lambda; the pointer is valid for the whole synchronous call.
            nint address = (nint)from;
            RowSlices.For(count, Threads, MinimumSliceRows, (start, rowsHere) =>
            {
                var slice = buffer.AsSpan(start * d, rowsHere * d);
                new ReadOnlySpan<float>((float*)address + (long)start * d, rowsHere * d).CopyTo(slice);
                ShiftedBatchSource.Subtract(slice, origin);
            });
        }
        return buffer.AsSpan(0, count * d);
    }

    /// <summary>Each row's squared distance to its labelled centred centroid, from the differences, slices on every core.</summary>
    private unsafe void DistancesToLabels(ReadOnlySpan<float> rows, ReadOnlySpan<int> labels, Span<float> distances)
    {
        int d = _d;
        var centred = _centred;
        fixed (float* rowPointer = rows)
        fixed (int* labelPointer = labels)
        fixed (float* distancePointer = distances)
        {
            nint rowsAddress = (nint)rowPointer, labelsAddress = (nint)labelPointer, distancesAddress = (nint)distancePointer;
            RowSlices.For(labels.Length, Threads, MinimumSliceRows, (start, rowsHere) =>
                VectorMath.SquaredDistancesToLabels(new ReadOnlySpan<float>((float*)rowsAddress + (long)start * d, rowsHere * d),
                    new ReadOnlySpan<int>((int*)labelsAddress + start, rowsHere), centred, d, new Span<float>((float*)distancesAddress + start, rowsHere)));
        }
    }

    /// <summary>Threads of the shift and of the distances from the differences.</summary>
    private static int Threads => Environment.ProcessorCount;

    /// <summary>The fewest rows worth a slice of their own for the shift and the distances (a few hundred KB of rows).</summary>
    private int MinimumSliceRows => Math.Max(64, (64 << 10) / _d);

    public void Dispose() => _inner.Dispose();
}
