using FlashKMeans.Cuda;
using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// The resident step whose assignment also adds the rows up (<see cref="CudaSession.AssignWithUpdate"/>, on request, where
/// <see cref="FusedUpdatePolicy"/> allows) against the sort-inverse step on the same batch state: the same labels, distances,
/// inertia, moved-label count and cluster weights, and centroids within fp32 summation error.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
[DoNotParallelize]
public sealed class CudaFusedUpdateTests : GpuTestClass
{
    [TestMethod]
    [DataRow(ComputePrecision.Float16, 200, 1, false)]
    [DataRow(ComputePrecision.Float16, 128, 3, true)]
    [DataRow(ComputePrecision.BFloat16, 72, 1, true)]
    [DataRow(ComputePrecision.TensorFloat32, 96, 2, false)]
    public void Fused_step_matches_the_sort_inverse_step(ComputePrecision precision, int d, int b, bool weighted)
    {
        using var s = new CudaSession(CudaContext.Open(0), new CudaPrecision(precision), ownsContext: true);
        int k = FusedUpdatePolicy.MinClusters, n = 30011;
        if (!s.CanFuseUpdate(d, s.Precision.Pitch(d)) || !FusedUpdatePolicy.Suits(k, s.Precision.Pitch(d) * s.Precision.ElementBytes))
            Assert.Inconclusive($"{s.Context.Name} has no warp-specialised assignment for {precision} d={d}");
        var random = new Random(d * 31 + b);
        var rows = TestData.Gaussian(b * n, d, seed: d + b);
        // Centroids among the rows, so that clusters are of the sizes real fits meet (none empty at the start).
        var centroids = Enumerable.Range(0, b * k).SelectMany(c => rows.AsSpan((c / k * n + random.Next(n)) * d, d).ToArray()).ToArray();
        var weights = weighted ? Enumerable.Range(0, b * n).Select(_ => (float)(0.25 + random.NextDouble())).ToArray() : null;
        // The second step starts from these in both runs: the first step's centroids come from fp64 atomics, whose
        // order can change their last bit between runs. Moved a little, so that some labels move.
        var second = centroids.Select(v => v + (float)(0.05 * (random.NextDouble() - 0.5))).ToArray();

        var fused = Run(s, rows, centroids, second, weights, b, n, d, k, forgetBeforeSecondStep: false);
        var sorted = Run(s, rows, centroids, second, weights, b, n, d, k, forgetBeforeSecondStep: true);
        Assert.IsTrue(fused.SecondStepFused, "the second step of the first batch fused its update");
        Assert.IsFalse(sorted.SecondStepFused, "the second step of the second batch sorted");

        CollectionAssert.AreEqual(sorted.Labels, fused.Labels, "labels");
        CollectionAssert.AreEqual(sorted.Distances, fused.Distances, "distances");
        for (int p = 0; p < b; p++)
        {
            Assert.IsTrue(fused.Results[p].LabelsChanged > 0, $"problem {p}: some labels moved");
            Assert.AreEqual(sorted.Results[p].LabelsChanged, fused.Results[p].LabelsChanged, $"problem {p}: moved labels");
            Assert.AreEqual(sorted.Results[p].Inertia, fused.Results[p].Inertia, 1e-12 * sorted.Results[p].Inertia, $"problem {p}: inertia");
        }
        for (int c = 0; c < b * k; c++)
            Assert.AreEqual(sorted.ClusterWeights[c], fused.ClusterWeights[c], 1e-9 * Math.Max(1, sorted.ClusterWeights[c]), $"cluster {c}: weight");
        double worst = 0;
        for (int i = 0; i < centroids.Length; i++)
            worst = Math.Max(worst, Math.Abs(sorted.Centroids[i] - fused.Centroids[i]) / Math.Max(1, Math.Abs(sorted.Centroids[i])));
        Assert.IsTrue(worst < 1e-5, $"centroids differ by {worst} (relative)");
    }

    private sealed record Outcome(bool SecondStepFused, int[] Labels, float[] Distances, float[] Centroids, LloydStepResult[] Results, double[] ClusterWeights);

    /// <summary>Two steps of a fresh batch, from <paramref name="centroids"/> and then <paramref name="second"/>; the outcome of the second.</summary>
    private static Outcome Run(CudaSession s, float[] rows, float[] centroids, float[] second, float[]? weights, int b, int n, int d, int k,
                               bool forgetBeforeSecondStep)
    {
        using var batch = Gpu.UploadBatch(s, rows, weights, b, n, d, k, fuseUpdate: true);
        long total = (long)b * n;
        Gpu.LoadCentroids(s, batch, centroids);
        var results = new LloydStepResult[b];
        Assert.IsFalse(batch.NextStepFusesUpdate, "the first step sorts: no cluster sizes yet");
        batch.Step(false, results, default);
        Gpu.LoadCentroids(s, batch, second);
        if (forgetBeforeSecondStep)
            batch.ForgetClusterSizes();
        bool fused = batch.NextStepFusesUpdate;
        // Poisoned, so that every output of the second step must be written.
        batch.Labels.Fill32(0xFFFFFFFFu, s.Stream);
        batch.Distances.Fill32(0x7fc00000u, s.Stream);
        batch.Step(false, results, default);
        var labels = new int[total];
        var distances = new float[total];
        var newCentroids = new float[centroids.Length];
        batch.Labels.CopyTo(labels, 0, s.Stream);
        batch.Distances.CopyTo(distances, 0, s.Stream);
        batch.Centroids.CopyTo(newCentroids, 0, s.Stream);
        var clusterWeights = Enumerable.Range(0, b).SelectMany(p => batch.HostClusterWeights(p).ToArray()).ToArray();
        return new Outcome(fused, labels, distances, newCentroids, results, clusterWeights);
    }
}
