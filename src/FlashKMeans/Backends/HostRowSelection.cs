using FlashKMeans.Engine;
using FlashKMeans.Primitives;

namespace FlashKMeans.Backends;

/// <summary>
/// The host-side row choices of seeding and empty-cluster repair, shared by every binding (CPU, CUDA
/// in memory, CUDA streamed). Each binding brings its per-row values to the host in row order and
/// calls these, so the choices (the order of the floating-point sums, the tie-breaks, the random
/// stream) are the same code in all of them and cannot drift apart: a deterministic fit picks the same
/// rows whichever backend runs it.
/// </summary>
/// <remarks>
/// <c>weights</c> is the fit's per-row weights on the host, indexed by global row; null when every
/// row weighs 1. A row's potential (mass) is <c>(double)weight × distance</c>.
/// </remarks>
internal static class HostRowSelection
{
    /// <summary>Copies rows [<c>firstRow</c>, <c>firstRow</c> + destination length) of a per-row value into <c>destination</c>.</summary>
    internal delegate void RowReader(long firstRow, Span<float> destination);

    /// <summary>A binding's seeding distances, or the error of asking for them before the first seed was added.</summary>
    public static float[] Initialised(float[]? seedDistances) =>
        seedDistances ?? throw new InvalidOperationException("Seed distances are not initialised.");

    /// <summary>
    /// For each of <paramref name="seedCount"/> seeds, the total weight of the rows whose nearest seed it is
    /// (<paramref name="owners"/>: each row's seed, −1 for none), summed in row order.
    /// </summary>
    public static void SeedWeights(int[]? owners, float[]? weights, int seedCount, Span<double> destination)
    {
        if (owners is null)
            throw new InvalidOperationException("Seed distances are not initialised.");
        if (destination.Length != seedCount)
            throw new ArgumentException($"{seedCount} seeds have been added, not {destination.Length}.", nameof(destination));
        destination.Clear();
        for (long row = 0; row < owners.Length; row++)
        {
            if (owners[row] >= 0)
                destination[owners[row]] += weights is null ? 1.0 : weights[row];
        }
    }

    /// <summary>
    /// The <paramref name="count"/> assigned rows (label ≥ 0) of positive weight farthest from their
    /// centroids, farthest first; on equal distances the lower row comes first.
    /// </summary>
    public static IReadOnlyList<FarRow> FarthestRows(ReadOnlySpan<int> labels, ReadOnlySpan<float> distances, float[]? weights, int count)
    {
        // A min-heap of the best 'count' rows, ordered so that the root is the least far (and, on ties, the higher row).
        var heap = new PriorityQueue<FarRow, (float Distance, long NegativeRow)>();
        for (int row = 0; row < labels.Length; row++)
        {
            if (labels[row] < 0 || !(Weight(weights, row) > 0))
                continue;
            var key = (distances[row], -(long)row);
            if (heap.Count < count)
                heap.Enqueue(new FarRow(row, labels[row], distances[row]), key);
            else if (heap.TryPeek(out _, out var least) && Compare(key, least) > 0)
                heap.EnqueueDequeue(new FarRow(row, labels[row], distances[row]), key);
        }
        var result = new List<FarRow>(heap.Count);
        while (heap.Count > 0)
            result.Add(heap.Dequeue());
        result.Reverse();
        return result;

        static int Compare((float Distance, long NegativeRow) a, (float Distance, long NegativeRow) b)
        {
            int byDistance = a.Distance.CompareTo(b.Distance);
            return byDistance != 0 ? byDistance : a.NegativeRow.CompareTo(b.NegativeRow);
        }
    }

    /// <summary>
    /// For each of <paramref name="sortedTargets"/> (ascending), the first row at which the running sum of
    /// potential, walked in row order over all rows, exceeds it; targets the walk does not reach
    /// (rounding) take the last row with positive potential (−1 when there is none).
    /// </summary>
    public static void RowsAtCumulativePotential(ReadOnlySpan<float> distances, float[]? weights,
        ReadOnlySpan<double> sortedTargets, Span<long> rows)
    {
        int next = 0;
        WalkRows(distances, weights, 0, 0, sortedTargets, rows, ref next);
        if (next < sortedTargets.Length)
            FillRemaining(sortedTargets, rows, next, LastPositiveRow(distances, weights));
    }

    /// <summary>
    /// <see cref="RowsAtCumulativePotential"/> for per-row values that are not on the host: the caller
    /// supplies the potential of each of <paramref name="chunkTotals"/>.Length chunks of
    /// <paramref name="rowsPerChunk"/> rows (the last may be shorter), and only the chunks that can hold a
    /// target are read, through <paramref name="read"/>, and walked row by row with <see cref="WalkRows"/>.
    /// Each chunk's walk starts from the sum of the totals before it. Returns the index of the first target
    /// left unassigned; the caller gives those <see cref="FillRemaining"/> with its last positive row.
    /// </summary>
    public static int WalkChunks(ReadOnlySpan<double> chunkTotals, long rowsPerChunk, long rowCount, float[]? weights,
        ReadOnlySpan<double> sortedTargets, Span<long> rows, RowReader read)
    {
        var values = new float[rowsPerChunk];
        int t = 0;
        double before = 0;
        for (int c = 0; c < chunkTotals.Length && t < sortedTargets.Length; c++)
        {
            double after = before + chunkTotals[c];
            // Rounding differs between the chunk totals and the row walk; a margin keeps borderline chunks in.
            if (after * (1 + 1e-9) + 1e-300 < sortedTargets[t] && chunkTotals[c] >= 0)
            {
                before = after;
                continue;
            }
            long lo = c * rowsPerChunk;
            int count = (int)Math.Min(rowsPerChunk, rowCount - lo);
            if (count <= 0)
                break;
            read(lo, values.AsSpan(0, count));
            WalkRows(values.AsSpan(0, count), weights, lo, before, sortedTargets, rows, ref t);
            before = after;
        }
        return t;
    }

    /// <summary>
    /// Walks rows <paramref name="firstRow"/> onwards (their values in <paramref name="distances"/>), adding
    /// each positive potential to <paramref name="running"/>; every target from <paramref name="next"/> on
    /// that the running sum exceeds gets that row. Stops when every target has a row. Returns the running sum.
    /// </summary>
    public static double WalkRows(ReadOnlySpan<float> distances, float[]? weights, long firstRow, double running,
        ReadOnlySpan<double> sortedTargets, Span<long> rows, ref int next)
    {
        int t = next;
        for (int i = 0; i < distances.Length && t < sortedTargets.Length; i++)
        {
            double mass = (double)Weight(weights, firstRow + i) * distances[i];
            if (!(mass > 0))
                continue;
            running += mass;
            while (t < sortedTargets.Length && running > sortedTargets[t])
                rows[t++] = firstRow + i;
        }
        next = t;
        return running;
    }

    /// <summary>Gives the targets from <paramref name="next"/> on <paramref name="row"/>.</summary>
    public static void FillRemaining(ReadOnlySpan<double> sortedTargets, Span<long> rows, int next, long row)
    {
        // Rounding can leave the last targets just above the running total: they take the last row with mass.
        for (int t = next; t < sortedTargets.Length; t++)
            rows[t] = row;
    }

    /// <summary>The last row with positive potential, or −1.</summary>
    public static long LastPositiveRow(ReadOnlySpan<float> distances, float[]? weights)
    {
        for (int row = distances.Length - 1; row >= 0; row--)
            if ((double)Weight(weights, row) * distances[row] > 0)
                return row;
        return -1;
    }

    /// <summary>
    /// Rows drawn independently, each with probability <paramref name="scale"/> × potential (k-means‖
    /// oversampling), in row order; row i's draw is <see cref="CounterRandom.Uniform"/>(seed, i), so the
    /// sample does not depend on how rows are split or threaded.
    /// </summary>
    public static List<long> SampleByPotential(ReadOnlySpan<float> distances, float[]? weights, double scale, ulong seed)
    {
        var chosen = new List<long>();
        for (int row = 0; row < distances.Length; row++)
        {
            double p = scale * Weight(weights, row) * distances[row];
            if (p > 0 && CounterRandom.Uniform(seed, (ulong)row) < p)
                chosen.Add(row);
        }
        return chosen;
    }

    private static float Weight(float[]? weights, long row) => weights is null ? 1f : weights[row];
}
