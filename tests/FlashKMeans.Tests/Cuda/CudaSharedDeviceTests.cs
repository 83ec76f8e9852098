using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Every GPU backend in the process shares one context and one set of loaded kernels (<see cref="CudaSharedDevice"/>):
/// disposing one backend leaves the others, and the next fit, working, and fits on several threads at once agree
/// with the same fits run one after another.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class CudaSharedDeviceTests : GpuTestClass
{
    private static KMeansOptions Options(int seed) => new()
    {
        NumberOfClusters = 12, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float32, DeterministicUpdate = true,
        MaximumNumberOfIterations = 15, Seed = seed,
    };

    [TestMethod]
    public void Backends_share_the_device_and_outlive_each_other()
    {
        var first = CudaBackend.Create(Options(1));
        using var second = CudaBackend.Create(Options(1));
        Assert.AreSame(first.Session.Context, second.Session.Context);
        Assert.AreSame(first.Session.Kernels, second.Session.Kernels);
        first.Dispose();

        // The kernels the second backend uses must still be loaded: a fit through it matches the CPU's labels.
        const int d = 24;
        float[] data = TestData.Blobs(6000, d, 12, 0.3, seed: 3);
        var cuda = new KMeans(Options(1)).Fit(data, d);
        var labels = new int[6000];
        var cpuLabels = new int[6000];
        cuda.Predict(new InMemoryBatchSource(data, d), labels, ComputeDevice.Cuda);
        cuda.Predict(new InMemoryBatchSource(data, d), cpuLabels, ComputeDevice.Cpu);
        CollectionAssert.AreEqual(cpuLabels, labels);

        var (context, kernels) = CudaSharedDevice.Get(out var openTime);
        Assert.AreEqual(TimeSpan.Zero, openTime, "the device was opened again after a backend was disposed");
        Assert.AreSame(second.Session.Context, context);
        Assert.AreSame(second.Session.Kernels, kernels);
        Assert.IsFalse(context.IsDisposed);
    }

    [TestMethod]
    public void Fits_on_several_threads_match_the_same_fits_in_turn()
    {
        const int d = 40, fits = 6;
        var data = Enumerable.Range(0, fits).Select(i => TestData.Blobs(20000, d, 12, 0.5, seed: 10 + i)).ToArray();
        var inTurn = data.Select((x, i) => new KMeans(Options(i)).Fit(x, d).Centroids.ToArray()).ToArray();
        var together = new float[fits][];
        Parallel.For(0, fits, new ParallelOptions { MaxDegreeOfParallelism = fits }, i => together[i] = new KMeans(Options(i)).Fit(data[i], d).Centroids.ToArray());
        for (int i = 0; i < fits; i++)
            CollectionAssert.AreEqual(inTurn[i], together[i], $"fit {i}");
    }
}
