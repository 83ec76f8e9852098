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
                // Nearest by the distance over the present features, scaled by d / present (ties to the lower index).
                int label = 0, present = Enumerable.Range(0, d).Count(j => !float.IsNaN(rows[r * d + j]));
                double best = double.PositiveInfinity;
                for (int c = 0; c < k; c++)
                {
                    double sum = 0;
                    for (int j = 0; j < d; j++)
                    {
                        if (!float.IsNaN(rows[r * d + j]))
                            sum += Math.Pow(rows[r * d + j] - (double)current[c * d + j], 2);
                    }
                    sum *= (double)d / present;
                    if (sum < best)
                        (best, label) = (sum, c);
                }
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
        Assert.ThrowsExactly<NotSupportedException>(() => new KMeans(new KMeansOptions { MissingFeatures = MissingFeatures.Ignore }));
        Assert.ThrowsExactly<NotSupportedException>(() => new MiniBatchKMeans(
            new KMeansOptions { MissingFeatures = MissingFeatures.Ignore, Distance = KMeansDistance.Cosine }, 3));
    }
}
