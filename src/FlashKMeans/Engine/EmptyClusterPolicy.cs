using FlashKMeans.Backends;
using FlashKMeans.Primitives;

namespace FlashKMeans.Engine;

/// <summary>
/// Re-seeds empty clusters deterministically: each empty cluster, in index order, takes the row farthest
/// from its centroid (ties to the lower row), and that row's weight is taken out of the cluster it leaves,
/// whose centroid, a mean, is corrected accordingly (a median is left). A row is only taken from a cluster that keeps some weight, and
/// only if it differs from its centroid: a row sitting on its centroid (duplicate rows,
/// K above the number of distinct rows) would only make a copy of that centroid, leave the cluster empty
/// again on the next step and keep the fit from ever converging, so such clusters are left empty.
/// </summary>
internal static class EmptyClusterPolicy
{
    /// <param name="binding">The binding after its step.</param>
    /// <param name="weights">The step's cluster weights (K); updated in place as rows move.</param>
    /// <param name="normalize">Whether centroids live on the unit sphere (cosine).</param>
    /// <param name="correctDonor">Take the row out of its old cluster's mean; false for medians (L1), which the row
    /// leaving cannot make costlier for the rows that stay.</param>
    /// <param name="cancellationToken">Stops the gather.</param>
    /// <returns>How many clusters were re-seeded.</returns>
    public static int Reseed(IKMeansDataBinding binding, Span<double> weights, bool normalize, bool correctDonor, CancellationToken cancellationToken)
    {
        int k = binding.NumberOfClusters, d = binding.Dimension;
        var empty = new List<int>();
        for (int c = 0; c < k; c++)
        {
            if (!(weights[c] > 0))
                empty.Add(c);
        }
        if (empty.Count == 0)
            return 0;

        // Ask for spare candidates: some may sit in clusters too light to give a row away.
        int wanted = (int)Math.Min(binding.RowCount, 2L * empty.Count + 16);
        // Farthest first: rows sitting on their centroid come last and are never taken, so drop them before the
        // gather, which costs a pass over the data when K exceeds the distinct rows and it would find nothing.
        var far = binding.FindFarthestRows(wanted, cancellationToken).Where(row => row.Distance > 0).ToList();
        if (far.Count == 0)
            return 0;
        var rows = new long[far.Count];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = far[i].Row;
        var vectors = new float[rows.Length * d];
        var rowWeights = new float[rows.Length];
        binding.GatherRows(rows, vectors, rowWeights, cancellationToken);

        var centroids = new float[k * d];
        binding.GetCentroids(centroids);
        int reseeded = 0, next = 0;
        foreach (int target in empty)
        {
            while (next < far.Count)
            {
                var candidate = far[next];
                float w = rowWeights[next];
                int donor = candidate.Label;
                var x = vectors.AsSpan(next * d, d);
                next++;
                var donorCentroid = centroids.AsSpan(donor * d, d);
                // The kernel's rounding can report a small distance for a row that equals its centroid: check exactly.
                if (!(weights[donor] - w > 0) || !(VectorMath.SquaredDistanceDouble(x, donorCentroid) > 0))
                    continue;
                double remaining = weights[donor] - w;
                if (correctDonor)
                {
                    for (int f = 0; f < d; f++)
                        donorCentroid[f] = (float)((weights[donor] * donorCentroid[f] - (double)w * x[f]) / remaining);
                }
                if (normalize)
                    VectorMath.NormalizeRows(donorCentroid, d);
                weights[donor] = remaining;
                x.CopyTo(centroids.AsSpan(target * d, d));
                weights[target] = w;
                reseeded++;
                break;
            }
        }
        if (reseeded > 0)
            binding.SetCentroids(centroids);
        return reseeded;
    }
}
