using System.Runtime.CompilerServices;
using FlashKMeans.Primitives;
using FlashKMeans.Threading;

namespace FlashKMeans.Cpu;

/// <summary>
/// A CPU step's centroid sums taken chunk by chunk: each fixed chunk of rows (<see cref="ChunkedParallel.ChunkRows"/>)
/// adds its rows, in row order, into K × d partial sums while they are still in cache, and the partials are added into
/// the step's sums in chunk order. One pass over the rows instead of two, the same bits at any thread count and however
/// the source cuts its batches, and a partial small beside its chunk up to <see cref="MaxClusters"/>; above that the
/// binding groups the rows by cluster instead (<see cref="ClusterSums"/>).
/// </summary>
/// <param name="k">K.</param>
/// <param name="d">d.</param>
/// <param name="rowCount">Rows of the data: the last chunk ends with them.</param>
/// <param name="weights">The rows' weights, or null for unit weights.</param>
internal sealed class ChunkSums(int k, int d, long rowCount, float[]? weights)
{
    /// <summary>The most clusters summed this way.</summary>
    public const int MaxClusters = 256;

    /// <summary>The partial sums (K × d, then K weights) of the chunks begun but not yet added, by chunk number.</summary>
    private readonly Dictionary<int, double[]> _open = [];

    private readonly Stack<double[]> _free = new();

    /// <summary>Before a step: partials a step that threw part-way left are taken back.</summary>
    public void Reset()
    {
        foreach (var unfinished in _open.Values)
            _free.Push(unfinished);
        _open.Clear();
    }

    /// <summary>Zeroed partial sums for every chunk that rows [first, first + count) touch and that has none yet.</summary>
    public void Open(long first, int count)
    {
        int from = (int)(first / ChunkedParallel.ChunkRows), to = (int)((first + count - 1) / ChunkedParallel.ChunkRows);
        for (int chunk = from; chunk <= to; chunk++)
        {
            if (_open.ContainsKey(chunk))
                continue;  // begun by the previous slice, which a batch boundary cut
            if (!_free.TryPop(out var sums))
                sums = new double[k * (d + 1)];
            Array.Clear(sums);
            _open[chunk] = sums;
        }
    }

    /// <summary>
    /// Adds rows of chunk <paramref name="chunk"/>, from row <paramref name="firstRow"/> of the data on, in row order, into
    /// its partial sums (every chunk on its own thread; a chunk's rows in order, in one call or several).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(int chunk, ReadOnlySpan<float> rows, int firstRow, ReadOnlySpan<int> labels)
    {
        var partial = _open[chunk];
        int weightsAt = k * d;
        for (int r = 0; r < labels.Length; r++)
        {
            double w = weights is null ? 1 : weights[firstRow + r];
            if (w == 0)
                continue;
            int c = labels[r];
            partial[weightsAt + c] += w;
            VectorMath.AddScaled(partial.AsSpan(c * d, d), rows.Slice(r * d, d), w);
        }
    }

    /// <summary>
    /// Adds the partial sums of every chunk that ends by row <paramref name="end"/> (or ends the data) into
    /// <paramref name="sums"/> (K × d) and <paramref name="clusterWeights"/> (K), in chunk order.
    /// </summary>
    public void Close(long end, double[] sums, double[] clusterWeights)
    {
        foreach (int chunk in _open.Keys.Order().ToArray())
        {
            if ((long)(chunk + 1) * ChunkedParallel.ChunkRows > end && end < rowCount)
                break;
            var partial = _open[chunk];
            System.Numerics.Tensors.TensorPrimitives.Add(sums, partial.AsSpan(0, k * d), sums);
            System.Numerics.Tensors.TensorPrimitives.Add(clusterWeights, partial.AsSpan(k * d, k), clusterWeights);
            _open.Remove(chunk);
            _free.Push(partial);
        }
    }
}
