using FlashKMeans.Clustering;

namespace FlashKMeans.Tests;

/// <summary>
/// <see cref="MissingFeatures.Ignore"/> in stream learning: a NaN feature is left out of the distance (rescaled by
/// d / features present) and out of the update (seen weight per coordinate), checked against a float64 reference.
/// </summary>
[TestClass]
public sealed class MissingFeatureTests
{
    private static KMeansOptions Options(int k, MissingFeatures missing, float[]? start = null) => new()
    {
        NumberOfClusters = k, Seed = 2, Device = ComputeDevice.Cpu, MissingFeatures = missing,
        Initialization = start is null ? KMeansInitialization.KMeansPlusPlus : KMeansInitialization.Explicit,
        InitialCentroids = start ?? default(ReadOnlyMemory<float>),
        MiniBatch = new MiniBatchOptions { ReassignmentRatio = start is null ? 0.01 : 0, InitializationSize = 500 },
    };

    /// <summary>Nearest centroid by the float64 distance over the features present, scaled by d / present (ties to the lower index).</summary>
    internal static int MaskedNearest(ReadOnlySpan<float> row, ReadOnlySpan<float> centroids)
    {
        int d = row.Length, present = 0, label = 0;
        foreach (float v in row)
            present += float.IsNaN(v) ? 0 : 1;
        double best = double.PositiveInfinity;
        for (int c = 0; c < centroids.Length / d; c++)
        {
            double sum = 0;
            for (int j = 0; j < d; j++)
            {
                if (!float.IsNaN(row[j]))
                    sum += Math.Pow(row[j] - (double)centroids[c * d + j], 2);
            }
            sum *= (double)d / present;
            if (sum < best)
                (best, label) = (sum, c);
        }
        return label;
    }

    private static float[] WithHoles(float[] rows, int d, double fraction, int seed)
    {
        var random = new Random(seed);
        var holed = rows.ToArray();
        for (int r = 0; r < rows.Length / d; r++)
        {
            for (int j = 0; j < d; j++)
            {
                if (random.NextDouble() < fraction)
                    holed[r * d + j] = float.NaN;
            }
            if (Enumerable.Range(0, d).All(j => float.IsNaN(holed[r * d + j])))
                holed[r * d] = rows[r * d];  // keep one feature
        }
        return holed;
    }

    [TestMethod]
    public void Steps_match_a_float64_reference_of_the_masked_running_mean()
    {
        const int d = 5, k = 4, n = 400;
        var start = TestData.Gaussian(k, d, seed: 3).Select(v => v * 4).ToArray();
        var model = new MiniBatchKMeans(Options(k, MissingFeatures.Ignore, start), d);
        var centroids = start.Select(v => (double)v).ToArray();
        var seen = new double[k * d];
        for (int step = 0; step < 5; step++)
        {
            var rows = WithHoles(TestData.Blobs(n, d, k, 4.0, seed: 40 + step), d, 0.3, seed: step);
            var current = centroids.Select(v => (float)v).ToArray();
            var sums = new double[k * d];
            var added = new double[k * d];
            for (int r = 0; r < n; r++)
            {
                int label = MaskedNearest(rows.AsSpan(r * d, d), current);
                for (int j = 0; j < d; j++)
                {
                    if (float.IsNaN(rows[r * d + j]))
                        continue;
                    sums[label * d + j] += rows[r * d + j];
                    added[label * d + j] += 1;
                }
            }
            for (int i = 0; i < k * d; i++)
            {
                if (added[i] == 0)
                    continue;
                centroids[i] = (current[i] * seen[i] + sums[i]) / (seen[i] + added[i]);
                seen[i] += added[i];
            }
            model.PartialFit(rows);
            var got = model.Snapshot().Centroids.ToArray();
            for (int i = 0; i < got.Length; i++)
                Assert.AreEqual(centroids[i], got[i], 1e-5 * (1 + Math.Abs(centroids[i])), $"step {step}, value {i}");
        }
    }

    [TestMethod]
    public void A_feature_missing_from_half_the_rows_is_the_mean_of_the_rows_that_have_it()
    {
        // One cluster: feature 1 is 10 where present and missing in every other row. Reading NaN as 0 would give 5.
        const int d = 2;
        var rows = new float[1000 * d];
        for (int r = 0; r < 1000; r++)
        {
            rows[r * d] = 3;
            rows[r * d + 1] = r % 2 == 0 ? 10 : float.NaN;
        }
        var model = new MiniBatchKMeans(Options(1, MissingFeatures.Ignore), d);
        model.PartialFit(rows);
        var centroid = model.Snapshot().GetCentroid(0);
        Assert.AreEqual(3f, centroid[0]);
        Assert.AreEqual(10f, centroid[1]);
    }

    [TestMethod]
    public void Complete_rows_give_the_same_model_with_either_policy()
    {
        const int d = 6, k = 5;
        var rows = TestData.Blobs(3000, d, k, 5.0, seed: 1);
        var reject = new MiniBatchKMeans(Options(k, MissingFeatures.Reject), d);
        var ignore = new MiniBatchKMeans(Options(k, MissingFeatures.Ignore), d);
        for (int at = 0; at < 3000; at += 300)
        {
            reject.PartialFit(rows.AsSpan(at * d, 300 * d));
            ignore.PartialFit(rows.AsSpan(at * d, 300 * d));
        }
        CollectionAssert.AreEqual(reject.Snapshot().Centroids.ToArray(), ignore.Snapshot().Centroids.ToArray());
        CollectionAssert.AreEqual(reject.ClusterWeights.ToArray(), ignore.ClusterWeights.ToArray());
    }

    [TestMethod]
    public void Missing_features_survive_a_restart_and_bad_rows_are_still_refused()
    {
        const int d = 4, k = 3;
        var rows = WithHoles(TestData.Blobs(2000, d, k, 5.0, seed: 5), d, 0.25, seed: 9);
        var straight = new MiniBatchKMeans(Options(k, MissingFeatures.Ignore), d);
        var interrupted = new MiniBatchKMeans(Options(k, MissingFeatures.Ignore), d);
        for (int at = 0; at < 2000; at += 200)
        {
            straight.PartialFit(rows.AsSpan(at * d, 200 * d));
            interrupted.PartialFit(rows.AsSpan(at * d, 200 * d));
            using var saved = new MemoryStream();
            interrupted.Save(saved);
            saved.Position = 0;
            interrupted = MiniBatchKMeans.Load(saved);
        }
        CollectionAssert.AreEqual(straight.Snapshot().Centroids.ToArray(), interrupted.Snapshot().Centroids.ToArray());
        Assert.IsTrue(straight.IsSeeded);

        var infinite = new float[] { 1, float.PositiveInfinity, 0, 0 };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => straight.PartialFit(infinite)).Message, "infinite");
        var empty = new float[] { float.NaN, float.NaN, float.NaN, float.NaN };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => straight.PartialFit(empty)).Message, "no feature");
        CollectionAssert.AreEqual(interrupted.Snapshot().Centroids.ToArray(), straight.Snapshot().Centroids.ToArray());
        // Without Ignore, a NaN is an error naming its place.
        var strict = new MiniBatchKMeans(Options(k, MissingFeatures.Reject), d);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => strict.PartialFit(new float[] { 1, float.NaN, 0, 0 })).Message, "feature 1");
    }

    [TestMethod]
    public void Fits_that_cannot_ignore_missing_features_refuse_the_option()
    {
        Assert.ThrowsExactly<NotSupportedException>(() => new KMeans(new KMeansOptions { MissingFeatures = MissingFeatures.Ignore, Algorithm = KMeansAlgorithm.MiniBatch }));
        Assert.ThrowsExactly<NotSupportedException>(() => new MiniBatchKMeans(
            new KMeansOptions { MissingFeatures = MissingFeatures.Ignore, Distance = KMeansDistance.Cosine }, 3));
    }
}

/// <summary>
/// <see cref="MissingFeatures.Ignore"/> in Lloyd fits: the distance over the features present, scaled by d / present,
/// and per-coordinate means over the rows that have each feature, against a float64 reference.
/// </summary>
[TestClass]
public sealed class MissingFeatureLloydTests
{
    [TestMethod]
    public void Each_iteration_matches_a_float64_reference_of_masked_Lloyd()
    {
        const int n = 2000, d = 5, k = 4;
        var random = new Random(3);
        var rows = TestData.Blobs(n, d, k, 6.0, seed: 9);
        for (int i = 0; i < rows.Length; i++)
        {
            if (random.NextDouble() < 0.2)
                rows[i] = float.NaN;
        }
        for (int r = 0; r < n; r++)
        {
            if (Enumerable.Range(0, d).All(j => float.IsNaN(rows[r * d + j])))
                rows[r * d] = 1;  // every row keeps a feature
        }
        var start = TestData.Gaussian(k, d, seed: 4).Select(v => v * 6).ToArray();
        var centroids = start.Select(v => (double)v).ToArray();
        for (int iteration = 1; iteration <= 3; iteration++)
        {
            var current = centroids.Select(v => (float)v).ToArray();
            var sums = new double[k * d];
            var counts = new double[k * d];
            for (int r = 0; r < n; r++)
            {
                int label = MissingFeatureTests.MaskedNearest(rows.AsSpan(r * d, d), current);
                for (int j = 0; j < d; j++)
                {
                    if (float.IsNaN(rows[r * d + j]))
                        continue;
                    sums[label * d + j] += rows[r * d + j];
                    counts[label * d + j]++;
                }
            }
            for (int i = 0; i < k * d; i++)
            {
                if (counts[i] > 0)
                    centroids[i] = sums[i] / counts[i];
            }
            var model = new KMeans(new KMeansOptions
            {
                NumberOfClusters = k, MissingFeatures = MissingFeatures.Ignore, Initialization = KMeansInitialization.Explicit, InitialCentroids = start,
                MaximumNumberOfIterations = iteration, OptimizationTolerance = 0, Device = ComputeDevice.Cpu,
            }).Fit(rows, d);
            var got = model.Centroids.ToArray();
            for (int i = 0; i < got.Length; i++)
                Assert.AreEqual(centroids[i], got[i], 1e-5 * (1 + Math.Abs(centroids[i])), $"iteration {iteration}, value {i}");
        }
    }

    [TestMethod]
    public void Seeding_and_repairs_never_put_a_missing_value_into_a_centroid()
    {
        const int n = 3000, d = 6, k = 12;
        var random = new Random(5);
        var rows = TestData.Blobs(n, d, 6, 5.0, seed: 2);
        for (int r = 0; r < n; r++)
            rows[r * d + random.Next(d)] = float.NaN;  // no row is complete
        foreach (var seeding in new[] { KMeansInitialization.KMeansParallel, KMeansInitialization.KMeansPlusPlus, KMeansInitialization.RandomRows })
        {
            var model = new KMeans(new KMeansOptions
            {
                NumberOfClusters = k, MissingFeatures = MissingFeatures.Ignore, Initialization = seeding, Device = ComputeDevice.Cpu, Seed = 1,
            }).Fit(rows, d);
            Assert.IsTrue(model.Centroids.ToArray().All(float.IsFinite), $"{seeding}");
            var history = model.InertiaHistory;
            for (int i = 1; i < history.Count; i++)
                Assert.IsTrue(history[i] <= history[i - 1] * (1 + 1e-6), $"{seeding}: the masked objective rose at iteration {i}");
        }
        Assert.ThrowsExactly<NotSupportedException>(() => new KMeans(new KMeansOptions { MissingFeatures = MissingFeatures.Ignore, Device = ComputeDevice.Cuda }));
        var e = Assert.ThrowsExactly<ArgumentException>(() => new KMeans(new KMeansOptions { MissingFeatures = MissingFeatures.Ignore, NumberOfClusters = 2 })
            .Fit(new float[] { 1, 2, float.PositiveInfinity, 3 }, 2));
        StringAssert.Contains(e.Message, "infinite");
    }
}
