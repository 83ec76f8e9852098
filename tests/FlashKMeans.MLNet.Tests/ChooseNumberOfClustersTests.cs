using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// <c>mlContext.Clustering.ChooseNumberOfClusters</c>: on blobs with a known number of centres, read from an
/// <c>IDataView</c>, it proposes that number and agrees with the engine's sweep on the same rows; a missing column is named.
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
}
