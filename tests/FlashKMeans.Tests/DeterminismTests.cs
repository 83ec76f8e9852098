using FlashKMeans.Clustering;
using FlashKMeans.Data;

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
    public void KMeansPlusPlus_is_bit_identical_across_batch_layouts_and_thread_counts()
    {
        // Greedy k-means++ keeps the candidate of least summed potential. On data symmetric through the origin the
        // candidates x and −x have potentials equal but for rounding, so any change in how the sums are grouped
        // picks another seed: the partial sums used to follow each batch's own chunks, and a memory-mapped file
        // read in batches of 999 rows seeded differently from the same rows in one array.
        int d = 5, n = 9001;
        string directory = Path.Combine(Path.GetTempPath(), "fkm-layout-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            for (int seed = 0; seed < 12; seed++)
            {
                var data = MirroredPoints(n, d, distinct: 6, seed);
                string path = Path.Combine(directory, $"rows{seed}.f32");
                File.WriteAllBytes(path, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
                KMeansModel Fit(IBatchSource source, int threads) => new KMeans(new KMeansOptions
                {
                    NumberOfClusters = 8,
                    Device = ComputeDevice.Cpu,
                    NumberOfThreads = threads,
                    Initialization = KMeansInitialization.KMeansPlusPlus,
                    Seed = seed,
                    MaximumNumberOfIterations = 3,
                    OptimizationTolerance = 0,
                }).Fit(source);

                var reference = Fit(new InMemoryBatchSource(data, d), threads: 1);
                using var mapped = MemoryMappedBatchSource.OpenRaw(path, d, batchRows: 999);
                foreach (int threads in new[] { 1, 2, 4 })
                {
                    foreach (var (name, source) in new (string, IBatchSource)[]
                        { ("memory-mapped, 999-row batches", mapped), ("in memory, 2825-row batches", new InMemoryBatchSource(data, d, batchRows: 2825)) })
                    {
                        var other = Fit(source, threads);
                        CollectionAssert.AreEqual(reference.Centroids.ToArray(), other.Centroids.ToArray(), $"seed {seed}, {name}, {threads} threads");
                        CollectionAssert.AreEqual(reference.InertiaHistory.ToArray(), other.InertiaHistory.ToArray(), $"seed {seed}, {name}, {threads} threads");
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// n rows, shuffled, made of a few points of very different lengths (10⁻³ to 10³, so the potentials' sums round)
    /// and the origin, each row x matched by a row −x: the data is symmetric through the origin exactly, in float too.
    /// </summary>
    private static float[] MirroredPoints(int n, int d, int distinct, int seed)
    {
        var random = new Random(seed);
        var points = new float[distinct * d];
        for (int p = 0; p < distinct; p++)
        {
            double scale = Math.Pow(10, random.Next(-3, 4));
            for (int f = 0; f < d; f++)
                points[p * d + f] = (float)(TestData.Normal(random) * scale);
        }
        var rows = new float[n * d];
        for (int r = 0; r + 1 < n; r += 2)
        {
            int p = random.Next(distinct + distinct / 2); // past the last point: the origin
            for (int f = 0; f < d; f++)
            {
                float v = p < distinct ? points[p * d + f] : 0f;
                rows[r * d + f] = v;
                rows[(r + 1) * d + f] = -v;
            }
        }
        var order = Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToArray();
        var shuffled = new float[n * d];
        for (int r = 0; r < n; r++)
            rows.AsSpan(order[r] * d, d).CopyTo(shuffled.AsSpan(r * d, d));
        return shuffled;
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
