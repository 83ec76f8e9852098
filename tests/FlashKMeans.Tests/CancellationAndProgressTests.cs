using System.Diagnostics;
using FlashKMeans.Clustering;

namespace FlashKMeans.Tests;

[TestClass]
public sealed class CancellationAndProgressTests
{
    [TestMethod]
    public void Cancellation_stops_a_running_fit_promptly()
    {
        int d = 64;
        var data = TestData.Gaussian(100_000, d, seed: 2);
        using var cancel = new CancellationTokenSource();
        var clock = new Stopwatch();
        var progress = new Inline(p =>
        {
            if (p.Iteration == 2)
            {
                clock.Start();
                cancel.Cancel();
            }
        });
        var kmeans = new KMeans(new KMeansOptions
        {
            NumberOfClusters = 256, MaximumNumberOfIterations = 1000, OptimizationTolerance = 0,
            Initialization = KMeansInitialization.RandomRows, Device = ComputeDevice.Cpu,
        });
        Assert.Throws<OperationCanceledException>(() => kmeans.Fit(data, d, default, progress, cancel.Token));
        clock.Stop();
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed} to stop");
    }

    [TestMethod]
    public void Progress_reports_every_iteration_with_its_inertia()
    {
        int d = 3;
        var data = TestData.Blobs(2000, d, centers: 4, spread: 5, seed: 2);
        var reports = new List<KMeansProgress>();
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 4, MaximumNumberOfIterations = 7, OptimizationTolerance = 0, Device = ComputeDevice.Cpu })
            .Fit(data, d, default, new Inline(r => { if (r.Phase == KMeansPhase.Lloyd) reports.Add(r); }));
        Assert.AreEqual(7, reports.Count);
        CollectionAssert.AreEqual(Enumerable.Range(1, 7).ToArray(), reports.Select(r => r.Iteration).ToArray());
        CollectionAssert.AreEqual(model.InertiaHistory.ToArray(), reports.Select(r => r.Inertia).ToArray());
        Assert.IsTrue(reports.Zip(reports.Skip(1)).All(p => p.First.Elapsed <= p.Second.Elapsed));
        Assert.AreEqual(7, model.Statistics.Count);
        Assert.IsTrue(model.Statistics.All(s => s.ImbalanceFactor >= 1 - 1e-12));
    }

    [TestMethod]
    public void The_validation_pass_reports_the_rows_it_has_read_before_any_other_work()
    {
        const int d = 3, n = 400_000; // several slices of the validation pass
        var data = TestData.Blobs(n, d, centers: 4, spread: 5, seed: 8);
        var reports = new List<KMeansProgress>();
        new KMeans(new KMeansOptions { NumberOfClusters = 4, MaximumNumberOfIterations = 2, Device = ComputeDevice.Cpu })
            .Fit(data, d, default, new Inline(reports.Add));
        var validation = reports.TakeWhile(r => r.Phase == KMeansPhase.Validation).ToList();
        Assert.IsGreaterThan(1, validation.Count, "a pass of several slices reports more than once");
        Assert.IsTrue(validation.Zip(validation.Skip(1)).All(p => p.First.RowsRead < p.Second.RowsRead && p.First.Fraction < p.Second.Fraction),
            "rows read and the fraction rise");
        Assert.AreEqual((long)n, validation[^1].RowsRead);
        Assert.AreEqual(1.0, validation[^1].Fraction);
        Assert.IsTrue(reports.Skip(validation.Count).All(r => r.Phase != KMeansPhase.Validation && r.RowsRead == 0), "validation comes first, once");

        // A source that does not know its row count still reports rows, with no fraction.
        var unknown = new List<KMeansProgress>();
        new KMeans(new KMeansOptions { NumberOfClusters = 4, MaximumNumberOfIterations = 1, Device = ComputeDevice.Cpu })
            .Fit(new UncountedSource(new Data.InMemoryBatchSource(data, d)), new Inline(unknown.Add));
        var rows = unknown.Where(r => r.Phase == KMeansPhase.Validation).ToList();
        Assert.AreEqual((long)n, rows[^1].RowsRead);
        Assert.IsTrue(rows.All(r => double.IsNaN(r.Fraction)));
    }

    private sealed class UncountedSource(Data.IBatchSource inner) : Data.IBatchSource
    {
        public int Dimension => inner.Dimension;

        public long? RowCount => null;

        public bool HasWeights => inner.HasWeights;

        public Data.IBatchReader OpenReader() => inner.OpenReader();
    }

    [TestMethod]
    [DataRow(KMeansInitialization.KMeansParallel), DataRow(KMeansInitialization.KMeansPlusPlus), DataRow(KMeansInitialization.RandomRows)]
    public void Seeding_reports_its_phase_and_a_rising_fraction_before_the_first_iteration(KMeansInitialization initialization)
    {
        int d = 4;
        var data = TestData.Blobs(5000, d, centers: 8, spread: 5, seed: 3);
        var reports = new List<KMeansProgress>();
        new KMeans(new KMeansOptions { NumberOfClusters = 300, Initialization = initialization, MaximumNumberOfIterations = 3, Device = ComputeDevice.Cpu })
            .Fit(data, d, default, new Inline(reports.Add));
        // The validation pass reports first (its own test is below).
        var validation = reports.TakeWhile(r => r.Phase == KMeansPhase.Validation).Count();
        reports.RemoveRange(0, validation);
        var seeding = reports.TakeWhile(r => r.Phase == KMeansPhase.Seeding).ToList();
        Assert.IsTrue(seeding.Count >= 2, $"{seeding.Count} seeding reports");
        Assert.AreEqual(0, seeding[0].Fraction);
        Assert.AreEqual(1, seeding[^1].Fraction);
        Assert.IsTrue(seeding.Zip(seeding.Skip(1)).All(p => p.First.Fraction < p.Second.Fraction), "fractions rise");
        if (initialization != KMeansInitialization.RandomRows)
            Assert.IsTrue(seeding.Count >= 20, $"K = 300 seeding steps gave only {seeding.Count} reports");
        Assert.IsTrue(seeding.All(r => r.Iteration == 0 && double.IsNaN(r.Inertia)));
        Assert.IsTrue(reports.Skip(seeding.Count).All(r => r.Phase == KMeansPhase.Lloyd && r.Fraction == 1), "seeding reports come only before Lloyd's");
        Assert.AreEqual(3, reports.Count - seeding.Count);
    }

    [TestMethod]
    public void Tolerance_stops_early_and_reports_convergence()
    {
        int d = 2;
        var data = TestData.Blobs(3000, d, centers: 3, spread: 30, seed: 9);
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 3, MaximumNumberOfIterations = 100, OptimizationTolerance = 1e-4, Device = ComputeDevice.Cpu }).Fit(data, d);
        Assert.IsTrue(model.Converged);
        Assert.IsTrue(model.Iterations < 100);
        var fixedRun = new KMeans(new KMeansOptions { NumberOfClusters = 3, MaximumNumberOfIterations = 12, OptimizationTolerance = 0, Device = ComputeDevice.Cpu }).Fit(data, d);
        Assert.AreEqual(12, fixedRun.Iterations);
        Assert.IsFalse(fixedRun.Converged);
    }

    [TestMethod]
    public void Explicit_centroids_run_one_initialisation_whatever_the_number_asked_for()
    {
        // Every initialisation from the same explicit centroids repeats the first: three used to take three times as long.
        int d = 2;
        var data = TestData.Blobs(1000, d, centers: 3, spread: 5, seed: 4);
        var reports = new List<KMeansProgress>();
        var model = new KMeans(new KMeansOptions
        {
            NumberOfClusters = 3, Device = ComputeDevice.Cpu, Initialization = KMeansInitialization.Explicit,
            InitialCentroids = TestData.PickRows(data, d, 3, seed: 1), NumberOfInitializations = 3,
        }).Fit(data, d, default, new Inline(r => { if (r.Phase == KMeansPhase.Lloyd) reports.Add(r); }));
        Assert.IsTrue(reports.All(r => r.Initialization == 0), string.Join(", ", reports.Select(r => r.Initialization).Distinct()));
        Assert.AreEqual(model.Iterations, reports.Count);
    }

    private sealed class Inline(Action<KMeansProgress> report) : IProgress<KMeansProgress>
    {
        public void Report(KMeansProgress value) => report(value);
    }
}
