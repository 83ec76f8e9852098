using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Tests;

/// <summary>
/// Behaviour every backend must show, written once. A backend's test class derives from this and says
/// how to configure it (and reports Inconclusive where its hardware is missing).
/// </summary>
public abstract class KMeansBackendTests
{
    /// <summary>Options that select the backend under test.</summary>
    protected abstract KMeansOptions Options(int k);

    /// <summary>Relative tolerance on centroids against the float64 reference.</summary>
    protected virtual double CentroidTolerance => 1e-5;

    [TestMethod]
    [DataRow(1, 1), DataRow(3, 5), DataRow(17, 7), DataRow(64, 33), DataRow(96, 100), DataRow(130, 19)]
    public void Labels_equal_brute_force_float64_assignment(int d, int k)
    {
        int n = 1500;
        var data = TestData.Gaussian(n, d, seed: d * 1000 + k);
        var options = Options(k);
        options.MaximumNumberOfIterations = 3;
        options.Initialization = KMeansInitialization.RandomRows;
        var model = new KMeans(options).Fit(data, d);
        var labels = model.Predict(data, d);
        var centroids = model.Centroids.Span;
        for (int r = 0; r < n; r++)
            Reference.AssertNearest(data.AsSpan(r * d, d), centroids, d, labels[r], $"row {r}");
    }

    [TestMethod]
    [DataRow(1e3), DataRow(1e4), DataRow(1e5), DataRow(1e6)]
    public void Data_far_from_the_origin_gets_exact_labels_distances_and_inertia(double offset)
    {
        int n = 4000, d = 4, k = 6;
        var data = TestData.Offset(TestData.Blobs(n, d, centers: k, spread: 6, seed: 31), offset);
        var options = Options(k);
        options.MaximumNumberOfIterations = 100;
        var model = new KMeans(options).Fit(data, d);
        AssertExactUnderModel(model, data, d, $"offset {offset:G3}");
    }

    [TestMethod]
    public void Coordinates_of_a_few_city_blocks_get_exact_labels_distances_and_inertia()
    {
        int d = 2, k = 5;
        var data = TestData.CityBlocks(3000, places: k, seed: 5);
        var options = Options(k);
        options.MaximumNumberOfIterations = 100;
        var model = new KMeans(options).Fit(data, d);
        Assert.IsTrue(model.Converged, $"the fit did not converge in {model.Iterations} iterations");
        AssertExactUnderModel(model, data, d, "city blocks");
    }

    [TestMethod]
    public void One_cluster_per_row_far_from_the_origin_has_zero_inertia()
    {
        int n = 300, d = 3;
        var data = TestData.Offset(TestData.Gaussian(n, d, seed: 8), 1e4);
        var model = new KMeans(Options(n)).Fit(data, d);
        double spread = 0;
        var mean = Reference.Mean(data, d);
        for (int r = 0; r < n; r++)
            spread += Reference.Distance(data.AsSpan(r * d, d), mean);
        // Every row is its own centroid: the exact inertia is 0; allow float32 rounding of centred distances.
        Assert.AreEqual(0, Reference.Inertia(data, d, model.Centroids.Span), 1e-9 * spread, "the fit left a row off its own centroid");
        Assert.IsTrue(model.Inertia <= 1e-6 * spread, $"inertia {model.Inertia:G3} for K = N (spread {spread:G3})");
        Assert.AreEqual(0.0, model.Score(data), "a row scores its distance to its own centroid");
    }

    /// <summary>
    /// Labels, Transform distances, Score and the reported inertia of <paramref name="model"/> on its training
    /// data against float64 computed from the model's own centroids.
    /// </summary>
    private static void AssertExactUnderModel(KMeansModel model, float[] data, int d, string context)
    {
        int n = data.Length / d, k = model.NumberOfClusters;
        var centroids = model.Centroids.Span;
        var labels = model.Predict(data, d);
        var distances = model.Transform(data);
        var origin = Reference.Mean(centroids, d);
        double exact = 0;
        for (int r = 0; r < n; r++)
        {
            var row = data.AsSpan(r * d, d);
            Reference.AssertNearestCentred(row, centroids, d, labels[r], $"{context}, row {r}");
            var (_, best, all) = Reference.Nearest(row, centroids, d);
            exact += best;
            for (int c = 0; c < k; c++)
            {
                // The expansion's rounding on centred rows and centroids (far from the origin uncentred, it is ‖x‖²).
                double scale = Reference.Distance(row, origin) + Reference.Distance(centroids.Slice(c * d, d), origin);
                Assert.AreEqual(all[c], distances[r * k + c], 1e-5 * scale, $"{context}: Transform of row {r}, centroid {c}");
            }
        }
        Assert.AreEqual(exact, model.Score(data), 1e-5 * exact, $"{context}: Score");
        // The reported inertia is the last assignment's, under the centroids before their last update.
        Assert.AreEqual(exact, model.Inertia, 1e-2 * exact, $"{context}: reported inertia");
    }

    [TestMethod]
    public void Inertia_never_increases_across_iterations()
    {
        int d = 8, k = 20;
        var data = TestData.Blobs(4000, d, centers: 12, spread: 3, seed: 11);
        var options = Options(k);
        options.MaximumNumberOfIterations = 30;
        options.OptimizationTolerance = 0;
        var model = new KMeans(options).Fit(data, d);
        var history = model.InertiaHistory;
        Assert.AreEqual(30, history.Count);
        for (int i = 1; i < history.Count; i++)
            Assert.IsTrue(history[i] <= history[i - 1] * (1 + 1e-6), $"inertia rose at iteration {i + 1}: {history[i - 1]} -> {history[i]}");
        Assert.IsTrue(model.Inertia <= history[^1] * (1 + 1e-6));
    }

    [TestMethod]
    [DataRow(2, 3, true), DataRow(16, 10, true), DataRow(50, 40, false), DataRow(130, 64, false)]
    public void Centroids_match_reference_lloyd_from_same_start(int d, int k, bool blobs)
    {
        var data = blobs ? TestData.Blobs(3000, d, centers: k, spread: 4, seed: 7 + d) : TestData.Gaussian(3000, d, seed: 7 + d);
        var initial = TestData.PickRows(data, d, k, seed: 3);
        var options = Options(k);
        options.Initialization = KMeansInitialization.Explicit;
        options.InitialCentroids = initial;
        options.MaximumNumberOfIterations = 8;
        options.OptimizationTolerance = 0;
        var model = new KMeans(options).Fit(data, d);
        var (expected, _, inertia) = Reference.Lloyd(data, d, initial, 8);
        Assert.AreEqual(0, model.EmptyClustersReseeded, "the reference keeps empty clusters; this data must not produce any");
        var actual = model.Centroids.Span;
        double maxNorm = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], CentroidTolerance * Math.Max(1, maxNorm), $"centroid value {i}");
        for (int i = 0; i < inertia.Count; i++)
            Assert.AreEqual(inertia[i], model.InertiaHistory[i], 1e-4 * inertia[i], $"inertia of iteration {i + 1}");
    }

    [TestMethod]
    public void Weighted_fit_equals_fit_on_repeated_rows()
    {
        int d = 5, k = 4, n = 600;
        var data = TestData.Blobs(n, d, centers: 4, spread: 5, seed: 21);
        var random = new Random(5);
        var weights = Enumerable.Range(0, n).Select(_ => (float)random.Next(1, 4)).ToArray();
        var repeated = new List<float>();
        for (int r = 0; r < n; r++)
            for (int copy = 0; copy < weights[r]; copy++)
                repeated.AddRange(data.AsSpan(r * d, d).ToArray());
        var initial = TestData.PickRows(data, d, k, seed: 9);
        var options = Options(k);
        options.Initialization = KMeansInitialization.Explicit;
        options.InitialCentroids = initial;
        options.MaximumNumberOfIterations = 10;
        var weighted = new KMeans(options).Fit(data, d, weights);
        var expanded = new KMeans(options).Fit(repeated.ToArray(), d);
        var a = weighted.Centroids.Span;
        var b = expanded.Centroids.Span;
        for (int i = 0; i < a.Length; i++)
            Assert.AreEqual(b[i], a[i], 1e-4, $"centroid value {i}");
        Assert.AreEqual(expanded.Inertia, weighted.Inertia, 1e-5 * expanded.Inertia);
    }

    [TestMethod]
    public void Cosine_mode_clusters_directions_and_keeps_unit_centroids()
    {
        int d = 6, k = 3, n = 900;
        // Three directions; every row a random positive multiple of one of them plus a little noise.
        var random = new Random(17);
        var directions = TestData.Gaussian(k, d, seed: 4);
        var data = new float[n * d];
        var truth = new int[n];
        for (int r = 0; r < n; r++)
        {
            truth[r] = r % k;
            double scale = 0.5 + 10 * random.NextDouble();
            for (int f = 0; f < d; f++)
                data[r * d + f] = (float)(scale * (directions[truth[r] * d + f] + 0.05 * TestData.Normal(random)));
        }
        var options = Options(k);
        options.Distance = KMeansDistance.Cosine;
        options.Seed = 2;
        var model = new KMeans(options).Fit(data, d);
        for (int c = 0; c < k; c++)
        {
            double norm = Math.Sqrt(Reference.Distance(model.GetCentroid(c), new float[d]));
            Assert.AreEqual(1.0, norm, 1e-5, $"centroid {c} length");
        }
        var labels = model.Predict(data, d);
        // Same partition as the truth up to renaming.
        var map = new Dictionary<int, int>();
        for (int r = 0; r < n; r++)
        {
            if (!map.TryGetValue(truth[r], out int expected))
                map[truth[r]] = expected = labels[r];
            Assert.AreEqual(expected, labels[r], $"row {r}");
        }
        // Transform reports 1 − cos, and the row's label is its argmin.
        var distances = model.Transform(data.AsSpan(0, 10 * d));
        for (int r = 0; r < 10; r++)
        {
            var x = data.AsSpan(r * d, d);
            double xn = Math.Sqrt(Reference.Distance(x, new float[d]));
            for (int c = 0; c < k; c++)
            {
                var centroid = model.GetCentroid(c);
                double dot = 0;
                for (int f = 0; f < d; f++)
                    dot += x[f] * centroid[f];
                Assert.AreEqual(1 - dot / xn, distances[r * k + c], 1e-5);
            }
        }
    }

    [TestMethod]
    public void Batched_source_gives_bit_identical_result_to_one_array()
    {
        int d = 9, k = 7;
        var data = TestData.Blobs(5000, d, centers: 7, spread: 3, seed: 8);
        var options = Options(k);
        options.Seed = 42;
        var whole = new KMeans(options).Fit(data, d);
        var batched = new KMeans(options).Fit(new InMemoryBatchSource(data, d, batchRows: 777));
        CollectionAssert.AreEqual(whole.Centroids.ToArray(), batched.Centroids.ToArray());
        Assert.AreEqual(whole.Inertia, batched.Inertia);
    }

    [TestMethod]
    public void Zero_variance_and_duplicate_rows_work()
    {
        int d = 4;
        var same = Enumerable.Repeat(3.5f, 200 * d).ToArray();
        var model = new KMeans(Options(3)).Fit(same, d);
        Assert.AreEqual(0.0, model.Inertia, 1e-9);
        for (int c = 0; c < 3; c++)
            CollectionAssert.AreEqual(new[] { 3.5f, 3.5f, 3.5f, 3.5f }, model.GetCentroid(c).ToArray());

        // Two distinct points, many copies each, K = 2: exactly the two points, zero inertia.
        var two = new float[100 * d];
        for (int r = 50; r < 100; r++)
            for (int f = 0; f < d; f++)
                two[r * d + f] = 1f;
        var split = new KMeans(Options(2)).Fit(two, d);
        Assert.AreEqual(0.0, split.Inertia, 1e-9);
        var labels = split.Predict(two, d);
        Assert.AreNotEqual(labels[0], labels[99]);
    }

    [TestMethod]
    public void More_clusters_than_distinct_rows_converges_instead_of_reseeding_every_iteration()
    {
        // Three distinct points, twenty copies each, K = 5: two clusters must stay empty. Re-seeding them with
        // copies of points already on a centroid used to empty them again on every step, so the fit ran all
        // its iterations and never reported convergence.
        // At d = 7 the kernel's float rounding reports small positive distances for rows equal to their centroid.
        foreach (int d in new[] { 2, 7 })
        {
            var distinct = TestData.Gaussian(3, d, seed: 5);
            var data = new float[60 * d];
            for (int r = 0; r < 60; r++)
                distinct.AsSpan(r % 3 * d, d).CopyTo(data.AsSpan(r * d, d));
            var options = Options(5);
            options.MaximumNumberOfIterations = 100;
            var model = new KMeans(options).Fit(data, d);
            Assert.AreEqual(0.0, model.Inertia, 1e-3, $"d = {d}");
            Assert.IsTrue(model.Converged, $"d = {d}: ran {model.Iterations} iterations, re-seeded {model.EmptyClustersReseeded} clusters");
            Assert.IsTrue(model.Iterations < 10, $"d = {d}: ran {model.Iterations} iterations");
            Assert.AreEqual(3, model.Predict(data, d).Distinct().Count(), $"d = {d}");
        }
    }

    [TestMethod]
    public void Empty_clusters_are_reseeded_from_farthest_rows()
    {
        int d = 2, k = 4;
        // Four far-apart groups; start with all centroids in the first group so three clusters start empty-ish.
        var data = TestData.Blobs(800, d, centers: 4, spread: 50, seed: 31);
        var initial = new float[k * d];
        for (int c = 0; c < k; c++)
        {
            initial[c * d] = data[0] + 1e-3f * c;
            initial[c * d + 1] = data[1];
        }
        // Identical copies guarantee empties: ties go to the lowest index.
        initial.AsSpan(0, d).CopyTo(initial.AsSpan(d, d));
        var options = Options(k);
        options.Initialization = KMeansInitialization.Explicit;
        options.InitialCentroids = initial;
        options.MaximumNumberOfIterations = 50;
        var model = new KMeans(options).Fit(data, d);
        Assert.IsTrue(model.EmptyClustersReseeded >= 1, "expected at least one re-seeded cluster");
        var labels = model.Predict(data, d);
        Assert.AreEqual(k, labels.Distinct().Count(), "every cluster should end up used");
    }
}
