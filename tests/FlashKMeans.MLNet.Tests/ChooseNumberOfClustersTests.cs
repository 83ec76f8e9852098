using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// <c>mlContext.Clustering.ChooseNumberOfClusters</c>: on blobs with a known number of centres, read from an
/// <c>IDataView</c>, it proposes that number and agrees with the engine's sweep on the same rows; a missing column is named.
/// The overload with the trainer's options passes them on, reports each K and stops when cancelled; a view that does not
/// know its row count is read as one that does.
/// </summary>
[TestClass]
public sealed class ChooseNumberOfClustersTests
{
    private const int D = 5;

    public sealed class Row
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];
    }

    public sealed class NamedRow
    {
        [VectorType(D)]
        public float[] Values { get; set; } = [];

        public float Weight { get; set; }

        public float Keep { get; set; }
    }

    [TestMethod]
    public void Proposes_the_number_of_blobs_as_the_engine_does()
    {
        var (rows, _) = Blobs.Make(2500, D, centers: 6, spread: 12, seed: 3);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 2500).Select(r => new Row { Features = rows.AsSpan(r * D, D).ToArray() }));
        var report = ml.Clustering.ChooseNumberOfClusters(data, 2, 9, seed: 4);
        Assert.AreEqual(6, report.Proposed);
        var engine = FlashKMeans.Selection.ClusterCountSweep.Run(rows, D, 2, 9, new KMeansOptions { Seed = 4 });
        CollectionAssert.AreEqual(engine.Scores.Select(s => s.Inertia).ToArray(), report.Scores.Select(s => s.Inertia).ToArray());
        Assert.AreEqual("data", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Clustering.ChooseNumberOfClusters(data, 2, 5, "Missing")).ParamName);
    }

    [TestMethod]
    public void The_trainer_options_reach_every_fit_and_progress_reports_each_K()
    {
        var (rows, _) = Blobs.Make(2000, D, centers: 5, spread: 12, seed: 8);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 2000).Select(r => new NamedRow { Values = rows.AsSpan(r * D, D).ToArray(), Weight = 1, Keep = 1 }));
        var options = new FlashKMeans.MLNet.GpuKMeansTrainer.Options
        {
            FeatureColumnName = nameof(NamedRow.Values),
            Seed = 9,
            MaximumNumberOfIterations = 7,
            InitializationAlgorithm = KMeansInitialization.KMeansPlusPlus,
            NumberOfThreads = 2,
            Device = ComputeDevice.Cpu,
        };
        var seen = new List<int>();
        var report = ml.Clustering.ChooseNumberOfClusters(data, 2, 8, options, new Reporter(s => seen.Add(s.NumberOfClusters)), CancellationToken.None);
        Assert.AreEqual(5, report.Proposed);
        CollectionAssert.AreEqual(Enumerable.Range(2, 7).ToArray(), seen, "one report per K, in order");
        // The same settings written out for the engine give the same fits.
        var engine = FlashKMeans.Selection.ClusterCountSweep.Run(rows, D, 2, 8, new KMeansOptions
        {
            Seed = 9, MaximumNumberOfIterations = 7, Initialization = KMeansInitialization.KMeansPlusPlus, NumberOfThreads = 2, Device = ComputeDevice.Cpu,
        });
        CollectionAssert.AreEqual(engine.Scores.Select(s => s.Inertia).ToArray(), report.Scores.Select(s => s.Inertia).ToArray());
        var defaults = ml.Clustering.ChooseNumberOfClusters(data, 2, 8, new FlashKMeans.MLNet.GpuKMeansTrainer.Options { FeatureColumnName = nameof(NamedRow.Values), Seed = 9 });
        Assert.AreEqual(5, defaults.Proposed);

        // A view that does not know its row count (a filter) is read in blocks: the same rows give the same report.
        var filtered = ml.Data.FilterRowsByColumn(data, nameof(NamedRow.Keep), lowerBound: 0.5);
        Assert.IsNull(filtered.GetRowCount());
        var unknown = ml.Clustering.ChooseNumberOfClusters(filtered, 2, 8, options);
        CollectionAssert.AreEqual(report.Scores.Select(s => s.Inertia).ToArray(), unknown.Scores.Select(s => s.Inertia).ToArray());

        // Cancelled after the first K: no report, an OperationCanceledException.
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsExactly<OperationCanceledException>(() =>
            ml.Clustering.ChooseNumberOfClusters(data, 2, 8, options, new Reporter(_ => cancel.Cancel()), cancel.Token));

        // A weight column, or explicit centroids (they fix one K), are refused by name before any fit.
        var weighted = options.Clone();
        weighted.ExampleWeightColumnName = nameof(NamedRow.Weight);
        Assert.AreEqual(nameof(options.ExampleWeightColumnName),
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Clustering.ChooseNumberOfClusters(data, 2, 8, weighted)).ParamName);
        var explicitStart = options.Clone();
        explicitStart.InitializationAlgorithm = KMeansInitialization.Explicit;
        explicitStart.InitialCentroids = rows.AsSpan(0, 2 * D).ToArray();
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Clustering.ChooseNumberOfClusters(data, 2, 8, explicitStart)).Message,
            "Explicit initial centroids");
    }

    [TestMethod]
    public void A_view_without_a_row_count_is_read_across_blocks()
    {
        // More rows than one block of the reader (16,384), the count unknown to it.
        int n = 20_000;
        var (rows, _) = Blobs.Make(n, D, centers: 3, spread: 12, seed: 2);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, n).Select(r => new NamedRow { Values = rows.AsSpan(r * D, D).ToArray(), Keep = r % 3 == 0 ? 0 : 1 }));
        var filtered = ml.Data.FilterRowsByColumn(data, nameof(NamedRow.Keep), lowerBound: 0.5);
        Assert.IsNull(filtered.GetRowCount());
        var column = filtered.Schema[nameof(NamedRow.Values)];
        var read = FlashKMeans.MLNet.FeatureRows.Read(filtered, column, CancellationToken.None);
        var expected = Enumerable.Range(0, n).Where(r => r % 3 != 0).SelectMany(r => rows.AsSpan(r * D, D).ToArray()).ToArray();
        CollectionAssert.AreEqual(expected, read);
    }

    private sealed class Reporter(Action<FlashKMeans.Selection.ClusterCountScore> report) : IProgress<FlashKMeans.Selection.ClusterCountScore>
    {
        public void Report(FlashKMeans.Selection.ClusterCountScore value) => report(value);
    }
}
