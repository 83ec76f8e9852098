using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace FlashKMeans.Cpu;

/// <summary>Splits centroids into groups of at most W for <see cref="YinyangPruning"/>.</summary>
internal static class CentroidGrouping
{
    /// <summary>
    /// Groups of at most W nearby centroids: a few rounds of k-means over the centroids where each group
    /// takes its nearest centroids until full. Any grouping is exact; a good one only prunes more.
    /// Deterministic: it depends on the centroids alone.
    /// </summary>
    /// <param name="centroids">K × d, row-major.</param>
    /// <param name="dimension">d.</param>
    /// <param name="width">W, the group size.</param>
    /// <param name="groupOf">K entries: each centroid's group, of ⌈K/W⌉.</param>
    /// <param name="order">⌈K/W⌉·W slots, group after group: the members in index order, then −1 for room left.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Build(ReadOnlySpan<float> centroids, int dimension, int width, int[] groupOf, int[] order)
    {
        int d = dimension, k = centroids.Length / d, w = width, groups = (k + w - 1) / w;
        int candidates = Math.Min(groups, 8);
        var centres = new float[groups * d];
        for (int g = 0; g < groups; g++)
            centroids.Slice((int)((long)g * k / groups) * d, d).CopyTo(centres.AsSpan(g * d, d));
        var keys = new float[k * candidates];
        var pairs = new int[k * candidates];
        var candidateGroup = new int[k * candidates];
        var size = new int[groups];
        var sums = new double[groups * d];
        const int Rounds = 5;
        const int Block = 256;
        var block = new float[Block * groups];
        for (int round = 0; round < Rounds; round++)
        {
            var packedCentres = PackedCentroids.Pack(centres, d, w);
            for (int c = 0; c < k; c++)
            {
                if (c % Block == 0)
                {
                    int rowsHere = Math.Min(Block, k - c);
                    FusedAssignKernel.AllDistances(centroids.Slice(c * d, rowsHere * d), packedCentres, block.AsSpan(0, rowsHere * groups));
                }
                var squares = block.AsSpan(c % Block * groups, groups);
                // The nearest few groups by insertion into a short sorted list (ties keep the lower group).
                var nearKeys = keys.AsSpan(c * candidates, candidates);
                var nearGroups = candidateGroup.AsSpan(c * candidates, candidates);
                nearKeys.Fill(float.PositiveInfinity);
                nearGroups.Fill(int.MaxValue);
                for (int g = 0; g < groups; g++)
                {
                    float distance = squares[g];
                    if (!(distance < nearKeys[candidates - 1]))
                        continue;
                    int at = candidates - 1;
                    while (at > 0 && distance < nearKeys[at - 1])
                    {
                        nearKeys[at] = nearKeys[at - 1];
                        nearGroups[at] = nearGroups[at - 1];
                        at--;
                    }
                    nearKeys[at] = distance;
                    nearGroups[at] = g;
                }
                for (int j = 0; j < candidates; j++)
                    pairs[c * candidates + j] = c * candidates + j;
            }
            Array.Sort(keys.ToArray(), pairs);
            Array.Fill(groupOf, -1);
            Array.Clear(size);
            foreach (int pair in pairs)
            {
                int c = pair / candidates, g = candidateGroup[pair];
                if (g < groups && groupOf[c] < 0 && size[g] < w)
                {
                    groupOf[c] = g;
                    size[g]++;
                }
            }
            for (int c = 0; c < k; c++)
            {
                if (groupOf[c] >= 0)
                    continue;
                // Every nearby group is full: take the nearest with room.
                var x = centroids.Slice(c * d, d);
                int best = -1;
                float bestDistance = float.PositiveInfinity;
                for (int g = 0; g < groups; g++)
                {
                    if (size[g] >= w)
                        continue;
                    float distance = TensorPrimitives.Distance(x, centres.AsSpan(g * d, d));
                    if (best < 0 || distance < bestDistance)
                    {
                        best = g;
                        bestDistance = distance;
                    }
                }
                groupOf[c] = best;
                size[best]++;
            }
            if (round == Rounds - 1)
                break;
            Array.Clear(sums);
            for (int c = 0; c < k; c++)
            {
                var x = centroids.Slice(c * d, d);
                var sum = sums.AsSpan(groupOf[c] * d, d);
                for (int f = 0; f < d; f++)
                    sum[f] += x[f];
            }
            for (int g = 0; g < groups; g++)
            {
                if (size[g] == 0)
                    continue;
                for (int f = 0; f < d; f++)
                    centres[g * d + f] = (float)(sums[g * d + f] / size[g]);
            }
        }

        Array.Fill(order, -1);
        Array.Clear(size);
        for (int c = 0; c < k; c++)
        {
            int g = groupOf[c];
            order[g * w + size[g]++] = c;
        }
    }
}
