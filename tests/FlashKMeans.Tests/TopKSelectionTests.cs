using FlashKMeans.Cpu;
using FlashKMeans.Primitives;

namespace FlashKMeans.Tests;

/// <summary>
/// The k smallest of a row of distances (prototype prediction's selection) against a full sort by (distance, index), with
/// ties and lengths that are no multiple of the vector width; and the CPU scorer's blocked search against it.
/// </summary>
[TestClass]
public sealed class TopKSelectionTests
{
    [TestMethod]
    [DataRow(1, 1)]
    [DataRow(5, 7)]
    [DataRow(5, 37)]
    [DataRow(8, 8)]
    [DataRow(3, 1000)]
    [DataRow(32, 515)]
    public void The_float_selection_keeps_the_k_smallest_by_distance_then_index(int k, int length)
    {
        var random = new Random(length * 31 + k);
        for (int trial = 0; trial < 50; trial++)
        {
            // Values on a coarse grid tie often (distances are never NaN: rows and centroids are finite).
            var distances = Enumerable.Range(0, length).Select(_ => random.Next(length / 4 + 2) * 0.5f).ToArray();
            var expected = Enumerable.Range(0, length).OrderBy(p => distances[p]).ThenBy(p => p).Take(k).ToArray();
            var found = new int[k];
            TopKSelection.Smallest(distances, found);
            CollectionAssert.AreEqual(expected, found, $"trial {trial}");
            var generic = new int[k];
            TopKSelection.Smallest<double>(distances.Select(v => (double)v).ToArray(), generic);
            CollectionAssert.AreEqual(expected, generic, $"trial {trial}: the generic selection");
        }
    }

    [TestMethod]
    [DataRow(1, 1, 5)]
    [DataRow(300, 8, 361)]
    [DataRow(1000, 33, 70)]
    public void The_CPU_scorer_finds_the_nearest_a_float64_brute_force_does(int n, int d, int k)
    {
        const int top = 5;
        int count = Math.Min(top, k);
        var rows = TestData.Gaussian(n, d, seed: n + d);
        var centroids = TestData.Gaussian(k, d, seed: k);
        using var scorer = new CpuScorer(centroids, d, threads: 2);
        var indices = Enumerable.Repeat(-1, n * count).ToArray();
        var distances = Enumerable.Repeat(float.NaN, n * count).ToArray();
        scorer.Nearest(rows, count, indices, distances);
        for (int r = 0; r < n; r++)
        {
            var exact = Enumerable.Range(0, k).Select(c => Enumerable.Range(0, d).Sum(j => Math.Pow((double)rows[r * d + j] - centroids[c * d + j], 2))).ToArray();
            var sorted = exact.OrderBy(v => v).ToArray();
            for (int i = 0; i < count; i++)
            {
                int c = indices[r * count + i];
                Assert.IsTrue(c >= 0 && c < k, $"row {r}, rank {i}: index {c}");
                Assert.AreEqual(sorted[i], exact[c], 1e-4 * (1 + sorted[i]), $"row {r}, rank {i}: as near as the brute force's");
                Assert.AreEqual(exact[c], distances[r * count + i], 1e-4 * (1 + exact[c]), $"row {r}, rank {i}: distance");
            }
            Assert.AreEqual(count, indices.Skip(r * count).Take(count).Distinct().Count(), $"row {r}: distinct");
        }
    }
}
