using FlashKMeans.Clustering;
using FlashKMeans.Data;
using FlashKMeans.Selection;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Choosing K on the GPU: with the rows resident they are bound once for the whole sweep, and each K is still exactly the
/// fit it would be alone (deterministic update: the same bits); its labels are each row's nearest centroid by a float64
/// brute force, within fp16's rounding of the centred rows. Streamed rows are bound per K, with the same result. On blobs the
/// sweep proposes their number.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class ClusterCountSweepGpuTests : GpuTestClass
{
    [TestMethod]
    [DataRow(GpuDataMode.InMemory, 0.0)]
    [DataRow(GpuDataMode.InMemory, 1e4)]
    [DataRow(GpuDataMode.Streaming, 0.0)]
    public void Each_K_of_a_GPU_sweep_is_the_fit_it_would_be_alone(GpuDataMode mode, double offset)
    {
        const int n = 20_000, d = 12;
        var rows = TestData.Offset(TestData.Blobs(n, d, 5, spread: 8, seed: 3), offset);
        var logger = new ListLogger();
        var options = new KMeansOptions
        {
            Seed = 5, Device = ComputeDevice.Cuda, DeterministicUpdate = true, DataMode = mode, Logger = logger,
            StreamingBatchRows = mode == GpuDataMode.Streaming ? 4096 : null,
        };
        var counts = new[] { 2, 5, 9, 33 };
        var labels = new int[n];
        var labelled = new List<int[]>();
        var swept = new KMeans(options).FitEach(new InMemoryBatchSource(rows, d), counts, _ => labelled.Add(labels.ToArray()),
            CancellationToken.None, labels);

        bool boundOnce = logger.Messages.Any(m => m.Contains("stay bound for all 4 cluster counts", StringComparison.Ordinal));
        Assert.AreEqual(mode == GpuDataMode.InMemory, boundOnce, string.Join("\n", logger.Messages));
        for (int i = 0; i < counts.Length; i++)
        {
            var alone = options.Clone();
            alone.NumberOfClusters = counts[i];
            alone.Logger = null;
            var model = new KMeans(alone).Fit(rows, d);
            CollectionAssert.AreEqual(model.Centroids.ToArray(), swept[i].Centroids.ToArray(), $"K = {counts[i]}");
            Assert.AreEqual(model.Inertia, swept[i].Inertia, $"K = {counts[i]}");
            var centroids = swept[i].Centroids.ToArray();
            for (int r = 0; r < n; r++)
            {
                Assert.IsTrue(labelled[i][r] >= 0 && labelled[i][r] < counts[i], $"K = {counts[i]}: row {r} has label {labelled[i][r]}");
                Reference.AssertNearestCentred(rows.AsSpan(r * d, d), centroids, d, labelled[i][r], $"K = {counts[i]}, row {r}", tolerance: 4e-3);
            }
        }
    }

    [TestMethod]
    public void A_GPU_sweep_proposes_the_number_of_blobs()
    {
        const int d = 6;
        var rows = TestData.Blobs(6000, d, 4, spread: 12, seed: 4);
        var report = ClusterCountSweep.Run(rows, d, 2, 8, new KMeansOptions { Seed = 1, Device = ComputeDevice.Cuda });
        Assert.AreEqual(4, report.Proposed, string.Join("; ", report.Scores.Select(s => $"K={s.NumberOfClusters} silhouette={s.Silhouette:F3}")));
    }
}
