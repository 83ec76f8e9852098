using FlashKMeans.Clustering;
using FlashKMeans.Cuda;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// k-means‖'s reduction (k-means++ over the weighted candidates) run on the GPU, as it is at large K, forced here at a
/// small K by lowering the threshold: on well-separated blobs it must still give every blob its own seed, so one Lloyd
/// step from the seeds already has the inertia of the true partition (unit noise: about N·d), for resident and
/// streamed data alike.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
[DoNotParallelize]
public sealed class GpuSeedReductionTests : GpuTestClass
{
    [TestMethod]
    [DataRow(GpuDataMode.InMemory, ComputePrecision.Float32)]
    [DataRow(GpuDataMode.InMemory, ComputePrecision.Float16)]
    [DataRow(GpuDataMode.Streaming, ComputePrecision.Float32)]
    public void ReductionOnTheDeviceSeedsEveryBlob(GpuDataMode mode, ComputePrecision precision)
    {
        int n = 30000, d = 16, k = 48;
        var data = TestData.Blobs(n, d, centers: k, spread: 20, seed: 17);
        long saved = CudaDataBinding.DeviceReductionThreshold;
        CudaDataBinding.DeviceReductionThreshold = 0;
        try
        {
            var model = new KMeans(new KMeansOptions
            {
                NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = precision, DataMode = mode, Seed = 3,
                Initialization = KMeansInitialization.KMeansParallel, MaximumNumberOfIterations = 1, OptimizationTolerance = 0,
                StreamingBatchRows = mode == GpuDataMode.InMemory ? null : 4096,
            }).Fit(data, d);
            double inertia = Reference.Inertia(data, d, model.Centroids.Span);
            Assert.IsTrue(inertia < 1.25 * n * d, $"{mode} {precision}: inertia {inertia:G4} after one step; the true partition has about {n * d}");
        }
        finally
        {
            CudaDataBinding.DeviceReductionThreshold = saved;
        }
    }
}
