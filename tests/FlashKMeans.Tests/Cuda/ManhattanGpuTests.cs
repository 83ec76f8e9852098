using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Data;

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

    [TestMethod]
    public void Batched_L1_fits_on_the_GPU_equal_the_CPU_problem_by_problem()
    {
        // The GPU's batched binding runs Euclidean kernels, so L1 problems must be bound one by one (and still be L1).
        const int b = 3, n = 4000, d = 6, k = 5;
        var data = new float[b * n * d];
        for (int p = 0; p < b; p++)
            TestData.Blobs(n, d, k, 8.0, seed: 70 + p).CopyTo(data, p * n * d);
        KMeansModel[] Fit(ComputeDevice device) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Distance = KMeansDistance.Manhattan, Device = device, Seed = 3, MaximumNumberOfIterations = 15,
        }).FitBatched(data, b, d);
        var cpu = Fit(ComputeDevice.Cpu);
        var gpu = Fit(ComputeDevice.Cuda);
        for (int p = 0; p < b; p++)
        {
            var rows = data.AsSpan(p * n * d, n * d).ToArray();
            // Each model's inertia is its own L1 cost, whichever device fitted it.
            double cost = 0;
            var labels = gpu[p].Predict(rows, d);
            for (int r = 0; r < n; r++)
                for (int j = 0; j < d; j++)
                    cost += Math.Abs((double)rows[r * d + j] - gpu[p].Centroids.Span[labels[r] * d + j]);
            Assert.AreEqual(cost, gpu[p].Inertia, 1e-4 * cost, $"problem {p}");
            Assert.AreEqual(cpu[p].Inertia, gpu[p].Inertia, 1e-3 * cpu[p].Inertia, $"problem {p}");
        }
    }

    [TestMethod]
    public void An_L1_model_predicts_on_the_GPU_by_L1_distance()
    {
        // A streamed GPU prediction would run the Euclidean kernels; an L1 model must score by L1 on every device.
        const int n = 5000, d = 9, k = 7;
        var rows = TestData.Gaussian(n, d, seed: 81);
        var model = new KMeans(new KMeansOptions { NumberOfClusters = k, Distance = KMeansDistance.Manhattan, Device = ComputeDevice.Cpu, Seed = 1 })
            .Fit(rows, d);
        var labels = Enumerable.Repeat(-1, n).ToArray();
        var distances = Enumerable.Repeat(float.NaN, n).ToArray();
        model.Predict(new InMemoryBatchSource(rows, d, batchRows: 700), labels, distances, ComputeDevice.Cuda);
        var c = model.Centroids.ToArray();
        for (int r = 0; r < n; r++)
        {
            var exact = Enumerable.Range(0, k).Select(q => Enumerable.Range(0, d).Sum(j => Math.Abs((double)rows[r * d + j] - c[q * d + j]))).ToArray();
            Assert.AreEqual(exact.Min(), exact[labels[r]], 1e-5 * (1 + exact.Min()), $"row {r}");
        }
    }
}
