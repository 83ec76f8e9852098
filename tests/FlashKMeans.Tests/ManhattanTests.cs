using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Tests;

/// <summary>
/// L1 (Manhattan) distance: k-medians Lloyd fits against a float64 reference (weighted coordinate-wise medians), its
/// objective never rising, its robustness to outliers, scoring by brute force, the model file, and the stream rule.
/// </summary>
[TestClass]
public sealed class ManhattanTests
{
    private static KMeansOptions Options(int k, int iterations = 50) => new()
    {
        NumberOfClusters = k, Distance = KMeansDistance.Manhattan, Device = ComputeDevice.Cpu, Seed = 3,
        MaximumNumberOfIterations = iterations, OptimizationTolerance = 0,
    };

    private static double L1(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int j = 0; j < a.Length; j++)
            sum += Math.Abs((double)a[j] - b[j]);
        return sum;
    }

    private static (int Label, double Distance) Nearest(ReadOnlySpan<float> row, ReadOnlySpan<float> centroids, int d)
    {
        int label = 0;
        double best = double.PositiveInfinity;
        for (int c = 0; c < centroids.Length / d; c++)
        {
            double distance = L1(row, centroids.Slice(c * d, d));
            if (distance < best)
                (best, label) = (distance, c);
        }
        return (label, best);
    }

    /// <summary>The lower weighted median, written directly: sort, then walk to half the weight.</summary>
    private static float Median(IEnumerable<(float Value, float Weight)> items)
    {
        var sorted = items.Where(i => i.Weight > 0).OrderBy(i => i.Value).ToList();
        double half = sorted.Sum(i => (double)i.Weight) / 2, running = 0;
        foreach (var (value, weight) in sorted)
        {
            running += weight;
            if (running >= half)
                return value;
        }
        return sorted[^1].Value;
    }

    [TestMethod]
    public void Each_iteration_moves_centroids_to_the_weighted_medians_of_their_rows()
    {
        const int n = 3000, d = 6, k = 7;
        var rows = TestData.Blobs(n, d, k, 5.0, seed: 4);
        var random = new Random(2);
        var weights = Enumerable.Range(0, n).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
        var start = TestData.PickRows(rows, d, k, seed: 8);
        var centroids = start.ToArray();
        for (int iteration = 1; iteration <= 4; iteration++)
        {
            var labels = Enumerable.Range(0, n).Select(r => Nearest(rows.AsSpan(r * d, d), centroids, d).Label).ToArray();
            var next = centroids.ToArray();
            for (int c = 0; c < k; c++)
            {
                var members = Enumerable.Range(0, n).Where(r => labels[r] == c).ToList();
                if (members.Count == 0)
                    continue;
                for (int j = 0; j < d; j++)
                    next[c * d + j] = Median(members.Select(r => (rows[r * d + j], weights[r])));
            }
            centroids = next;
            var options = Options(k, iterations: iteration);
            options.Initialization = KMeansInitialization.Explicit;
            options.InitialCentroids = start;
            var model = new KMeans(options).Fit(rows, d, weights);
            CollectionAssert.AreEqual(centroids, model.Centroids.ToArray(), $"after {iteration} iterations");
        }
    }

    [TestMethod]
    public void The_L1_objective_never_rises_and_the_model_scores_by_brute_force()
    {
        const int n = 4000, d = 5, k = 9;
        var rows = TestData.Gaussian(n, d, seed: 6);
        var model = new KMeans(Options(k, iterations: 30)).Fit(rows, d);
        var history = model.InertiaHistory;
        for (int i = 1; i < history.Count; i++)
            Assert.IsTrue(history[i] <= history[i - 1] * (1 + 1e-6), $"iteration {i}: {history[i]} after {history[i - 1]}");
        Assert.AreEqual(KMeansDistance.Manhattan, model.Distance);
        var labels = model.Predict(rows, d);
        var distances = model.Transform(rows);
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            var (label, best) = Nearest(rows.AsSpan(r * d, d), model.Centroids.Span, d);
            Assert.AreEqual(best, L1(rows.AsSpan(r * d, d), model.GetCentroid(labels[r])), 1e-4 * (1 + best), $"row {r}");
            for (int c = 0; c < k; c++)
                Assert.AreEqual(L1(rows.AsSpan(r * d, d), model.GetCentroid(c)), distances[r * k + c], 1e-4 * (1 + best));
            total += best;
        }
        Assert.AreEqual(total, model.Score(rows), 1e-5 * total);
        Assert.AreEqual(total, model.Inertia, 1e-5 * total, "the model's inertia is that of its centroids");

        using var saved = new MemoryStream();
        model.Save(saved);
        saved.Position = 0;
        var loaded = KMeansModel.Load(saved);
        Assert.AreEqual(KMeansDistance.Manhattan, loaded.Distance);
        CollectionAssert.AreEqual(labels, loaded.Predict(rows, d));
        CollectionAssert.AreEqual(labels, ToArray(loaded, rows, d));
    }

    private static int[] ToArray(KMeansModel model, float[] rows, int d)
    {
        var labels = new int[rows.Length / d];
        model.Predict(new InMemoryBatchSource(rows, d), labels);
        return labels;
    }

    [TestMethod]
    public void Outliers_move_an_L1_centroid_far_less_than_a_mean()
    {
        // One cluster around 0 with 5% of its rows at 1000: the median stays in the bulk, the mean does not.
        const int n = 2000, d = 3;
        var rows = TestData.Gaussian(n, d, seed: 1);
        for (int r = 0; r < n / 20; r++)
            for (int j = 0; j < d; j++)
                rows[r * d + j] = 1000;
        var l1 = new KMeans(Options(1)).Fit(rows, d);
        var l2 = new KMeans(new KMeansOptions { NumberOfClusters = 1, Device = ComputeDevice.Cpu }).Fit(rows, d);
        Assert.IsTrue(L1(l1.GetCentroid(0), new float[d]) < 0.5, $"median at {string.Join(", ", l1.GetCentroid(0).ToArray())}");
        Assert.IsTrue(L1(l2.GetCentroid(0), new float[d]) > 100);
    }

    [TestMethod]
    public void A_stream_moves_each_centroid_to_its_first_batch_median_then_towards_the_next()
    {
        const int d = 4, k = 3, n = 600;
        var start = new float[] { 0, 0, 0, 0, 10, 10, 10, 10, -10, 10, -10, 10 };
        var options = new KMeansOptions
        {
            NumberOfClusters = k, Distance = KMeansDistance.Manhattan, Initialization = KMeansInitialization.Explicit, InitialCentroids = start,
            MiniBatch = new MiniBatchOptions { ReassignmentRatio = 0 },
        };
        var model = new MiniBatchKMeans(options, d);
        var first = TestData.Gaussian(n, d, seed: 2).Select(v => v * 3).ToArray();
        var second = TestData.Gaussian(n, d, seed: 3).Select(v => v * 3 + 1).ToArray();
        var centroids = start.ToArray();
        var seen = new double[k];
        foreach (var rows in new[] { first, second })
        {
            var labels = Enumerable.Range(0, n).Select(r => Nearest(rows.AsSpan(r * d, d), centroids, d).Label).ToArray();
            for (int c = 0; c < k; c++)
            {
                var members = Enumerable.Range(0, n).Where(r => labels[r] == c).ToList();
                if (members.Count == 0)
                    continue;
                for (int j = 0; j < d; j++)
                {
                    float median = Median(members.Select(r => (rows[r * d + j], 1f)));
                    // c ← c + η(m − c), η = batch weight / seen weight, in the running mean's form.
                    centroids[c * d + j] = (float)((centroids[c * d + j] * seen[c] + (double)median * members.Count) / (seen[c] + members.Count));
                }
                seen[c] += members.Count;
            }
            model.PartialFit(rows);
            CollectionAssert.AreEqual(centroids, model.Snapshot().Centroids.ToArray());
        }
    }

    [TestMethod]
    public void Asking_for_the_GPU_for_L1_without_one_is_a_clear_error()
    {
        // L1 runs on a GPU where one is usable (Cuda/ManhattanGpuTests); without one, asking for it names why.
        if (Cuda.Gpu.Present)
            Assert.Inconclusive("a CUDA device is present here");
        var options = Options(2);
        options.Device = ComputeDevice.Cuda;
        var e = Assert.ThrowsExactly<NotSupportedException>(() => new KMeans(options).Fit(TestData.Gaussian(50, 3, 1), 3));
        StringAssert.Contains(e.Message, "Cuda");
        StringAssert.Contains(e.Message, Cuda.Gpu.Reason);
    }
}
