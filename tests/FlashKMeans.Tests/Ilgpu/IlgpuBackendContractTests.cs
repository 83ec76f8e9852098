using FlashKMeans.Clustering;

namespace FlashKMeans.Tests.Ilgpu;

/// <summary>
/// The behaviour every backend must show, on the ILGPU backend (FlashKMeans.ILGPU): in CI on ILGPU's CPU accelerator,
/// which runs the same C# kernels a GPU accelerator compiles; on a machine with a CUDA or OpenCL GPU, on that GPU.
/// </summary>
[TestClass]
public sealed class IlgpuBackendContractTests : KMeansBackendTests
{
    protected override KMeansOptions Options(int k) => new() { NumberOfClusters = k, Device = ComputeDevice.Ilgpu };

    [TestMethod]
    public void The_fit_names_the_ILGPU_accelerator_and_matches_the_CPU_backend()
    {
        int n = 3000, d = 5, k = 7;
        var data = TestData.Blobs(n, d, centers: k, spread: 8, seed: 13);
        var start = TestData.PickRows(data, d, k, seed: 2);
        KMeansModel Fit(ComputeDevice device) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Device = device, Initialization = KMeansInitialization.Explicit, InitialCentroids = start,
            MaximumNumberOfIterations = 30,
        }).Fit(data, d);
        var ilgpu = Fit(ComputeDevice.Ilgpu);
        var cpu = Fit(ComputeDevice.Cpu);
        StringAssert.StartsWith(ilgpu.TrainedOn, "ilgpu (");
        CollectionAssert.AreEqual(cpu.Predict(data, d), ilgpu.Predict(data, d), "the same partition from the same start");
        Assert.AreEqual(cpu.Inertia, ilgpu.Inertia, 1e-5 * cpu.Inertia);
    }

    [TestMethod]
    public void The_same_seed_gives_the_same_bits()
    {
        var data = TestData.Blobs(2000, 4, centers: 5, spread: 6, seed: 3);
        var weights = Enumerable.Range(0, 2000).Select(i => 0.5f + i % 3).ToArray();
        KMeansModel Fit() => new KMeans(new KMeansOptions { NumberOfClusters = 5, Device = ComputeDevice.Ilgpu, Seed = 9 }).Fit(data, 4, weights);
        CollectionAssert.AreEqual(Fit().Centroids.ToArray(), Fit().Centroids.ToArray());
    }
}
