using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

// The reductions of segmented_sum.cu: weighted sums of distances in a fixed order (inertia, seeding potentials).
internal sealed partial class CudaSession
{
    /// <summary>Enqueues Σ w·v (fp64, fixed reduction tree) into <paramref name="output"/> (one double).</summary>
    public void WeightedSum(ulong values, ulong weights, long n, ulong output) =>
        WeightedSums(values, weights, n, 1, _partials.Pointer, output);

    /// <summary>
    /// Enqueues Σ w·v of each of <paramref name="batches"/> problems of <paramref name="n"/> values laid out one after
    /// another (weights likewise, or 0 for unit weights) into <paramref name="output"/> (one double per problem), through
    /// <paramref name="partials"/> (<see cref="SumChunksFor"/>(n) doubles per problem, at most <see cref="SumChunks"/>). Each problem's sum is the one
    /// <see cref="WeightedSum"/> gives for it alone.
    /// </summary>
    public void WeightedSums(ulong values, ulong weights, long n, int batches, ulong partials, ulong output)
    {
        var inertia = new StepInertia(values, partials, output, n, batches);
        WeightedSumPartials(inertia, weights);
        var final = new KernelArgs().Add(partials).Add(output).Add(inertia.Chunks);
        Kernels.Get("segmented_sum", "segmented_sum_final").Launch(Stream, (batches, 1, 1), 256, 0, final);
    }

    /// <summary>The first pass of <see cref="WeightedSums"/> over a step's distances; the step's finalize does the second.</summary>
    public void WeightedSumPartials(StepInertia inertia, ulong weights)
    {
        var partial = new KernelArgs().Add(inertia.Distances).Add(weights).Add(inertia.Partials).Add(inertia.Rows);
        Kernels.Get("segmented_sum", "segmented_sum_partial").Launch(Stream, (inertia.Chunks, inertia.Problems, 1), 256, 0, partial);
    }

    /// <summary>
    /// Reduces a finished assignment of <paramref name="n"/> rows (device labels and distances) to its inertia
    /// and, when <paramref name="clusterWeights"/> is not empty, the weight of each of its <paramref name="m"/>
    /// clusters. Weighted sums are exact fixed point (scale <paramref name="weightScale"/>) whatever the update
    /// mode: evaluation is rare and should reproduce. Both the resident and the streamed binding end their
    /// evaluations here, so they agree. <paramref name="weights"/> is 0 for unit weights.
    /// </summary>
    public double ReduceAssignment(ulong labels, ulong distances, ulong weights, long n, int m, float weightScale, Span<double> clusterWeights)
    {
        double inertia = WeightedTotal(distances, weights, n);
        if (!clusterWeights.IsEmpty)
        {
            if (weights == 0)
            {
                using var counts = new DeviceBuffer<int>(Context, m);
                counts.Clear(Stream);
                Histogram(labels, counts.Pointer, n, m);
                var host = new int[m];
                counts.CopyTo(host, 0, Stream);
                for (int c = 0; c < m; c++)
                    clusterWeights[c] = host[c];
            }
            else
            {
                using var sums = new DeviceBuffer<long>(Context, m);
                sums.Clear(Stream);
                ClusterWeights(weights, labels, sums.Pointer, n, m, weightScale);
                var host = new long[m];
                sums.CopyTo(host, 0, Stream);
                for (int c = 0; c < m; c++)
                    clusterWeights[c] = host[c] / (double)weightScale;
            }
        }
        return inertia;
    }

    /// <summary>Σ w·v over <paramref name="n"/> device values, read back (<paramref name="weights"/> 0: unit weights).</summary>
    public double WeightedTotal(ulong values, ulong weights, long n)
    {
        using var result = new DeviceBuffer<double>(Context, 1);
        WeightedSum(values, weights, n, result.Pointer);
        Span<double> total = stackalloc double[1];
        result.CopyTo(total, 0, Stream);
        return total[0];
    }

    /// <summary>Partial sums of w·v over <paramref name="chunks"/> equal row ranges (see segmented_sum.cu).</summary>
    public void ChunkSums(ulong values, ulong weights, long n, int chunks, ulong partials)
    {
        var args = new KernelArgs().Add(values).Add(weights).Add(partials).Add(n);
        Kernels.Get("segmented_sum", "segmented_sum_partial").Launch(Stream, (chunks, 1, 1), 256, 0, args);
    }

    /// <summary>For each of m candidates, Σ w·min(seed, dist[:, j]) into <paramref name="output"/> (m doubles).</summary>
    public void CandidatePotentials(ulong distances, ulong seed, ulong weights, long n, int m, ulong output)
    {
        var partials = new DeviceBuffer<double>(Context, (long)SumChunks * m);
        try
        {
            var args = new KernelArgs().Add(distances).Add(seed).Add(weights).Add(partials.Pointer).Add(n).Add(m);
            int chunks = SumChunksFor(n);
            Kernels.Get("segmented_sum", "candidate_potential_partial").Launch(Stream, (chunks, m, 1), 256, 0, args);
            var final = new KernelArgs().Add(partials.Pointer).Add(output).Add(chunks);
            Kernels.Get("segmented_sum", "segmented_sum_final").Launch(Stream, (m, 1, 1), 256, 0, final);
            Stream.Synchronize();
        }
        finally
        {
            partials.Dispose();
        }
    }
}
