namespace FlashKMeans.Tests;

[TestClass]
public sealed class DeterminismTests
{
    [TestMethod]
    [DataRow(KMeansInitialization.KMeansPlusPlus)]
    [DataRow(KMeansInitialization.KMeansParallel)]
    [DataRow(KMeansInitialization.RandomRows)]
    public void Same_seed_gives_bit_identical_results_at_1_2_and_4_threads(KMeansInitialization initialization)
    {
        int d = 13;
        // Odd N so chunk edges fall mid-way; weights make the float sums order-sensitive.
        var data = TestData.Blobs(10_007, d, centers: 30, spread: 2, seed: 5);
        var random = new Random(1);
        var weights = Enumerable.Range(0, 10_007).Select(_ => (float)(0.1 + random.NextDouble())).ToArray();
        KMeansModel Fit(int threads) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = 25,
            Device = ComputeDevice.Cpu,
            NumberOfThreads = threads,
            Initialization = initialization,
            NumberOfInitializations = 2,
            Seed = 123,
            MaximumNumberOfIterations = 15,
        }).Fit(data, d, weights);

        var one = Fit(1);
        foreach (int threads in new[] { 2, 4 })
        {
            var other = Fit(threads);
            CollectionAssert.AreEqual(one.Centroids.ToArray(), other.Centroids.ToArray(), $"centroids at {threads} threads");
            CollectionAssert.AreEqual(one.InertiaHistory.ToArray(), other.InertiaHistory.ToArray(), $"inertia history at {threads} threads");
            Assert.AreEqual(one.Inertia, other.Inertia);
        }
    }

    [TestMethod]
    public void Different_seeds_give_different_initialisations()
    {
        int d = 4;
        var data = TestData.Gaussian(2000, d, seed: 3);
        var a = new KMeans(new KMeansOptions { NumberOfClusters = 10, Seed = 1, MaximumNumberOfIterations = 0, Device = ComputeDevice.Cpu }).Fit(data, d);
        var b = new KMeans(new KMeansOptions { NumberOfClusters = 10, Seed = 2, MaximumNumberOfIterations = 0, Device = ComputeDevice.Cpu }).Fit(data, d);
        CollectionAssert.AreNotEqual(a.Centroids.ToArray(), b.Centroids.ToArray());
    }
}
