using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Data far from the origin on the GPU, in every precision and data mode: the fit runs centred, so its
/// centroids are as good as the CPU's, its reported inertia is the exact inertia of its assignment, and the
/// streamed prediction's labels equal a float64 brute force within the precision's rounding. Uncentred, fp16
/// cannot even hold these values (its step at 10⁴ is 8), and float32 loses every digit at 10⁶.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class FarFromOriginGpuTests : GpuTestClass
{
    [TestMethod]
    [DataRow(ComputePrecision.Float32, GpuDataMode.InMemory, 1e4), DataRow(ComputePrecision.Float32, GpuDataMode.InMemory, 1e6)]
    [DataRow(ComputePrecision.TensorFloat32, GpuDataMode.InMemory, 1e4), DataRow(ComputePrecision.Float16, GpuDataMode.InMemory, 1e4)]
    [DataRow(ComputePrecision.BFloat16, GpuDataMode.InMemory, 1e4), DataRow(ComputePrecision.Float16, GpuDataMode.InMemory, 1e6)]
    [DataRow(ComputePrecision.Float32, GpuDataMode.Streaming, 1e5), DataRow(ComputePrecision.Float16, GpuDataMode.Streaming, 1e5)]
    [DataRow(ComputePrecision.Float32, GpuDataMode.Cached, 1e5)]
    public void FitsAndPredictsCentred(ComputePrecision precision, GpuDataMode mode, double offset)
    {
        int n = 20000, d = 16, k = 8;
        var data = TestData.Offset(TestData.Blobs(n, d, centers: k, spread: 6, seed: 41), offset);
        var options = new KMeansOptions
        {
            NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = precision, DataMode = mode, DeterministicUpdate = true,
            MaximumNumberOfIterations = 100, StreamingBatchRows = mode == GpuDataMode.InMemory ? null : 4096,
        };
        var gpu = new KMeans(options).Fit(data, d);
        var cpu = new KMeans(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu, MaximumNumberOfIterations = 100 }).Fit(data, d);

        double gpuExact = Reference.Inertia(data, d, gpu.Centroids.Span);
        double cpuExact = Reference.Inertia(data, d, cpu.Centroids.Span);
        Assert.IsTrue(gpuExact <= cpuExact * 1.01, $"{precision} {mode} at {offset:G3}: GPU centroids' inertia {gpuExact:G6} against the CPU's {cpuExact:G6}");
        Assert.AreEqual(gpuExact, gpu.Inertia, 2e-2 * gpuExact, $"{precision} {mode} at {offset:G3}: reported inertia");

        var labels = new int[n];
        var distances = new float[n];
        gpu.Predict(new InMemoryBatchSource(data, d), labels, distances, ComputeDevice.Cuda);
        double tolerance = precision switch
        {
            ComputePrecision.Float32 => 1e-5,
            ComputePrecision.TensorFloat32 => 2e-3,
            _ => 2e-2,
        };
        var centroids = gpu.Centroids.Span;
        for (int r = 0; r < n; r++)
            Reference.AssertNearestCentred(data.AsSpan(r * d, d), centroids, d, labels[r], $"{precision} {mode} at {offset:G3}, row {r}", tolerance);
    }
}
