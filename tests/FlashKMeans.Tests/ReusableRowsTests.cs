using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Data;

namespace FlashKMeans.Tests;

/// <summary>
/// The CPU binding lends its rows (<see cref="IReusableRowsBinding"/>), as the choice of K's sweep and the hierarchical fit
/// use them: its labelling names each row's nearest centroid (float64 brute force), and a binding made for another K steps
/// exactly as a fresh binding of the same rows does.
/// </summary>
[TestClass]
public sealed class ReusableRowsTests
{
    [TestMethod]
    [DataRow(33, 70, 5001)]
    [DataRow(128, 16, 3000)]
    [DataRow(1, 5, 999)]
    public void Labels_name_each_rows_nearest_centroid(int d, int m, int n)
    {
        var rows = TestData.Blobs(n, d, centers: 12, spread: 4, seed: d + m);
        var centroids = TestData.Gaussian(m, d, seed: 7).Select(v => 4 * v).ToArray();
        var source = new InMemoryBatchSource(rows, d, batchRows: 1234);
        using var binding = new CpuDataBinding(source, DataValidator.Scan(source), 2, threads: 2, usePruning: false);
        var labels = Enumerable.Repeat(-7, n).ToArray();
        ((IReusableRowsBinding)binding).Label(centroids, labels, CancellationToken.None);
        for (int r = 0; r < n; r++)
        {
            Assert.IsTrue(labels[r] >= 0 && labels[r] < m, $"row {r} has label {labels[r]}");
            Reference.AssertNearest(rows.AsSpan(r * d, d), centroids, d, labels[r], $"row {r}");
        }
        Assert.ThrowsExactly<ArgumentException>(() => ((IReusableRowsBinding)binding).Label(centroids, new int[n - 1], CancellationToken.None));
    }

    [TestMethod]
    public void A_binding_for_another_K_steps_as_a_fresh_binding_does()
    {
        int d = 17, n = 4001, k = 9;
        var rows = TestData.Blobs(n, d, centers: 6, spread: 5, seed: 3);
        var weights = Enumerable.Range(0, n).Select(i => i % 5 == 0 ? 0f : 1 + i % 3).ToArray();
        var source = new InMemoryBatchSource(rows, d, weights, batchRows: 1500);
        var summary = DataValidator.Scan(source);
        using var lender = new CpuDataBinding(source, summary, 2, threads: 2, usePruning: true);
        using var lent = ((IReusableRowsBinding)lender).ForClusterCount(k);
        using var fresh = new CpuDataBinding(source, summary, k, threads: 2, usePruning: true);
        Assert.AreEqual(k, lent.NumberOfClusters);
        var start = rows.AsSpan(0, k * d).ToArray();
        lent.SetCentroids(start);
        fresh.SetCentroids(start);
        for (int step = 0; step < 4; step++)
        {
            var a = lent.Step(false, CancellationToken.None);
            var b = fresh.Step(false, CancellationToken.None);
            Assert.AreEqual(b, a, $"step {step}");
        }
        var ca = new float[k * d];
        var cb = new float[k * d];
        lent.GetCentroids(ca);
        fresh.GetCentroids(cb);
        CollectionAssert.AreEqual(cb, ca);
    }
}
