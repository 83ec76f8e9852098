using FlashKMeans.Constrained;

namespace FlashKMeans.Tests;

/// <summary>
/// Size-constrained k-means: the assignment is the optimum a brute force finds over every assignment that meets the
/// limits (on hundreds of small random problems, arbitrary costs included); fits meet the limits exactly, weighted rows
/// and K = N / minimum included; infeasible limits are errors before any work.
/// </summary>
[TestClass]
public sealed class SizeConstrainedTests
{
    private static double BruteForce(double[] cost, int n, int k, ClusterSizeLimits limits)
    {
        double best = double.PositiveInfinity;
        var labels = new int[n];
        var sizes = new int[k];
        void Visit(int r, double sum)
        {
            if (r == n)
            {
                if (sizes.All(s => s >= limits.Minimum && s <= limits.Maximum))
                    best = Math.Min(best, sum);
                return;
            }
            for (int c = 0; c < k; c++)
            {
                if (sizes[c] == limits.Maximum)
                    continue;
                sizes[c]++;
                Visit(r + 1, sum + cost[r * k + c]);
                sizes[c]--;
            }
        }
        Visit(0, 0);
        return best;
    }

    [TestMethod]
    public void The_assignment_is_the_brute_force_optimum_under_the_limits()
    {
        var random = new Random(12);
        for (int trial = 0; trial < 400; trial++)
        {
            int n = random.Next(2, 9), k = random.Next(2, 4);
            int min = random.Next(0, n / k + 1), max = random.Next(Math.Max(1, Math.Max(min, (n + k - 1) / k)), n + 1);
            var limits = new ClusterSizeLimits(min, max);
            var cost = new double[n * k];
            if (trial % 2 == 0)
            {
                // Squared distances of random points to random centres.
                var points = Enumerable.Range(0, n * 2).Select(_ => random.NextDouble() * 10).ToArray();
                var centres = Enumerable.Range(0, k * 2).Select(_ => random.NextDouble() * 10).ToArray();
                for (int r = 0; r < n; r++)
                    for (int c = 0; c < k; c++)
                        cost[r * k + c] = Math.Pow(points[2 * r] - centres[2 * c], 2) + Math.Pow(points[2 * r + 1] - centres[2 * c + 1], 2);
            }
            else
            {
                for (int i = 0; i < cost.Length; i++)
                    cost[i] = random.Next(0, 20);  // integer costs: many ties
            }
            var labels = SizeConstrainedAssignment.Solve(cost, n, k, limits);
            var sizes = new int[k];
            foreach (int label in labels)
                sizes[label]++;
            Assert.IsTrue(sizes.All(s => s >= min && s <= max), $"trial {trial}: sizes {string.Join(",", sizes)} outside [{min}, {max}]");
            double got = labels.Select((c, r) => cost[r * k + c]).Sum();
            Assert.AreEqual(BruteForce(cost, n, k, limits), got, 1e-9, $"trial {trial}: n {n}, k {k}, limits [{min}, {max}]");
        }
    }

    [TestMethod]
    public void A_fit_meets_the_limits_exactly_with_weighted_rows_and_K_equal_to_N_over_the_minimum()
    {
        int d = 4, k = 12;
        var data = TestData.Blobs(1200, d, centers: 3, spread: 8, seed: 6);  // three blobs, twelve clusters of 100 rows
        var weights = Enumerable.Range(0, 1200).Select(i => (float)(0.5 + (i % 7) / 7.0)).ToArray();
        var result = SizeConstrainedKMeans.Fit(data, d, new ClusterSizeLimits(100, 100),
            new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu, Seed = 2 }, weights);
        var sizes = new int[k];
        foreach (int label in result.Labels)
            sizes[label]++;
        Assert.IsTrue(sizes.All(s => s == 100), string.Join(",", sizes));
        // The model's centroids are the weighted means of their rows, and its inertia the weighted distances to them.
        var centroids = result.Model.Centroids.ToArray();
        double inertia = 0;
        for (int c = 0; c < k; c++)
        {
            var rows = Enumerable.Range(0, 1200).Where(r => result.Labels[r] == c).ToArray();
            double total = rows.Sum(r => (double)weights[r]);
            for (int f = 0; f < d; f++)
                Assert.AreEqual(rows.Sum(r => weights[r] * (double)data[r * d + f]) / total, centroids[c * d + f], 1e-4, $"cluster {c} feature {f}");
            inertia += rows.Sum(r => weights[r] * Enumerable.Range(0, d).Sum(f => Math.Pow(data[r * d + f] - centroids[c * d + f], 2)));
        }
        Assert.AreEqual(inertia, result.Model.Inertia, 1e-6 * inertia);

        // New rows assigned under other limits meet them too.
        var fresh = TestData.Blobs(300, d, centers: 3, spread: 8, seed: 7);
        var assigned = SizeConstrainedKMeans.Assign(result.Model, fresh, new ClusterSizeLimits(20, 30));
        var freshSizes = new int[k];
        foreach (int label in assigned)
            freshSizes[label]++;
        Assert.IsTrue(freshSizes.All(s => s >= 20 && s <= 30), string.Join(",", freshSizes));
    }

    [TestMethod]
    public void Infeasible_limits_are_errors_that_give_the_numbers()
    {
        var data = TestData.Blobs(100, 2, centers: 2, spread: 5, seed: 1);
        var options = new KMeansOptions { NumberOfClusters = 4, Device = ComputeDevice.Cpu };
        var e = Assert.ThrowsExactly<ArgumentException>(() => SizeConstrainedKMeans.Fit(data, 2, new ClusterSizeLimits(0, 24), options));
        StringAssert.Contains(e.Message, "cannot hold 100 rows");
        e = Assert.ThrowsExactly<ArgumentException>(() => SizeConstrainedKMeans.Fit(data, 2, new ClusterSizeLimits(26, 50), options));
        StringAssert.Contains(e.Message, "need 104 rows; there are 100");
        e = Assert.ThrowsExactly<ArgumentException>(() => SizeConstrainedKMeans.Fit(data, 2, new ClusterSizeLimits(30, 20), options));
        StringAssert.Contains(e.Message, "not a range");
    }
}
