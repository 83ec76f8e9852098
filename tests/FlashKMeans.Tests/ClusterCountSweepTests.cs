using FlashKMeans.Clustering;
using FlashKMeans.Selection;

namespace FlashKMeans.Tests;

/// <summary>
/// Choosing K: on blobs with a known number of centres every criterion finds it; each index equals its definition
/// computed by brute force in float64; the knee rule on curves whose knee is known; bad ranges are named.
/// </summary>
[TestClass]
public sealed class ClusterCountSweepTests
{
    [TestMethod]
    [DataRow(3), DataRow(5), DataRow(7)]
    public void Blobs_with_a_known_number_of_centres_get_that_number(int centres)
    {
        const int d = 4;
        var rows = TestData.Blobs(3000, d, centres, spread: 12, seed: centres);
        var report = ClusterCountSweep.Run(rows, d, 2, 10, new KMeansOptions { Seed = 1, Device = ComputeDevice.Cpu });
        Assert.AreEqual(9, report.Scores.Count);
        CollectionAssert.AreEqual(Enumerable.Range(2, 9).ToArray(), report.Scores.Select(s => s.NumberOfClusters).ToArray());
        Assert.AreEqual(centres, report.Proposed, Describe(report));
        Assert.AreEqual(centres, report.BestSilhouette, Describe(report));
        Assert.AreEqual(centres, report.BestCalinskiHarabasz, Describe(report));
        Assert.AreEqual(centres, report.BestDaviesBouldin, Describe(report));
        Assert.AreEqual(centres, report.Knee, Describe(report));
        for (int i = 1; i < report.Scores.Count; i++)
            Assert.IsTrue(report.Scores[i].Inertia <= report.Scores[i - 1].Inertia * 1.001, "inertia falls as K grows");
    }

    [TestMethod]
    [DataRow(0.0), DataRow(1e5)]
    public void Each_K_of_the_sweep_is_the_fit_it_would_be_alone(double offset)
    {
        const int d = 5;
        var rows = TestData.Offset(TestData.Blobs(2000, d, 4, spread: 6, seed: 21), offset);
        var options = new KMeansOptions { Seed = 7, Device = ComputeDevice.Cpu, NumberOfThreads = 2 };
        var counts = new[] { 2, 3, 5, 8 };
        var swept = new KMeans(options).FitEach(new Data.InMemoryBatchSource(rows, d), counts, null, CancellationToken.None);
        for (int i = 0; i < counts.Length; i++)
        {
            var alone = options.Clone();
            alone.NumberOfClusters = counts[i];
            var model = new KMeans(alone).Fit(rows, d);
            CollectionAssert.AreEqual(model.Centroids.ToArray(), swept[i].Centroids.ToArray(), $"K = {counts[i]}");
            Assert.AreEqual(model.Inertia, swept[i].Inertia, $"K = {counts[i]}");
        }
        var report = ClusterCountSweep.Run(rows, d, 2, 8, options);
        for (int i = 0; i < counts.Length; i++)
        {
            var alone = options.Clone();
            alone.NumberOfClusters = counts[i];
            var expected = ClusterCountSweep.Score(rows, d, new KMeans(alone).Fit(rows, d), Enumerable.Range(0, 1).ToArray());
            Assert.AreEqual(expected.Inertia, report.Scores.Single(s => s.NumberOfClusters == counts[i]).Inertia, 1e-9 * expected.Inertia);
        }
    }

    private static string Describe(ClusterCountReport report) => string.Join("; ", report.Scores.Select(s =>
        $"K={s.NumberOfClusters} inertia={s.Inertia:G4} DB={s.DaviesBouldin:F3} CH={s.CalinskiHarabasz:G4} silhouette={s.Silhouette:F3}"));

    [TestMethod]
    public void Each_index_equals_its_definition()
    {
        const int d = 3, n = 240;
        var rows = TestData.Blobs(n, d, 4, spread: 3, seed: 9);
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 4, Seed = 2, Device = ComputeDevice.Cpu }).Fit(rows, d);
        var score = ClusterCountSweep.Score(rows, d, model, Enumerable.Range(0, n).ToArray());
        var labels = model.Predict(rows, d);
        var c = model.Centroids.ToArray();
        double Distance(int r, float[] other, int o) => Math.Sqrt(Enumerable.Range(0, d).Sum(j => Math.Pow((double)rows[r * d + j] - other[o * d + j], 2)));
        double Between(int a, int b) => Math.Sqrt(Enumerable.Range(0, d).Sum(j => Math.Pow((double)c[a * d + j] - c[b * d + j], 2)));
        var members = Enumerable.Range(0, 4).Select(k => Enumerable.Range(0, n).Where(r => labels[r] == k).ToArray()).ToArray();

        double inertia = Enumerable.Range(0, n).Sum(r => Math.Pow(Distance(r, c, labels[r]), 2));
        Assert.AreEqual(inertia, score.Inertia, 1e-9 * inertia);

        var mean = Enumerable.Range(0, d).Select(j => Enumerable.Range(0, n).Average(r => (double)rows[r * d + j])).ToArray();
        double between = Enumerable.Range(0, 4).Sum(k => members[k].Length * Enumerable.Range(0, d).Sum(j => Math.Pow(c[k * d + j] - mean[j], 2)));
        Assert.AreEqual(between / 3 / (inertia / (n - 4)), score.CalinskiHarabasz, 1e-9 * score.CalinskiHarabasz);

        var s = Enumerable.Range(0, 4).Select(k => members[k].Average(r => Distance(r, c, k))).ToArray();
        double davies = Enumerable.Range(0, 4).Average(a => Enumerable.Range(0, 4).Where(b => b != a).Max(b => (s[a] + s[b]) / Between(a, b)));
        Assert.AreEqual(davies, score.DaviesBouldin, 1e-9);

        double RowDistance(int a, int b) => Math.Sqrt(Enumerable.Range(0, d).Sum(j => Math.Pow((double)rows[a * d + j] - rows[b * d + j], 2)));
        double silhouette = Enumerable.Range(0, n).Average(r =>
        {
            var own = members[labels[r]];
            if (own.Length == 1)
                return 0.0;
            double a = own.Where(o => o != r).Average(o => RowDistance(r, o));
            double b = Enumerable.Range(0, 4).Where(k => k != labels[r] && members[k].Length > 0).Min(k => members[k].Average(o => RowDistance(r, o)));
            return (b - a) / Math.Max(a, b);
        });
        Assert.AreEqual(silhouette, score.Silhouette, 1e-9);
    }

    [TestMethod]
    public void The_knee_is_where_the_curve_bends()
    {
        // Falls fast to x = 5, then slowly: the knee is 5.
        var x = Enumerable.Range(2, 10).Select(v => (double)v).ToArray();
        var y = x.Select(v => v <= 5 ? 100 - 28 * (v - 2) : 16 - 1.5 * (v - 5)).ToArray();
        Assert.AreEqual(5, ClusterCountSweep.Knee(x, y));
        // A straight line has no knee beyond the chord: the first point is returned.
        Assert.AreEqual(2, ClusterCountSweep.Knee(x, x.Select(v => 20 - v).ToArray()));
    }

    [TestMethod]
    public void Bad_ranges_are_named()
    {
        var rows = TestData.Blobs(50, 2, 3, spread: 5, seed: 1);
        Assert.AreEqual("minimum", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ClusterCountSweep.Run(rows, 2, 1, 4)).ParamName);
        Assert.AreEqual("maximum", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ClusterCountSweep.Run(rows, 2, 3, 2)).ParamName);
        Assert.AreEqual("maximum", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ClusterCountSweep.Run(rows, 2, 2, 50)).ParamName);
        Assert.AreEqual("options", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ClusterCountSweep.Run(rows, 2, 2, 4, new KMeansOptions { Distance = KMeansDistance.Cosine })).ParamName);
        var holed = rows.ToArray();
        holed[7] = float.NaN;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ClusterCountSweep.Run(holed, 2, 2, 4)).Message, "Row 3");
    }
}
