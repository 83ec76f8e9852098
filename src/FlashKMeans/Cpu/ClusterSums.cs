using System.Runtime.CompilerServices;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cpu;

/// <summary>
/// Each cluster's Σ w·x (and Σ w) over the rows labelled with it, on every thread. Every cluster's rows are added in row
/// order, as one thread adds them, so the sums have the same bits at any thread count: the threads split the clusters,
/// never a cluster's rows.
/// </summary>
internal static class ClusterSums
{
    /// <summary>Row values (n × d) from which the sums are worth spreading over threads.</summary>
    private const long ParallelValues = 1 << 18;

    /// <summary>Adds the rows into their clusters' sums.</summary>
    /// <param name="rows">n × d values.</param>
    /// <param name="d">Values per row.</param>
    /// <param name="weights">n weights, or empty for unit weights; rows of weight 0 add nothing.</param>
    /// <param name="labels">n labels in [0, K).</param>
    /// <param name="sums">K × d sums, added to.</param>
    /// <param name="clusterWeights">K weights, added to; null to leave them out.</param>
    /// <param name="threads">Threads to use.</param>
    public static unsafe void Add(ReadOnlySpan<float> rows, int d, ReadOnlySpan<float> weights, ReadOnlySpan<int> labels, double[] sums,
        double[]? clusterWeights, int threads)
    {
        int n = labels.Length, k = sums.Length / d;
        if (threads <= 1 || (long)n * d < ParallelValues)
        {
            AddInOrder(rows, d, weights, labels, sums, clusterWeights);
            return;
        }
        var (start, members) = LabelGroups.ByLabel(labels, k);
        // Pieces of about equal row counts, cut at cluster boundaries.
        int pieces = Math.Min(k, threads * 4);
        var cuts = new int[pieces + 1];
        for (int p = 1, c = 0; p <= pieces; p++)
        {
            long target = (long)n * p / pieces;
            while (c < k && start[c] < target)
                c++;
            cuts[p] = p == pieces ? k : c;
        }
        fixed (float* rowPointer = rows)
        fixed (float* weightPointer = weights)
        {
            nint rowAddress = (nint)rowPointer, weightAddress = (nint)weightPointer;
            int rowValues = rows.Length, weightCount = weights.Length;
            Threading.ParallelWork.For(0, pieces, new ParallelOptions { MaxDegreeOfParallelism = threads }, piece =>
            {
                AddClusters(new ReadOnlySpan<float>((float*)rowAddress, rowValues), d, new ReadOnlySpan<float>((float*)weightAddress, weightCount),
                    start, members, cuts[piece], cuts[piece + 1], sums, clusterWeights);
            });
        }
    }

    // The loops are compiled fully optimised at once: a fit's first steps would otherwise run them unoptimised.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddInOrder(ReadOnlySpan<float> rows, int d, ReadOnlySpan<float> weights, ReadOnlySpan<int> labels, double[] sums,
        double[]? clusterWeights)
    {
        for (int r = 0; r < labels.Length; r++)
            AddRow(rows, d, weights, r, labels[r], sums, clusterWeights);
    }

    /// <summary>The rows of clusters [<paramref name="from"/>, <paramref name="to"/>), each cluster's in row order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddClusters(ReadOnlySpan<float> rows, int d, ReadOnlySpan<float> weights, int[] start, int[] members, int from, int to,
        double[] sums, double[]? clusterWeights)
    {
        for (int c = from; c < to; c++)
        {
            for (int i = start[c]; i < start[c + 1]; i++)
                AddRow(rows, d, weights, members[i], c, sums, clusterWeights);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow(ReadOnlySpan<float> rows, int d, ReadOnlySpan<float> weights, int r, int c, double[] sums, double[]? clusterWeights)
    {
        double w = weights.IsEmpty ? 1 : weights[r];
        if (w == 0)
            return;
        if (clusterWeights is not null)
            clusterWeights[c] += w;
        VectorMath.AddScaled(sums.AsSpan(c * d, d), rows.Slice(r * d, d), w);
    }
}
