using FlashKMeans.Backends;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// The incremental update (<see cref="IncrementalUpdate"/>: only the moved rows leave and join the fixed-point sums)
/// against the full one on the same batch: bit-identical centroids, labels, moved counts and cluster weights after every
/// step, and centroids equal to the float64 means of the rows under the final labels. Each kernel path of the update
/// runs against the full update's default path: global atomics against shared-memory counters, the separate count
/// kernels against the assignment's storer warps.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
[DoNotParallelize]
public sealed class CudaIncrementalUpdateTests : GpuTestClass
{
    /// <summary>Which of the incremental update's kernel paths the incremental batch takes.</summary>
    public enum Path
    {
        /// <summary>What the batch picks: shared-memory counters, the scan in the scatter where the clusters are few.</summary>
        Default,
        /// <summary>Global atomics in the moved rows' count and scatter, and the scan a kernel of its own.</summary>
        GlobalAtomics,
        /// <summary>The separate count and histogram kernels where the assignment's storer warps could count.</summary>
        SeparateCounts,
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16, 128, 300, 1, false, Path.Default)]
    [DataRow(ComputePrecision.BFloat16, 72, 100, 3, true, Path.Default)]
    [DataRow(ComputePrecision.TensorFloat32, 96, 64, 2, false, Path.Default)]
    [DataRow(ComputePrecision.Float16, 512, 200, 1, true, Path.Default)]
    [DataRow(ComputePrecision.Float32, 20, 7, 2, false, Path.Default)]
    [DataRow(ComputePrecision.Float16, 64, 1500, 3, false, Path.Default)]  // 9000 signed clusters: the scan kernel
    [DataRow(ComputePrecision.Float16, 40, 37, 1, false, Path.Default)]     // 5 vectors a row: 6 slots per warp
    [DataRow(ComputePrecision.Float16, 128, 300, 2, true, Path.GlobalAtomics)]
    [DataRow(ComputePrecision.TensorFloat32, 96, 64, 2, false, Path.SeparateCounts)]
    [DataRow(ComputePrecision.BFloat16, 200, 150, 3, true, Path.SeparateCounts)]
    public void Incremental_steps_give_the_centroids_of_summing_every_row(ComputePrecision precision, int d, int k, int b, bool weighted, Path path)
    {
        using var s = new CudaSession(CudaContext.Open(0), new CudaPrecision(precision), ownsContext: true);
        const int n = 20011, steps = 8;
        var random = new Random(d * 7 + k);
        var rows = TestData.Gaussian(b * n, d, seed: d + k + b);
        var centroids = Enumerable.Range(0, b * k).SelectMany(c => rows.AsSpan((c / k * n + random.Next(n)) * d, d).ToArray()).ToArray();
        var weights = weighted ? Enumerable.Range(0, b * n).Select(_ => (float)(0.25 + random.NextDouble())).ToArray() : null;

        using var incremental = Gpu.UploadBatch(s, rows, weights, b, n, d, k);
        using var full = Gpu.UploadBatch(s, rows, weights, b, n, d, k);
        incremental.WriteCentroids(0, centroids);
        full.WriteCentroids(0, centroids);
        full.AllowIncremental = false;
        if (path == Path.GlobalAtomics)
            s.MovedRowsInSharedMemory = false;
        if (path == Path.SeparateCounts)
        {
            if (!s.CanCountLabels(d, incremental.Pitch))
                Assert.Inconclusive("The assignment does not count labels on this GPU: every batch uses the separate kernels.");
            incremental.AllowAssignCounting = false;
        }
        var a = new LloydStepResult[b];
        var f = new LloydStepResult[b];
        int incrementalSteps = 0;
        for (int step = 0; step < steps; step++)
        {
            if (incremental.NextStepIsIncremental)
                incrementalSteps++;
            Assert.IsFalse(full.NextStepIsIncremental);
            incremental.Step(false, a, default);
            full.Step(false, f, default);
            CollectionAssert.AreEqual(Read(full.Centroids, s), Read(incremental.Centroids, s), $"step {step}: centroids");
            CollectionAssert.AreEqual(Read(full.Labels, s), Read(incremental.Labels, s), $"step {step}: labels");
            for (int p = 0; p < b; p++)
            {
                Assert.AreEqual(f[p].LabelsChanged, a[p].LabelsChanged, $"step {step}, problem {p}: moved labels");
                Assert.AreEqual(f[p].Inertia, a[p].Inertia, $"step {step}, problem {p}: inertia");
                CollectionAssert.AreEqual(full.HostClusterWeights(p).ToArray(), incremental.HostClusterWeights(p).ToArray(), $"step {step}: weights");
            }
        }
        Assert.IsTrue(incrementalSteps >= steps - 3, $"only {incrementalSteps} of {steps} steps were incremental");

        // The sums are right, not merely equal: each centroid is the weighted mean of the stored rows under the labels of
        // the last step (the steps' labels were those of the centroids before it, which the last step replaced).
        var labels = Read(incremental.Labels, s);
        var stored = Gpu.Stored(s, incremental.X, b * n, incremental.Pitch, d);
        var got = Read(incremental.Centroids, s);
        var sums = new double[b * k * d];
        var mass = new double[b * k];
        for (int r = 0; r < b * n; r++)
        {
            int c = r / n * k + labels[r];
            double w = weights?[r] ?? 1.0;
            mass[c] += w;
            for (int j = 0; j < d; j++)
                sums[c * d + j] += w * stored[r * d + j];
        }
        for (int c = 0; c < b * k; c++)
        {
            if (mass[c] == 0)
                continue;
            for (int j = 0; j < d; j++)
            {
                double expected = sums[c * d + j] / mass[c];
                Assert.AreEqual(expected, got[c * d + j], 2e-6 * Math.Max(1, Math.Abs(expected)), $"cluster {c}, element {j}");
            }
        }
    }

    private static T[] Read<T>(DeviceBuffer<T> buffer, CudaSession s) where T : unmanaged
    {
        var values = new T[buffer.Length];
        buffer.CopyTo(values, 0, s.Stream);
        return values;
    }
}
