using ILGPU;

namespace FlashKMeans.ILGPU;

/// <summary>
/// The ILGPU backend's kernels besides the assignment (<see cref="TiledAssignKernel"/>), written in C# and compiled by
/// ILGPU for whichever accelerator runs them. Seeding distances are sums of squared differences (exact to float32
/// wherever the data lies, no cancellation), one thread per row; sums are 64-bit fixed point
/// (<see cref="Backends.FixedPointSums"/>), so atomics in any order give the same bits. Float32 arithmetic only: some
/// OpenCL devices have no float64.
/// </summary>
internal static class IlgpuKernels
{
    /// <summary>Rows per cluster: the first step of grouping rows by label.</summary>
    public static void CountLabels(Index1D row, ArrayView<int> labels, ArrayView<int> counts) => Atomic.Add(ref counts[labels[row]], 1);

    /// <summary>
    /// Writes each row's index into its cluster's segment of <paramref name="order"/>; <paramref name="cursors"/> start at
    /// the segments' offsets. Within a segment the order is whatever the atomics give: the fixed-point sums that read it
    /// are the same in any order.
    /// </summary>
    public static void PlaceRows(Index1D row, ArrayView<int> labels, ArrayView<int> cursors, ArrayView<int> order) =>
        order[Atomic.Add(ref cursors[labels[row]], 1)] = row;

    /// <summary>
    /// Item i takes feature i mod d of positions [span·(i / d), span·(i / d) + span) of the rows grouped by cluster, adds
    /// each row's scaled weighted feature (and, for feature 0, its scaled weight) while the cluster stays the same, and adds
    /// each cluster's run to its fixed-point sums with one atomic. Neighbouring items read neighbouring features of a row,
    /// and a large cluster is shared by many items. Every row adds exactly what a one-atomic-per-feature update would,
    /// as integers, so the sums have the same bits in any order.
    /// </summary>
    public static void SumGroupedRows(Index1D item, ArrayView<float> rows, ArrayView<float> weights, ArrayView<int> labels, ArrayView<int> order,
        int n, int d, int span, float scale, float weightScale, ArrayView<long> sums, ArrayView<long> weightSums)
    {
        int f = item.X % d;
        int begin = item.X / d * span;
        int end = begin + span < n ? begin + span : n;
        int current = -1;
        long sum = 0, weightSum = 0;
        for (int p = begin; p < end; p++)
        {
            int r = order[p];
            int c = labels[r];
            if (c != current)
            {
                if (current >= 0)
                    Flush(current, f, d, sum, weightSum, sums, weightSums);
                current = c;
                sum = 0;
                weightSum = 0;
            }
            float w = weights[r];
            if (w == 0)
                continue;
            sum += Round(rows[(long)r * d + f] * w * scale);
            if (f == 0)
                weightSum += Round(w * weightScale);
        }
        if (current >= 0)
            Flush(current, f, d, sum, weightSum, sums, weightSums);
    }

    private static void Flush(int c, int f, int d, long sum, long weightSum, ArrayView<long> sums, ArrayView<long> weightSums)
    {
        Atomic.Add(ref sums[(long)c * d + f], sum);
        if (f == 0)
            Atomic.Add(ref weightSums[c], weightSum);
    }

    /// <summary>Lowers each row's distance to its nearest seed with <paramref name="count"/> new seeds (numbered from <paramref name="firstSeed"/>).</summary>
    public static void LowerSeedDistances(Index1D row, ArrayView<float> rows, ArrayView<float> seeds, int d, int count, int firstSeed,
        ArrayView<float> seedDistances, ArrayView<int> owners)
    {
        long x = (long)row.X * d;
        float current = seedDistances[row];
        int owner = owners[row];
        for (int s = 0; s < count; s++)
        {
            float sum = SquaredDistance(rows, x, seeds, (long)s * d, d);
            if (sum < current)
            {
                current = sum;
                owner = firstSeed + s;
            }
        }
        seedDistances[row] = current;
        owners[row] = owner;
    }

    /// <summary>For each row and candidate: min(D(x), ‖x − c‖²), row-major (N × count).</summary>
    public static void CandidateDistances(Index1D row, ArrayView<float> rows, ArrayView<float> candidates, int d, int count,
        ArrayView<float> seedDistances, ArrayView<float> output)
    {
        long x = (long)row.X * d;
        for (int s = 0; s < count; s++)
        {
            float sum = SquaredDistance(rows, x, candidates, (long)s * d, d);
            output[(long)row.X * count + s] = sum < seedDistances[row] ? sum : seedDistances[row];
        }
    }

    /// <summary>‖row − other‖² over d features, from the differences, in feature order.</summary>
    internal static float SquaredDistance(ArrayView<float> rows, long x, ArrayView<float> others, long at, int d)
    {
        float sum = 0;
        for (int f = 0; f < d; f++)
        {
            float diff = rows[x + f] - others[at + f];
            sum += diff * diff;
        }
        return sum;
    }

    /// <summary>To the nearest integer, halves away from zero: plain arithmetic, the same on every accelerator.</summary>
    private static long Round(float value) => (long)(value + (value >= 0 ? 0.5f : -0.5f));
}
