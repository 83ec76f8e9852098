using FlashKMeans.Clustering;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Balanced hierarchical k-means on the GPU, fp32 and fp16: the same balance as the CPU's rule demands (within the
/// tolerance, as the model's own labels show), and an inertia near the CPU's hierarchical fit of the same data.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class HierarchicalGpuTests : GpuTestClass
{
    [TestMethod]
    [DataRow(ComputePrecision.Float32)]
    [DataRow(ComputePrecision.Float16)]
    public void BalancesOnTheGpuAsOnTheCpu(ComputePrecision precision)
    {
        int d = 8, k = 64;
        var random = new Random(5);
        var rows = new List<float>();
        // One dense blob of 12,000 rows and 40 small ones of 200.
        for (int b = 0; b < 41; b++)
        {
            var centre = Enumerable.Range(0, d).Select(_ => b == 0 ? 0 : 30 * TestData.Normal(random)).ToArray();
            for (int r = 0; r < (b == 0 ? 12000 : 200); r++)
                for (int f = 0; f < d; f++)
                    rows.Add((float)(centre[f] + (b == 0 ? 0.5 : 1) * TestData.Normal(random)));
        }
        var data = rows.ToArray();
        KMeansModel Fit(ComputeDevice device) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Device = device, Precision = precision, Seed = 1, Hierarchical = new HierarchicalOptions(),
        }).Fit(data, d);
        var gpu = Fit(ComputeDevice.Cuda);
        var cpu = Fit(ComputeDevice.Cpu);
        var labels = gpu.Predict(data, d);
        var sizes = new double[k];
        foreach (int label in labels)
            sizes[label]++;
        Assert.AreEqual(sizes.Max() / sizes.Average(), gpu.Balance!.ImbalanceAfterBalancing, 0.05, "the reported balance is the model's own (scored on the GPU; near-ties may differ)");
        Assert.IsTrue(gpu.Balance.ImbalanceAfterBalancing <= 1.5, $"{precision}: imbalance {gpu.Balance.ImbalanceAfterBalancing:F2}");
        double gpuInertia = Reference.Inertia(data, d, gpu.Centroids.Span), cpuInertia = Reference.Inertia(data, d, cpu.Centroids.Span);
        Assert.IsTrue(gpuInertia <= 1.15 * cpuInertia, $"{precision}: GPU {gpuInertia:G6} against CPU {cpuInertia:G6}");
    }
}
