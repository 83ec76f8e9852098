namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Stream learning with the GPU assigning each step's rows: on well-separated blobs every label is the CPU's, and the
/// update is the CPU's, so the centroids must match the CPU stream's (to the last bit in fp32 unless a row lies as near
/// two centroids as the arithmetic can tell).
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class MiniBatchGpuTests : GpuTestClass
{
    private const int D = 24, K = 32;

    private static MiniBatchKMeans Stream(ComputeDevice device, ComputePrecision precision) => new(new KMeansOptions
    {
        NumberOfClusters = K, Seed = 4, Device = device, Precision = precision,
        MiniBatch = new MiniBatchOptions { InitializationSize = 4096 },
    }, D);

    [TestMethod]
    [DataRow(ComputePrecision.Float32), DataRow(ComputePrecision.Float16)]
    public void A_GPU_stream_learns_the_CPU_streams_centroids(ComputePrecision precision)
    {
        var rows = TestData.Blobs(40_000, D, K, 12.0, seed: 7);
        var cpu = Stream(ComputeDevice.Cpu, ComputePrecision.Float32);
        var gpu = Stream(ComputeDevice.Cuda, precision);
        for (int at = 0; at < 40_000; at += 2000)
        {
            cpu.PartialFit(rows.AsSpan(at * D, 2000 * D));
            gpu.PartialFit(rows.AsSpan(at * D, 2000 * D));
        }
        var expected = cpu.Snapshot().Centroids.ToArray();
        var got = gpu.Snapshot().Centroids.ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], got[i], 1e-4 * (1 + Math.Abs(expected[i])), $"value {i}");
        CollectionAssert.AreEqual(cpu.ClusterWeights.ToArray(), gpu.ClusterWeights.ToArray(), "every row must have gone to the same cluster");
    }

    [TestMethod]
    public void A_mini_batch_fit_on_the_GPU_matches_the_CPU()
    {
        var rows = TestData.Blobs(30_000, D, K, 12.0, seed: 8);
        KMeansModel Fit(ComputeDevice device) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = K, Seed = 2, Device = device, Algorithm = KMeansAlgorithm.MiniBatch,
            MiniBatch = new MiniBatchOptions { MaximumNumberOfEpochs = 3 },
        }).Fit(rows, D);
        var cpu = Fit(ComputeDevice.Cpu);
        var gpu = Fit(ComputeDevice.Cuda);
        Assert.AreEqual(cpu.Iterations, gpu.Iterations);
        var expected = cpu.Centroids.ToArray();
        var got = gpu.Centroids.ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], got[i], 1e-4 * (1 + Math.Abs(expected[i])), $"value {i}");
        Assert.AreEqual(cpu.Inertia, gpu.Inertia, 1e-6 * cpu.Inertia);
    }
}
