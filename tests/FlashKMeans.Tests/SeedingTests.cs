using FlashKMeans.Clustering;

namespace FlashKMeans.Tests;

[TestClass]
public sealed class SeedingTests
{
    private static KMeansModel SeedOnly(float[] data, int d, int k, KMeansInitialization initialization, int seed = 0) =>
        new KMeans(new KMeansOptions
        {
            NumberOfClusters = k,
            Initialization = initialization,
            MaximumNumberOfIterations = 0,
            Seed = seed,
            Device = ComputeDevice.Cpu,
        }).Fit(data, d);

    [TestMethod]
    public void Explicit_centroids_are_copied_when_the_estimator_is_made()
    {
        var initial = new float[] { -1, 0, 1, 0 };
        var kmeans = new KMeans(new KMeansOptions
        {
            NumberOfClusters = 2, Device = ComputeDevice.Cpu, Initialization = KMeansInitialization.Explicit,
            InitialCentroids = initial, MaximumNumberOfIterations = 0,
        });
        initial[0] = 99; // the options were "copied", yet the fit used to start from the caller's changed array
        var model = kmeans.Fit(new float[] { -1, 0, 1, 0, 2, 0 }, 2);
        CollectionAssert.AreEqual(new float[] { -1, 0, 1, 0 }, model.Centroids.ToArray());
        CollectionAssert.AreEqual(new float[] { -1, 0, 1, 0 }, kmeans.Options.InitialCentroids.ToArray());
    }

    [TestMethod]
    [DataRow(KMeansInitialization.KMeansPlusPlus)]
    [DataRow(KMeansInitialization.KMeansParallel)]
    [DataRow(KMeansInitialization.RandomRows)]
    public void Seeds_are_distinct_rows_of_the_data(KMeansInitialization initialization)
    {
        int d = 3, k = 40;
        var data = TestData.Gaussian(3000, d, seed: 19);
        var model = SeedOnly(data, d, k, initialization);
        var rows = new HashSet<string>();
        for (int r = 0; r < data.Length / d; r++)
            rows.Add(string.Join(",", data.AsSpan(r * d, d).ToArray()));
        var seeds = new HashSet<string>();
        for (int c = 0; c < k; c++)
        {
            string key = string.Join(",", model.GetCentroid(c).ToArray());
            if (initialization != KMeansInitialization.KMeansParallel)
                Assert.IsTrue(rows.Contains(key), $"seed {c} is not a data row");
            seeds.Add(key);
        }
        Assert.AreEqual(k, seeds.Count, "seeds must be distinct");
    }

    [TestMethod]
    [DataRow(KMeansInitialization.KMeansPlusPlus)]
    [DataRow(KMeansInitialization.KMeansParallel)]
    public void Distance_based_seeding_finds_every_separated_blob(KMeansInitialization initialization)
    {
        // Eight tight blobs far apart: k-means++ and k-means|| should put one seed in each with high probability;
        // random rows would miss some blob most of the time.
        int d = 5, k = 8;
        var data = TestData.Blobs(4000, d, centers: k, spread: 100, seed: 23);
        int hits = 0;
        for (int seed = 0; seed < 5; seed++)
        {
            var model = SeedOnly(data, d, k, initialization, seed);
            var labels = model.Predict(data, d);
            if (labels.Distinct().Count() == k && model.Inertia < 2.0 * d * data.Length / d)
                hits++;
        }
        Assert.IsTrue(hits >= 4, $"only {hits} of 5 seedings covered every blob");
    }

    [TestMethod]
    public void Several_initialisations_keep_the_lowest_inertia()
    {
        int d = 2, k = 6;
        var data = TestData.Blobs(3000, d, centers: 9, spread: 6, seed: 29);
        var single = Enumerable.Range(0, 4).Select(i => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Initialization = KMeansInitialization.RandomRows, Device = ComputeDevice.Cpu,
            Seed = 77, NumberOfInitializations = i + 1,
        }).Fit(data, d).Inertia).ToArray();
        for (int i = 1; i < single.Length; i++)
            Assert.IsTrue(single[i] <= single[i - 1], $"{i + 1} initialisations gave {single[i]}, worse than {single[i - 1]}");
    }

    [TestMethod]
    public void Subsampling_trains_on_at_most_M_points_per_centroid()
    {
        int d = 4, k = 5;
        var data = TestData.Blobs(20_000, d, centers: 5, spread: 20, seed: 2);
        var model = new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, MaximumPointsPerCentroid = 100, Device = ComputeDevice.Cpu, Seed = 4,
        }).Fit(data, d);
        var full = new KMeans(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu, Seed = 4 }).Fit(data, d);
        // The sample's inertia covers 500 rows, so it is far below the full data's; the centroids still find the blobs.
        Assert.IsTrue(model.Inertia < full.Inertia / 10, $"sample inertia {model.Inertia} vs full {full.Inertia}");
        double fullCost = full.Score(data), sampledCost = model.Score(data);
        Assert.IsTrue(sampledCost < fullCost * 1.05, $"subsampled centroids cost {sampledCost}, full {fullCost}");
    }

    [TestMethod]
    public void Subsampling_weighted_data_samples_rows_that_weigh_something()
    {
        // 997 zero-weight rows and 3 that count: a sample of 4 rows drawn from all 1000 was almost surely weightless,
        // and the fit failed with "All row weights are zero" although the data has positive weights.
        int d = 2, n = 1000;
        var data = new float[n * d];
        var weights = new float[n];
        for (int r = 0; r < n; r++)
        {
            data[r * d] = 100 + r;
            data[r * d + 1] = -50;
        }
        (int Row, float X, float Y)[] heavy = [(17, 0, 0), (503, 0, 1), (911, 10, 10)];
        foreach (var (row, x, y) in heavy)
        {
            data[row * d] = x;
            data[row * d + 1] = y;
            weights[row] = 1;
        }
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 2, MaximumPointsPerCentroid = 2, Device = ComputeDevice.Cpu }).Fit(data, d, weights);
        Assert.AreEqual(0.5, model.Inertia, 1e-6);
        var centroids = Enumerable.Range(0, 2).Select(c => (model.GetCentroid(c)[0], model.GetCentroid(c)[1])).OrderBy(c => c.Item1).ToArray();
        Assert.AreEqual((0f, 0.5f), centroids[0]);
        Assert.AreEqual((10f, 10f), centroids[1]);

        // More weighted rows than the budget: the sample holds only weighted rows, so every row of it counts.
        for (int r = 0; r < n; r += 2)
            weights[r] = 1;
        var sampled = new KMeans(new KMeansOptions { NumberOfClusters = 2, MaximumPointsPerCentroid = 10, Device = ComputeDevice.Cpu }).Fit(data, d, weights);
        Assert.IsTrue(double.IsFinite(sampled.Inertia));
    }
}

[TestClass]
public sealed class WeightedSeedingTests
{
    [TestMethod]
    [DataRow(KMeansInitialization.KMeansPlusPlus), DataRow(KMeansInitialization.KMeansParallel)]
    public void The_first_seed_is_a_row_that_weighs_something(KMeansInitialization initialization)
    {
        int d = 3, n = 2000;
        var data = TestData.Gaussian(n, d, seed: 4);
        var weights = new float[n];
        // 0.5% of the rows carry weight: plain uniform draws would almost always pick a weightless row.
        for (int r = 700; r < 710; r++)
            weights[r] = 1;
        var allowed = Enumerable.Range(700, 10).Select(r => string.Join(",", data.AsSpan(r * d, d).ToArray())).ToHashSet();
        for (int seed = 0; seed < 6; seed++)
        {
            var model = new KMeans(new KMeansOptions
            {
                NumberOfClusters = 1, Initialization = initialization, MaximumNumberOfIterations = 0, Seed = seed, Device = ComputeDevice.Cpu,
            }).Fit(data, d, weights);
            Assert.IsTrue(allowed.Contains(string.Join(",", model.GetCentroid(0).ToArray())), $"seed {seed}: the first seed weighs nothing");
        }
    }

    [TestMethod]
    [DoNotParallelize]
    public void A_long_host_reduction_is_announced_and_a_short_one_is_not()
    {
        var data = TestData.Blobs(4000, 8, centers: 20, spread: 10, seed: 2);
        List<string> Warnings()
        {
            var log = new ListLogger();
            new KMeans(new KMeansOptions { NumberOfClusters = 20, Device = ComputeDevice.Cpu, MaximumNumberOfIterations = 1, Logger = log }).Fit(data, 8);
            return log.Messages.Where(m => m.Contains("k-means++ on the host", StringComparison.Ordinal)).ToList();
        }
        Assert.AreEqual(0, Warnings().Count, "a reduction of a few hundred candidates is quick");
        double saved = FlashKMeans.Engine.KMeansParallelSeeding.HostReductionWarningFlops;
        FlashKMeans.Engine.KMeansParallelSeeding.HostReductionWarningFlops = 1;
        try
        {
            var warning = Warnings().Single();
            StringAssert.Contains(warning, "K = 20");
            StringAssert.Contains(warning, "Hierarchical");
        }
        finally
        {
            FlashKMeans.Engine.KMeansParallelSeeding.HostReductionWarningFlops = saved;
        }
    }
}
