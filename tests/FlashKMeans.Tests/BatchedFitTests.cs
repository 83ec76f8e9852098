using System.Diagnostics;
using FlashKMeans.Backends;
using FlashKMeans.Clustering;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Engine;

namespace FlashKMeans.Tests;

/// <summary>
/// <see cref="KMeans.FitBatched"/> on the CPU: B problems in lockstep give exactly the B separate fits with the
/// problems' seeds, a batch of one is the plain fit, a problem that converges early keeps its result, and bad
/// input fails before any work with a message that names the problem.
/// </summary>
[TestClass]
public sealed class BatchedFitTests
{
    private static KMeansOptions Options(int k, int seed, Action<KMeansOptions>? change = null)
    {
        var options = new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu, Seed = seed, MaximumNumberOfIterations = 40 };
        change?.Invoke(options);
        return options;
    }

    /// <summary>B problems of n × d, each from its own blobs (fresh random data).</summary>
    private static float[] Problems(int b, int n, int d, int centers, int seed) =>
        Enumerable.Range(0, b).SelectMany(p => TestData.Blobs(n, d, centers, spread: 1.5 + 0.5 * p, seed: seed + p)).ToArray();

    internal static void AssertSameModel(KMeansModel expected, KMeansModel actual, string what)
    {
        CollectionAssert.AreEqual(expected.Centroids.ToArray(), actual.Centroids.ToArray(), $"{what}: centroids");
        Assert.AreEqual(expected.Inertia, actual.Inertia, $"{what}: inertia");
        Assert.AreEqual(expected.Iterations, actual.Iterations, $"{what}: iterations");
        Assert.AreEqual(expected.Converged, actual.Converged, $"{what}: converged");
        Assert.AreEqual(expected.EmptyClustersReseeded, actual.EmptyClustersReseeded, $"{what}: re-seeded clusters");
        CollectionAssert.AreEqual(expected.InertiaHistory.ToArray(), actual.InertiaHistory.ToArray(), $"{what}: inertia history");
        CollectionAssert.AreEqual(expected.Statistics.Select(s => (s.Iteration, s.Inertia, s.LabelsChanged, s.EmptyClustersReseeded)).ToArray(),
            actual.Statistics.Select(s => (s.Iteration, s.Inertia, s.LabelsChanged, s.EmptyClustersReseeded)).ToArray(), $"{what}: statistics");
    }

    [TestMethod]
    [DataRow("plain")]
    [DataRow("weighted")]
    [DataRow("cosine")]
    [DataRow("k-means++, two initialisations")]
    [DataRow("random rows, fixed iterations")]
    [DataRow("sub-sampled")]
    [DataRow("pruning")]
    public void Batched_fit_equals_separate_fits_with_the_problem_seeds(string variant)
    {
        int b = 5, n = 1500, d = 7, k = 9, seed = 42;
        var data = Problems(b, n, d, centers: 12, seed: 300);
        var random = new Random(8);
        float[]? weights = variant == "weighted" ? Enumerable.Range(0, b * n).Select(_ => (float)(random.NextDouble() < 0.1 ? 0 : 0.2 + random.NextDouble())).ToArray() : null;
        Action<KMeansOptions> change = variant switch
        {
            "cosine" => o => o.Distance = KMeansDistance.Cosine,
            "k-means++, two initialisations" => o => { o.Initialization = KMeansInitialization.KMeansPlusPlus; o.NumberOfInitializations = 2; },
            "random rows, fixed iterations" => o => { o.Initialization = KMeansInitialization.RandomRows; o.OptimizationTolerance = 0; o.MaximumNumberOfIterations = 12; },
            "sub-sampled" => o => o.MaximumPointsPerCentroid = 100,
            "pruning" => o => o.UsePruning = true,
            _ => _ => { },
        };
        var batched = new KMeans(Options(k, seed, change)).FitBatched(data, b, d, weights);
        Assert.AreEqual(b, batched.Length);
        var distinct = new HashSet<int>();
        for (int p = 0; p < b; p++)
        {
            int problemSeed = KMeans.ProblemSeed(seed, p);
            distinct.Add(problemSeed);
            var alone = new KMeans(Options(k, problemSeed, change)).Fit(data.AsMemory(p * n * d, n * d), d,
                weights is null ? default : weights.AsMemory(p * n, n));
            AssertSameModel(alone, batched[p], $"{variant}, problem {p}");
        }
        Assert.AreEqual(b, distinct.Count, "every problem has its own seed");
    }

    [TestMethod]
    public void Batched_fit_is_the_same_at_any_thread_count()
    {
        int b = 3, n = 5000, d = 5, k = 20;
        var data = Problems(b, n, d, centers: 25, seed: 50);
        KMeansModel[] Fit(int threads) => new KMeans(Options(k, 7, o => o.NumberOfThreads = threads)).FitBatched(data, b, d);
        var one = Fit(1);
        var two = Fit(2);
        for (int p = 0; p < b; p++)
            AssertSameModel(one[p], two[p], $"problem {p}");
    }

    [TestMethod]
    [DataRow(KMeansInitialization.KMeansParallel, false)]
    [DataRow(KMeansInitialization.KMeansPlusPlus, true)]
    public void Batch_of_one_is_the_plain_fit(KMeansInitialization initialization, bool weighted)
    {
        int n = 4000, d = 6, k = 15;
        var data = TestData.Blobs(n, d, centers: 20, spread: 2, seed: 61);
        var random = new Random(2);
        float[]? weights = weighted ? Enumerable.Range(0, n).Select(_ => (float)(0.1 + random.NextDouble())).ToArray() : null;
        var options = Options(k, 99, o => o.Initialization = initialization);
        var plain = new KMeans(options).Fit(data, d, weights);
        var batched = new KMeans(options).FitBatched(data, 1, d, weights);
        Assert.AreEqual(1, batched.Length);
        AssertSameModel(plain, batched[0], "B = 1");
        Assert.AreEqual(99, KMeans.ProblemSeed(99, 0));
    }

    [TestMethod]
    public void A_problem_that_converges_early_keeps_its_result()
    {
        int n = 2000, d = 4, k = 6;
        // Problem 0: six tight, far-apart blobs, converged within a few iterations. Problem 1: plain noise, which
        // keeps moving for many more.
        var easy = TestData.Blobs(n, d, centers: k, spread: 50, seed: 70);
        var hard = TestData.Gaussian(n, d, seed: 71);
        var data = easy.Concat(hard).ToArray();
        var options = Options(k, 5, o => { o.MaximumNumberOfIterations = 200; o.OptimizationTolerance = 1e-7; });
        var batched = new KMeans(options).FitBatched(data, 2, d);
        Assert.IsTrue(batched[0].Converged, "the easy problem converges");
        Assert.IsTrue(batched[0].Iterations < batched[1].Iterations,
            $"the easy problem stops first ({batched[0].Iterations} vs {batched[1].Iterations} iterations)");
        Assert.AreEqual(batched[0].Iterations, batched[0].Statistics.Count);
        Assert.AreEqual(batched[1].Iterations, batched[1].Statistics.Count);
        for (int p = 0; p < 2; p++)
        {
            var alone = new KMeans(Options(k, KMeans.ProblemSeed(5, p), o => { o.MaximumNumberOfIterations = 200; o.OptimizationTolerance = 1e-7; }))
                .Fit(data.AsMemory(p * n * d, n * d), d);
            AssertSameModel(alone, batched[p], $"problem {p}");
        }
    }

    [TestMethod]
    public void The_driver_freezes_a_converged_problem_while_the_batch_keeps_stepping_it()
    {
        // A batched GPU step runs every problem, converged or not: the driver must keep a converged problem's
        // centroids from the iteration it converged, whatever its binding does afterwards.
        int n = 2000, d = 4, k = 6;
        var sources = new IBatchSource[]
        {
            new InMemoryBatchSource(TestData.Blobs(n, d, centers: k, spread: 50, seed: 80), d),
            new InMemoryBatchSource(TestData.Gaussian(n, d, seed: 81), d),
        };
        var options = Options(k, 3, o => { o.MaximumNumberOfIterations = 100; o.OptimizationTolerance = 1e-7; });
        LloydRun[] Run(Func<IKMeansDataBinding[], IKMeansBatchStepper> stepper)
        {
            var bindings = sources.Select(s => (IKMeansDataBinding)new CpuDataBinding(s, DataValidator.Scan(s), k, threads: 2, usePruning: false)).ToArray();
            using var batch = stepper(bindings);
            var initial = bindings.Select(binding => CentroidInitializer.Run(binding, options, 11, default)).ToArray();
            return LloydDriver.Run(batch, initial, options, 0, Stopwatch.StartNew(), null, default);
        }
        var skipping = Run(b => new SequentialBatchStepper(b));
        var stepping = Run(b => new StepEverything(b));
        Assert.IsTrue(skipping[0].Converged && skipping[0].Iterations < skipping[1].Iterations, "problem 0 converges first");
        for (int p = 0; p < 2; p++)
        {
            CollectionAssert.AreEqual(skipping[p].Centroids, stepping[p].Centroids, $"problem {p} centroids");
            Assert.AreEqual(skipping[p].FinalInertia, stepping[p].FinalInertia, $"problem {p} inertia");
            Assert.AreEqual(skipping[p].Iterations, stepping[p].Iterations, $"problem {p} iterations");
            CollectionAssert.AreEqual(skipping[p].InertiaHistory.ToArray(), stepping[p].InertiaHistory.ToArray(), $"problem {p} history");
        }
    }

    /// <summary>Steps every problem each time, as a batched GPU launch does.</summary>
    private sealed class StepEverything(IKMeansDataBinding[] problems) : IKMeansBatchStepper
    {
        public IReadOnlyList<IKMeansDataBinding> Problems => problems;

        public void Step(bool normalizeCentroids, ReadOnlySpan<bool> active, Span<LloydStepResult> results, bool stepAhead, CancellationToken cancellationToken)
        {
            for (int p = 0; p < problems.Length; p++)
                results[p] = problems[p].Step(normalizeCentroids, cancellationToken);
        }

        public void Dispose()
        {
            foreach (var problem in problems)
                problem.Dispose();
        }
    }

    [TestMethod]
    public void Progress_names_the_problem()
    {
        int b = 3, n = 600, d = 3, k = 4;
        var data = Problems(b, n, d, centers: 4, seed: 90);
        var reports = new List<KMeansProgress>();
        var models = new KMeans(Options(k, 1)).FitBatched(data, b, d, progress: new SynchronousProgress(reports.Add));
        for (int p = 0; p < b; p++)
        {
            var mine = reports.Where(r => r.Problem == p && r.Phase == KMeansPhase.Lloyd).ToList();
            Assert.AreEqual(models[p].Iterations, mine.Count, $"problem {p} reports once per iteration");
            CollectionAssert.AreEqual(models[p].InertiaHistory.ToArray(), mine.Select(r => r.Inertia).ToArray(), $"problem {p} inertia");
        }
    }

    private sealed class SynchronousProgress(Action<KMeansProgress> report) : IProgress<KMeansProgress>
    {
        public void Report(KMeansProgress value) => report(value);
    }

    [TestMethod]
    public void Bad_batches_fail_with_clear_messages()
    {
        var kmeans = new KMeans(Options(3, 0));
        var data = TestData.Gaussian(3 * 10, 2, seed: 1);  // B = 3 problems of 10 rows × 2

        var e1 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => kmeans.FitBatched(data, 0, 2));
        Assert.AreEqual("batchCount", e1.ParamName);
        var e2 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => kmeans.FitBatched(data, 3, 0));
        Assert.AreEqual("dimension", e2.ParamName);
        var e3 = Assert.ThrowsExactly<ArgumentException>(() => kmeans.FitBatched(ReadOnlyMemory<float>.Empty, 3, 2));
        StringAssert.Contains(e3.Message, "empty");
        var e4 = Assert.ThrowsExactly<ArgumentException>(() => kmeans.FitBatched(data, 4, 2));
        StringAssert.Contains(e4.Message, "multiple of B × d = 8");
        var e5 = Assert.ThrowsExactly<ArgumentException>(() => kmeans.FitBatched(data, 3, 2, new float[29]));
        Assert.AreEqual("weights", e5.ParamName);
        StringAssert.Contains(e5.Message, "29 weights");
        var e6 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KMeans(Options(11, 0)).FitBatched(data, 3, 2));
        StringAssert.Contains(e6.Message, "each problem has only 10 rows");

        var poisoned = (float[])data.Clone();
        poisoned[(2 * 10 + 4) * 2 + 1] = float.NaN;  // problem 2, row 4, feature 1
        var e7 = Assert.ThrowsExactly<ArgumentException>(() => kmeans.FitBatched(poisoned, 3, 2));
        StringAssert.Contains(e7.Message, "Problem 2 of the batch (rows 20 to 29 of the data)");
        StringAssert.Contains(e7.Message, "Row 4 has a non-finite value (NaN) at feature 1");
        Assert.AreEqual("data", e7.ParamName);

        var weights = Enumerable.Repeat(1f, 30).ToArray();
        weights[13] = -1;  // problem 1, row 3
        var e8 = Assert.ThrowsExactly<ArgumentException>(() => kmeans.FitBatched(data, 3, 2, weights));
        StringAssert.Contains(e8.Message, "Problem 1 of the batch");
        StringAssert.Contains(e8.Message, "Row 3 has weight -1");

        var zero = Enumerable.Repeat(1f, 30).ToArray();
        Array.Clear(zero, 0, 10);  // problem 0 has no weight at all
        var e9 = Assert.ThrowsExactly<ArgumentException>(() => kmeans.FitBatched(data, 3, 2, zero));
        StringAssert.Contains(e9.Message, "Problem 0 of the batch");
        StringAssert.Contains(e9.Message, "All row weights are zero");

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => KMeans.ProblemSeed(1, -1));
    }
}
