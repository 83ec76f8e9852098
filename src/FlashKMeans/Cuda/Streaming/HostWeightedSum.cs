namespace FlashKMeans.Cuda.Streaming;

/// <summary>
/// Σ w·v over host values in exactly the order of the GPU's <c>segmented_sum_partial</c> and
/// <c>segmented_sum_final</c> (Kernels/segmented_sum.cu, through <see cref="CudaSession.WeightedSum"/>),
/// so that a fit whose distances live on the host (<see cref="LabelPlacement.Host"/>) reports the inertia a
/// device-side reduction reports, bit for bit.
/// <para>
/// The kernels: chunk c of <see cref="CudaSession.SumChunksFor"/>(n) covers [c·per, (c+1)·per) with
/// per = ⌈n / chunks⌉; in it, thread t of 256 adds rows t, t + 256, … in row order into an fp64 starting at
/// 0; the block then sums its 256 values with <c>block_sum</c> (a butterfly over each warp's 32 lanes, then
/// lane 0 of every warp added in warp order to 0). The final pass feeds the chunk totals to one block the
/// same way. fp64 addition commutes exactly, and an fp32 × fp32 product is exact in fp64 (so a fused
/// multiply-add on the GPU rounds as the host's multiply then add), which is what makes the replica exact.
/// </para>
/// </summary>
internal static unsafe class HostWeightedSum
{
    private const int Threads = 256;   // SUM_THREADS
    private const int Warp = 32;

    /// <summary>Σ w·v (w = 1 where <paramref name="weights"/> is null) over <paramref name="n"/> values.</summary>
    /// <param name="values">n values.</param>
    /// <param name="weights">n weights, or null.</param>
    /// <param name="n">Values.</param>
    /// <param name="threads">Host threads (the result does not depend on them).</param>
    public static double Sum(float* values, float* weights, long n, int threads)
    {
        int chunks = CudaSession.SumChunksFor(n);
        long per = (n + chunks - 1) / chunks;
        var partials = new double[chunks];
        nint v = (nint)values, w = (nint)weights;
        Threading.ParallelWork.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, c =>
        {
            Span<double> lanes = stackalloc double[Threads];
            lanes.Clear();
            long lo = per * c, hi = Math.Min(n, lo + per);
            float* pv = (float*)v, pw = (float*)w;
            int lane = 0;
            for (long i = lo; i < hi; i++)
            {
                lanes[lane] += pw != null ? (double)pw[i] * pv[i] : pv[i];
                if (++lane == Threads)
                    lane = 0;
            }
            partials[c] = BlockSum(lanes);
        });
        Span<double> final = stackalloc double[Threads];
        final.Clear();
        for (int t = 0; t < chunks; t++)
            final[t % Threads] += partials[t];  // thread t mod 256 of the final block, in chunk order
        return BlockSum(final);
    }

    /// <summary>The value thread 0 gets from <c>block_sum</c> when thread t holds <paramref name="lanes"/>[t].</summary>
    internal static double BlockSum(Span<double> lanes)
    {
        Span<double> next = stackalloc double[Warp];
        double total = 0.0;
        for (int w = 0; w < Threads / Warp; w++)
        {
            var warp = lanes.Slice(w * Warp, Warp);
            // v += shfl_xor(v, o) for o = 16, 8, 4, 2, 1: every lane adds its partner's value of the round before.
            for (int o = Warp / 2; o > 0; o >>= 1)
            {
                for (int l = 0; l < Warp; l++)
                    next[l] = warp[l] + warp[l ^ o];
                next.CopyTo(warp);
            }
            total += warp[0];
        }
        return total;
    }
}
