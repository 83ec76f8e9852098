using FlashKMeans.Clustering;
using FlashKMeans.Cpu;
using FlashKMeans.Data;

namespace FlashKMeans.Tests;

/// <summary>
/// Yinyang pruning must never change a result: every step's labels and distances, the centroids and the
/// inertia history are bit-identical with it on and off, at any thread count.
/// </summary>
[TestClass]
public sealed class PruningTests
{
    public static IEnumerable<object[]> DataSets =>
    [
        // n (odd on purpose), d, k, blobs (centres, 0 = plain Gaussian), weighted
        [5003, 32, 100, 25, false],
        [3001, 7, 40, 0, false],
        [4099, 130, 257, 60, true],
        [2001, 3, 17, 6, false],
        [6007, 64, 1024, 0, false],
        [2500, 1, 33, 0, true],
    ];

    [TestMethod]
    [DynamicData(nameof(DataSets))]
    public void Every_step_is_bit_identical_with_pruning_on_and_off(int n, int d, int k, int centers, bool weighted)
    {
        var data = centers > 0 ? TestData.Blobs(n, d, centers, spread: 4, seed: n + d) : TestData.Gaussian(n, d, seed: n + d);
        var weights = weighted ? RandomWeights(n, seed: k) : null;
        var initial = TestData.PickRows(data, d, k, seed: k + 1);
        foreach (var bounds in new[] { CpuDataBinding.PruningBounds.Stored, CpuDataBinding.PruningBounds.GapsOnly })
        {
            foreach (int threads in new[] { 1, 2, 4 })
            {
                using var plain = Bind(data, d, weights, k, threads, pruning: false);
                using var pruned = Bind(data, d, weights, k, threads, pruning: true, bounds);
                Assert.IsNotNull(pruned.Pruning, "pruning should be active for these shapes");
                plain.SetCentroids(initial);
                pruned.SetCentroids(initial);
                for (int step = 0; step < 8; step++)
                {
                    string context = $"{bounds}, step {step}, {threads} threads";
                    var a = plain.Step(false, CancellationToken.None);
                    var b = pruned.Step(false, CancellationToken.None);
                    Assert.AreEqual(a, b, context);
                    CollectionAssert.AreEqual(Labels(plain), Labels(pruned), $"labels, {context}");
                    CollectionAssert.AreEqual(Distances(plain), Distances(pruned), $"distances, {context}");
                    CollectionAssert.AreEqual(Centroids(plain), Centroids(pruned), $"centroids, {context}");
                }
            }
        }
    }

    [TestMethod]
    public void Fit_results_are_bit_identical_with_pruning_including_reseeding_and_restarts()
    {
        int d = 24, k = 150;
        // Duplicated rows and more clusters than blobs force empty clusters and re-seeding.
        var blobs = TestData.Blobs(1500, d, centers: 40, spread: 5, seed: 5);
        var data = blobs.Concat(blobs).ToArray();
        KMeansModel Fit(bool pruning, int threads) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k,
            Device = ComputeDevice.Cpu,
            Initialization = KMeansInitialization.KMeansPlusPlus,
            NumberOfInitializations = 2,
            MaximumNumberOfIterations = 15,
            OptimizationTolerance = 0,
            NumberOfThreads = threads,
            UsePruning = pruning,
            Seed = 9,
        }).Fit(data, d);

        var reference = Fit(pruning: false, threads: 1);
        foreach (int threads in new[] { 1, 2, 4 })
        {
            var model = Fit(pruning: true, threads);
            CollectionAssert.AreEqual(reference.Centroids.ToArray(), model.Centroids.ToArray(), $"{threads} threads");
            CollectionAssert.AreEqual(reference.InertiaHistory.ToArray(), model.InertiaHistory.ToArray(), $"{threads} threads");
            Assert.AreEqual(reference.Inertia, model.Inertia);
            Assert.AreEqual(reference.EmptyClustersReseeded, model.EmptyClustersReseeded);
        }
    }

    [TestMethod]
    public void Random_fits_are_bit_identical_with_pruning()
    {
        // Shapes, weights (zeros included), integer data (exact ties), initialisations, restarts and
        // thread counts drawn at random: whatever the bounds do, the fit must not change by a bit.
        for (int seed = 0; seed < 12; seed++)
        {
            var random = new Random(1000 + seed);
            int d = random.Next(1, 40), k = random.Next(17, 200), n = random.Next(k, 2500);
            bool blobs = random.Next(2) == 0, integers = random.Next(4) == 0;
            int centres = Math.Max(1, k / random.Next(1, 5));
            var data = integers
                ? TestData.Blobs(n, d, centres, spread: blobs ? 6 : 0, seed: seed).Select(v => MathF.Round(3 * v)).ToArray()
                : blobs ? TestData.Blobs(n, d, centres, spread: 6, seed: seed) : TestData.Gaussian(n, d, seed);
            var weights = random.Next(3) == 0 ? RandomWeights(n, seed) : null;
            var initialization = random.Next(2) == 0 ? KMeansInitialization.RandomRows : KMeansInitialization.KMeansPlusPlus;
            int threads = random.Next(1, 5), restarts = random.Next(1, 3);
            KMeansModel Fit(bool pruning) => new KMeans(new KMeansOptions
            {
                NumberOfClusters = k,
                Device = ComputeDevice.Cpu,
                Initialization = initialization,
                NumberOfInitializations = restarts,
                MaximumNumberOfIterations = 12,
                OptimizationTolerance = 0,
                NumberOfThreads = threads,
                UsePruning = pruning,
                Seed = seed,
            }).Fit((ReadOnlySpan<float>)data, d, weights is null ? default : (ReadOnlySpan<float>)weights);
            var off = Fit(false);
            var on = Fit(true);
            string context = $"seed {seed}: n {n}, d {d}, K {k}, {threads} threads";
            CollectionAssert.AreEqual(off.Centroids.ToArray(), on.Centroids.ToArray(), context);
            CollectionAssert.AreEqual(off.InertiaHistory.ToArray(), on.InertiaHistory.ToArray(), context);
            Assert.AreEqual(off.Inertia, on.Inertia, context);
        }
    }

    [TestMethod]
    public void Cosine_fit_is_bit_identical_with_pruning()
    {
        int d = 16, k = 48;
        var data = TestData.Blobs(3000, d, centers: 12, spread: 3, seed: 21);
        KMeansModel Fit(bool pruning) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k,
            Device = ComputeDevice.Cpu,
            Distance = KMeansDistance.Cosine,
            MaximumNumberOfIterations = 10,
            OptimizationTolerance = 0,
            UsePruning = pruning,
            Seed = 4,
        }).Fit(data, d);
        var off = Fit(false);
        var on = Fit(true);
        CollectionAssert.AreEqual(off.Centroids.ToArray(), on.Centroids.ToArray());
        CollectionAssert.AreEqual(off.InertiaHistory.ToArray(), on.InertiaHistory.ToArray());
    }

    [TestMethod]
    [DataRow(true), DataRow(false)]
    public void Evaluate_is_bit_identical_with_pruning_and_leaves_the_steps_unchanged(bool storeBounds)
    {
        var bounds = Mode(storeBounds);
        int n = 4001, d = 20, k = 64;
        var data = TestData.Blobs(n, d, centers: 16, spread: 4, seed: 12);
        var initial = TestData.PickRows(data, d, k, seed: 13);
        var random = new Random(14);
        using var plain = Bind(data, d, null, k, 2, pruning: false);
        using var pruned = Bind(data, d, null, k, 2, pruning: true, bounds);
        plain.SetCentroids(initial);
        pruned.SetCentroids(initial);
        for (int step = 0; step < 6; step++)
        {
            Assert.AreEqual(plain.Step(false, CancellationToken.None), pruned.Step(false, CancellationToken.None), $"step {step}");
            // The current centroids, then the same moved a little and a lot.
            foreach (double shift in new[] { 0.0, 0.05, 3.0 })
            {
                var probe = Centroids(plain).Select(v => (float)(v + shift * TestData.Normal(random))).ToArray();
                var weightsPlain = new double[k];
                var weightsPruned = new double[k];
                double a = plain.Evaluate(probe, weightsPlain, CancellationToken.None);
                double b = pruned.Evaluate(probe, weightsPruned, CancellationToken.None);
                Assert.AreEqual(a, b, $"step {step}, shift {shift}");
                CollectionAssert.AreEqual(weightsPlain, weightsPruned, $"step {step}, shift {shift}");
            }
        }
    }

    [TestMethod]
    [DataRow(true), DataRow(false)]
    public void Exact_ties_go_to_the_lowest_index_as_without_pruning(bool storeBounds)
    {
        var bounds = Mode(storeBounds);
        // Integer data and centroids repeated at several indices make exactly equal distances common.
        int n = 3000, d = 4, k = 64;
        var random = new Random(3);
        var data = new float[n * d];
        for (int i = 0; i < data.Length; i++)
            data[i] = random.Next(-3, 4);
        var initial = new float[k * d];
        for (int c = 0; c < k; c++)
            data.AsSpan((c % 20) * d, d).CopyTo(initial.AsSpan(c * d, d));
        using var plain = Bind(data, d, null, k, 2, pruning: false);
        using var pruned = Bind(data, d, null, k, 2, pruning: true, bounds);
        plain.SetCentroids(initial);
        pruned.SetCentroids(initial);
        for (int step = 0; step < 6; step++)
        {
            Assert.AreEqual(plain.Step(false, CancellationToken.None), pruned.Step(false, CancellationToken.None), $"step {step}");
            CollectionAssert.AreEqual(Labels(plain), Labels(pruned), $"labels, step {step}");
            CollectionAssert.AreEqual(Centroids(plain), Centroids(pruned), $"centroids, step {step}");
        }
    }

    [TestMethod]
    [DataRow(true), DataRow(false)]
    public void Pruning_skips_most_distance_panels_on_separated_blobs(bool storeBounds)
    {
        var bounds = Mode(storeBounds);
        int n = 20000, d = 32, k = 256;
        var data = TestData.Blobs(n, d, centers: 64, spread: 4, seed: 77);
        var initial = TestData.PickRows(data, d, k, seed: 78);
        using var pruned = Bind(data, d, null, k, 2, pruning: true, bounds);
        pruned.SetCentroids(initial);
        var pruning = pruned.Pruning!;
        long full = (long)n * pruning.GroupCount;
        pruned.Step(false, CancellationToken.None);
        Assert.AreEqual(full, pruning.PanelsComputed, "the first step computes everything");
        for (int step = 1; step < 6; step++)
            pruned.Step(false, CancellationToken.None);
        // Every row recomputes at least its own group; on blobs 4·spread apart little else should be needed.
        Assert.IsTrue(pruning.PanelsComputed >= n);
        Assert.IsTrue(pruning.PanelsComputed < full / 4, $"computed {pruning.PanelsComputed} of {full} panels");
    }

    [TestMethod]
    public void Falls_back_to_the_unpruned_kernel_where_bounds_skip_little()
    {
        // Plain Gaussian noise: every group stays close to every row, so a pruned step computes most
        // panels; the next steps must run the unpruned kernel (every panel, counted once per row).
        int n = 6000, d = 8, k = 96;
        var data = TestData.Gaussian(n, d, seed: 41);
        using var pruned = Bind(data, d, null, k, 2, pruning: true);
        pruned.SetCentroids(TestData.PickRows(data, d, k, seed: 42));
        var pruning = pruned.Pruning!;
        long full = (long)n * pruning.GroupCount;
        pruned.Step(false, CancellationToken.None);
        pruned.Step(false, CancellationToken.None);
        Assert.IsTrue(pruning.PanelsComputed * 2 > full, $"the pruned step computed {pruning.PanelsComputed} of {full}");
        pruned.Step(false, CancellationToken.None);
        Assert.AreEqual(full, pruning.PanelsComputed, "the step after a poor pruned step is a full one");
    }

    private static CpuDataBinding.PruningBounds Mode(bool storeBounds) =>
        storeBounds ? CpuDataBinding.PruningBounds.Stored : CpuDataBinding.PruningBounds.GapsOnly;

    private static CpuDataBinding Bind(float[] data, int d, float[]? weights, int k, int threads, bool pruning,
        CpuDataBinding.PruningBounds bounds = CpuDataBinding.PruningBounds.Auto)
    {
        var source = new InMemoryBatchSource(data, d, weights ?? default(ReadOnlyMemory<float>), batchRows: 1777);
        var summary = DataValidator.Scan(source);
        return new CpuDataBinding(source, summary, k, threads, pruning, bounds);
    }

    private static float[] RandomWeights(int n, int seed)
    {
        var random = new Random(seed);
        var weights = new float[n];
        for (int i = 0; i < n; i++)
            weights[i] = random.Next(4) == 0 ? 0f : (float)(random.NextDouble() * 3);
        return weights;
    }

    private static int[] Labels(CpuDataBinding binding) => binding.LabelsForTesting.ToArray();

    private static float[] Distances(CpuDataBinding binding) => binding.DistancesForTesting.ToArray();

    private static float[] Centroids(CpuDataBinding binding)
    {
        var centroids = new float[binding.NumberOfClusters * binding.Dimension];
        binding.GetCentroids(centroids);
        return centroids;
    }
}
