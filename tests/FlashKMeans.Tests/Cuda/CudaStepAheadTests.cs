using FlashKMeans.Backends;
using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Stepping ahead (<see cref="CudaBatch"/>: the next step enqueued before the host reads this one) changes nothing the
/// engine sees. Twin batches, one stepping ahead and one not, agree bit for bit (fixed-point sums) on every step's results,
/// centroids and cluster weights; going back for the farthest rows gives the last step's labels and distances; new
/// centroids loaded over a step ahead are what the next step starts from; whole fits, with convergence and a second
/// initialisation, give the same models.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
[DoNotParallelize]
public sealed class CudaStepAheadTests : GpuTestClass
{
    [TestMethod]
    [DataRow(ComputePrecision.Float16, 128, 300, 1, false)]
    [DataRow(ComputePrecision.Float16, 128, 300, 3, false)]
    [DataRow(ComputePrecision.TensorFloat32, 64, 100, 2, true)]
    [DataRow(ComputePrecision.BFloat16, 40, 1000, 1, false)]
    [DataRow(ComputePrecision.Float32, 3, 5, 2, false)]   // the exact assignment, which counts no labels
    public void Twin_batches_agree_with_and_without_stepping_ahead(ComputePrecision precision, int d, int k, int b, bool normalize)
    {
        using var s = new CudaSession(FlashKMeans.Cuda.Native.CudaContext.Open(0), new CudaPrecision(precision), ownsContext: true);
        const int n = 7001;
        var rows = TestData.Blobs(b * n, d, centers: k + 7, spread: 2.5, seed: 40 + d + k + b);
        var sources = Enumerable.Range(0, b).Select(p => (IBatchSource)new InMemoryBatchSource(rows.AsMemory(p * n * d, n * d), d)).ToArray();
        using var ahead = new CudaBatchBinding(s, sources, n, k, default);
        using var plain = new CudaBatchBinding(s, sources, n, k, default);
        var random = new Random(k + d);
        for (int p = 0; p < b; p++)
        {
            var initial = TestData.PickRows(rows.AsSpan(p * n * d, n * d).ToArray(), d, k, seed: 60 + p);
            ahead.Problems[p].SetCentroids(initial);
            plain.Problems[p].SetCentroids(initial);
        }
        var active = Enumerable.Repeat(true, b).ToArray();
        var a = new LloydStepResult[b];
        var r = new LloydStepResult[b];
        int steppedAhead = 0;
        for (int step = 1; step <= 12; step++)
        {
            ahead.Step(normalize, active, a, stepAhead: true, default);
            plain.Step(normalize, active, r, stepAhead: false, default);
            Assert.IsFalse(plain.Batch.HasStepAhead, "the plain batch never steps ahead");
            steppedAhead += ahead.Batch.HasStepAhead ? 1 : 0;
            CollectionAssert.AreEqual(r, a, $"step {step}: results");
            for (int p = 0; p < b; p++)
                AssertSameProblem(plain.Problems[p], ahead.Problems[p], $"step {step}, problem {p}");
            if (step == 6)
            {
                Assert.IsTrue(ahead.Batch.HasStepAhead, "step 6 has the next one enqueued ahead");
                // Going back: the farthest rows come from the last step's labels and distances.
                for (int p = 0; p < b; p++)
                    CollectionAssert.AreEqual(plain.Problems[p].FindFarthestRows(64, default).ToArray(),
                        ahead.Problems[p].FindFarthestRows(64, default).ToArray(), $"problem {p}: farthest rows");
                Assert.IsFalse(ahead.Batch.HasStepAhead, "the step ahead was discarded");
                CollectionAssert.AreEqual(Read(s, plain.Batch.Labels), Read(s, ahead.Batch.Labels), "labels after going back");
                CollectionAssert.AreEqual(Read(s, plain.Batch.Distances), Read(s, ahead.Batch.Distances), "distances after going back");
            }
            if (step == 9)
            {
                Assert.IsTrue(ahead.Batch.HasStepAhead, "step 9 has the next one enqueued ahead");
                // New centroids over a step ahead: a few clusters move to random rows.
                var moved = new float[k * d];
                plain.Problems[0].GetCentroids(moved);
                for (int c = 0; c < k; c += 7)
                    rows.AsSpan(random.Next(n) * d, d).CopyTo(moved.AsSpan(c * d, d));
                plain.Problems[0].SetCentroids(moved);
                ahead.Problems[0].SetCentroids(moved);
                Assert.IsFalse(ahead.Batch.HasStepAhead, "loading centroids discards the step ahead");
            }
        }
        Assert.IsTrue(steppedAhead >= 6, $"most steps enqueue the next ahead ({steppedAhead} of 12)");
        // The labels buffer itself is the step ahead's until the batch goes back, which reading the assignment does.
        Assert.IsTrue(ahead.Batch.HasStepAhead, "the last step has the next one enqueued ahead");
        for (int p = 0; p < b; p++)
        {
            int[] plainLabels = new int[n], aheadLabels = new int[n];
            float[] plainDistances = new float[n], aheadDistances = new float[n];
            plain.Batch.CopyAssignmentOut(p, plainLabels, plainDistances);
            ahead.Batch.CopyAssignmentOut(p, aheadLabels, aheadDistances);
            CollectionAssert.AreEqual(plainLabels, aheadLabels, $"problem {p}: final labels");
            CollectionAssert.AreEqual(plainDistances, aheadDistances, $"problem {p}: final distances");
        }
        Assert.IsFalse(ahead.Batch.HasStepAhead, "reading the assignment went back");
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16, 128, 100, 1, KMeansDistance.SquaredEuclidean)]
    [DataRow(ComputePrecision.Float16, 128, 100, 4, KMeansDistance.SquaredEuclidean)]
    [DataRow(ComputePrecision.TensorFloat32, 64, 50, 1, KMeansDistance.Cosine)]
    [DataRow(ComputePrecision.Float32, 3, 5, 3, KMeansDistance.SquaredEuclidean)]
    public void Fits_are_the_same_with_and_without_stepping_ahead(ComputePrecision precision, int d, int k, int b, KMeansDistance distance)
    {
        const int n = 6000;
        var data = TestData.Blobs(b * n, d, centers: k + 5, spread: 3, seed: 70 + d + b);
        KMeansModel[] Fit(bool stepAhead) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = precision, DeterministicUpdate = true, Distance = distance,
            Seed = 5, NumberOfInitializations = 2, MaximumNumberOfIterations = 60, OptimizationTolerance = 1e-5, StepAhead = stepAhead,
        }).FitBatched(data, b, d);
        var plain = Fit(false);
        var ahead = Fit(true);
        for (int p = 0; p < b; p++)
            BatchedFitTests.AssertSameModel(plain[p], ahead[p], $"{precision} d={d} K={k} B={b} {distance}, problem {p}");
    }

    private static void AssertSameProblem(IKMeansDataBinding expected, IKMeansDataBinding actual, string what)
    {
        int k = expected.NumberOfClusters, d = expected.Dimension;
        float[] e = new float[k * d], g = new float[k * d];
        expected.GetCentroids(e);
        actual.GetCentroids(g);
        CollectionAssert.AreEqual(e, g, $"{what}: centroids");
        double[] ew = new double[k], gw = new double[k];
        expected.GetClusterWeights(ew);
        actual.GetClusterWeights(gw);
        CollectionAssert.AreEqual(ew, gw, $"{what}: cluster weights");
    }

    private static T[] Read<T>(CudaSession s, FlashKMeans.Cuda.Native.DeviceBuffer<T> buffer) where T : unmanaged
    {
        var values = new T[buffer.Length];
        buffer.CopyTo(values, 0, s.Stream);
        return values;
    }
}
