using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Constrained;

/// <summary>A size-constrained fit: the model, and the training rows' labels, which meet the limits.</summary>
/// <param name="Model">The centroids (weighted means of their rows) and the fit's summary; its <c>Predict</c> gives nearest centroids, which need not meet the limits.</param>
/// <param name="Labels">Each training row's cluster, every cluster's row count within the limits.</param>
public sealed record SizeConstrainedResult(KMeansModel Model, int[] Labels);

/// <summary>
/// k-means with a minimum and a maximum number of rows per cluster, met exactly (Bradley, Bennett and Demiriz's
/// constrained k-means, with both bounds): it starts from an ordinary fit's centroids, then alternates the optimal
/// assignment under the limits (<see cref="Assign"/>, a transportation problem solved exactly) with the weighted means
/// of the assigned rows, until no label changes or the iteration limit. Weighted rows count as one row each in the
/// limits and by their weight in the objective. On the CPU, with the N × K costs in memory, float64.
/// </summary>
public static class SizeConstrainedKMeans
{
    /// <summary>The most N × K costs held at once (2 GiB of float64).</summary>
    public const long MaximumCosts = 1L << 28;

    /// <summary>Fits <paramref name="data"/> (N × <paramref name="dimension"/>) under <paramref name="limits"/>.</summary>
    /// <param name="data">The rows, row-major.</param>
    /// <param name="dimension">d.</param>
    /// <param name="limits">Rows per cluster.</param>
    /// <param name="options">K, iterations, seed and device of the starting fit; squared Euclidean distance.</param>
    /// <param name="weights">N non-negative weights, or empty for unit weights.</param>
    /// <param name="cancellationToken">Checked between iterations.</param>
    /// <exception cref="ArgumentException">The limits cannot be met by N rows in K clusters, or N × K costs would not fit.</exception>
    public static SizeConstrainedResult Fit(ReadOnlyMemory<float> data, int dimension, ClusterSizeLimits limits, KMeansOptions options,
        ReadOnlyMemory<float> weights = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(options);
        if (dimension < 1 || data.Length % dimension != 0)
            throw new ArgumentException($"{data.Length} values are not rows of {dimension} features.", nameof(data));
        if (options.Distance != KMeansDistance.SquaredEuclidean)
            throw new NotSupportedException("Size-constrained fits use squared Euclidean distance.");
        int n = data.Length / dimension, k = options.NumberOfClusters;
        limits.ThrowIfInfeasible(n, k);
        ThrowIfTooLarge(n, k);
        // The ordinary fit validates the rows and weights and gives the starting centroids.
        var start = new KMeans(options).Fit(data, dimension, weights, null, cancellationToken);
        var centroids = start.Centroids.ToArray();
        var labels = Array.Empty<int>();
        int iterations = 0;
        bool converged = false;
        var history = new List<double>();
        var rows = data.Span;
        var w = weights.Span;
        double[] cost = new double[(long)n * k];
        for (; iterations < Math.Max(1, options.MaximumNumberOfIterations); iterations++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Costs(rows, w, centroids, dimension, k, cost);
            var next = SizeConstrainedAssignment.Solve(cost, n, k, limits, cancellationToken);
            history.Add(Objective(cost, next, k));
            bool same = next.AsSpan().SequenceEqual(labels);
            labels = next;
            Means(rows, w, labels, dimension, centroids);
            if (same)
            {
                converged = true;
                iterations++;
                break;
            }
        }
        Costs(rows, w, centroids, dimension, k, cost);
        double inertia = Objective(cost, labels, k);
        var model = new KMeansModel(centroids, dimension, KMeansDistance.SquaredEuclidean, inertia, iterations, converged, 0, history, [],
            $"{start.TrainedOn}, then size-constrained assignment on the CPU");
        return new SizeConstrainedResult(model, labels);
    }

    /// <summary>
    /// The assignment of <paramref name="data"/> to <paramref name="model"/>'s centroids that minimises the weighted
    /// squared distances with every cluster's row count within <paramref name="limits"/>.
    /// </summary>
    public static int[] Assign(KMeansModel model, ReadOnlySpan<float> data, ClusterSizeLimits limits, ReadOnlySpan<float> weights = default,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(limits);
        int d = model.Dimension, k = model.NumberOfClusters;
        if (data.Length % d != 0)
            throw new ArgumentException($"{data.Length} values are not rows of {d} features.", nameof(data));
        int n = data.Length / d;
        if (!weights.IsEmpty && weights.Length != n)
            throw new ArgumentException($"{weights.Length} weights for {n} rows.", nameof(weights));
        if (!DataValidator.AllFinite(data))
            throw new ArgumentException("The rows contain NaN or infinite values.", nameof(data));
        foreach (float weight in weights)
            if (!(weight >= 0) || float.IsInfinity(weight))
                throw new ArgumentException($"Weights must be finite and non-negative; found {weight}.", nameof(weights));
        limits.ThrowIfInfeasible(n, k);
        ThrowIfTooLarge(n, k);
        var cost = new double[(long)n * k];
        Costs(data, weights, model.Centroids.Span, d, k, cost);
        return SizeConstrainedAssignment.Solve(cost, n, k, limits, cancellationToken);
    }

    private static void ThrowIfTooLarge(long n, int k)
    {
        if (n * k > MaximumCosts)
            throw new ArgumentException($"A size-constrained assignment holds N × K = {n * k} costs; at most {MaximumCosts} are supported.");
    }

    /// <summary>w·‖x − c‖² from the differences in float64: exact wherever the data lies.</summary>
    private static void Costs(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, ReadOnlySpan<float> centroids, int d, int k, double[] cost)
    {
        int n = rows.Length / d;
        for (int r = 0; r < n; r++)
        {
            var x = rows.Slice(r * d, d);
            double w = weights.IsEmpty ? 1 : weights[r];
            for (int c = 0; c < k; c++)
            {
                var centroid = centroids.Slice(c * d, d);
                double s = 0;
                for (int f = 0; f < d; f++)
                {
                    double diff = (double)x[f] - centroid[f];
                    s += diff * diff;
                }
                cost[(long)r * k + c] = w * s;
            }
        }
    }

    private static double Objective(double[] cost, int[] labels, int k)
    {
        double total = 0;
        for (int r = 0; r < labels.Length; r++)
            total += cost[(long)r * k + labels[r]];
        return total;
    }

    /// <summary>Each cluster's weighted mean; a cluster with no weight keeps its centroid.</summary>
    private static void Means(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, int[] labels, int d, float[] centroids)
    {
        int k = centroids.Length / d;
        var sums = new double[k * d];
        var total = new double[k];
        for (int r = 0; r < labels.Length; r++)
        {
            double w = weights.IsEmpty ? 1 : weights[r];
            total[labels[r]] += w;
            for (int f = 0; f < d; f++)
                sums[labels[r] * d + f] += w * rows[r * d + f];
        }
        for (int c = 0; c < k; c++)
        {
            if (!(total[c] > 0))
                continue;
            for (int f = 0; f < d; f++)
                centroids[c * d + f] = (float)(sums[c * d + f] / total[c]);
        }
    }
}
