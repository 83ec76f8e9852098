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
    /// <summary>Adds each row's scaled weighted features, and its scaled weight, to its cluster's fixed-point sums.</summary>
    public static void Accumulate(Index1D row, ArrayView<float> rows, ArrayView<float> weights, ArrayView<int> labels, int d,
        float scale, float weightScale, ArrayView<long> sums, ArrayView<long> weightSums)
    {
        float w = weights[row];
        if (w == 0)
            return;
        int c = labels[row];
        long x = (long)row.X * d, at = (long)c * d;
        for (int f = 0; f < d; f++)
            Atomic.Add(ref sums[at + f], Round(rows[x + f] * w * scale));
        Atomic.Add(ref weightSums[c], Round(w * weightScale));
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
