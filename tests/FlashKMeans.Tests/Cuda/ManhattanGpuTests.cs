using FlashKMeans.Cuda;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// L1 (Manhattan) on the GPU: the SIMT distance kernels against a float64 brute force on fresh random data (outputs
/// poisoned first), and k-medians fits and L1 streams, whose medians stay on the host, against the CPU's.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class ManhattanGpuTests : GpuTestClass
{
    [TestMethod]
    [DataRow(1000, 1, 7), DataRow(999, 17, 33), DataRow(300, 70, 100), DataRow(64, 130, 5)]
    public void The_L1_kernels_equal_a_float64_brute_force(int n, int d, int k)
    {
        var rows = TestData.Gaussian(n, d, seed: n + d);
        var centroids = TestData.Gaussian(k, d, seed: k + 1);
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Distance = KMeansDistance.Manhattan });
        using var scorer = backend.CreateScorer(centroids, d);
        Assert.IsInstanceOfType<CudaManhattanScorer>(scorer);
        var labels = Enumerable.Repeat(-1, n).ToArray();
        var distances = Enumerable.Repeat(float.NaN, n).ToArray();
        var all = Enumerable.Repeat(float.NaN, n * k).ToArray();
        scorer.Assign(rows, labels, distances);
        scorer.AllDistances(rows, all);
        for (int r = 0; r < n; r++)
        {
            var exact = Enumerable.Range(0, k).Select(c => Enumerable.Range(0, d).Sum(j => Math.Abs((double)rows[r * d + j] - centroids[c * d + j]))).ToArray();
            double best = exact.Min();
            // The label is a nearest centroid up to float32 summation.
            Assert.AreEqual(best, exact[labels[r]], 1e-5 * (1 + best), $"row {r}: label {labels[r]}");
            Assert.AreEqual(best, distances[r], 1e-5 * (1 + best), $"row {r}: distance");
            for (int c = 0; c < k; c++)
                Assert.AreEqual(exact[c], all[r * k + c], 1e-5 * (1 + exact[c]), $"row {r}, centroid {c}");
        }
    }

    [TestMethod]
    public void A_k_medians_fit_on_the_GPU_equals_the_CPU_fit()
    {
        const int d = 12, k = 9;
        var rows = TestData.Blobs(20_000, d, k, 10.0, seed: 41);
        // From the same start: the seeding samples by L1 distances, whose float32 sums the two devices order differently.
        var initial = TestData.PickRows(rows, d, k, seed: 2);
        KMeansModel Fit(ComputeDevice device) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Distance = KMeansDistance.Manhattan, Device = device, MaximumNumberOfIterations = 20,
            Initialization = KMeansInitialization.Explicit, InitialCentroids = initial,
        }).Fit(rows, d);
        var cpu = Fit(ComputeDevice.Cpu);
        var gpu = Fit(ComputeDevice.Cuda);
        StringAssert.StartsWith(gpu.TrainedOn, "cuda");
        // Same labels every step on well-separated blobs, so the same medians: values of the rows themselves.
        CollectionAssert.AreEqual(cpu.Centroids.ToArray(), gpu.Centroids.ToArray());
        Assert.AreEqual(cpu.Inertia, gpu.Inertia, 1e-5 * cpu.Inertia);
    }

    [TestMethod]
    public void An_L1_stream_on_the_GPU_equals_the_CPU_stream()
    {
        const int d = 10, k = 8;
        var rows = TestData.Blobs(12_000, d, k, 10.0, seed: 42);
        MiniBatchKMeans Make(ComputeDevice device) => new(new KMeansOptions
        {
            NumberOfClusters = k, Distance = KMeansDistance.Manhattan, Device = device, Seed = 5,
            MiniBatch = new MiniBatchOptions { InitializationSize = 2000, ReassignmentRatio = 0 },  // no draws by distance
        }, d);
        using var cpu = Make(ComputeDevice.Cpu);
        using var gpu = Make(ComputeDevice.Cuda);
        for (int at = 0; at < 12_000; at += 1500)
        {
            cpu.PartialFit(rows.AsSpan(at * d, 1500 * d));
            gpu.PartialFit(rows.AsSpan(at * d, 1500 * d));
        }
        CollectionAssert.AreEqual(cpu.Snapshot().Centroids.ToArray(), gpu.Snapshot().Centroids.ToArray());
        CollectionAssert.AreEqual(cpu.ClusterWeights.ToArray(), gpu.ClusterWeights.ToArray());
    }
}
