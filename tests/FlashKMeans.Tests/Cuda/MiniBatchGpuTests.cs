using System.Runtime.InteropServices;
using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Cuda.Streaming;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Stream learning on the GPU. Steps run whole on the device (assignment, fp64 segment sums, running-mean update): on
/// well-separated blobs every label is the CPU's, so the centroids must match the CPU stream's up to float rounding and the
/// seen weights exactly. With the deterministic update the GPU only assigns and the host updates in row order, so fp32
/// centroids must match the CPU's to the last bit.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class MiniBatchGpuTests : GpuTestClass
{
    private const int D = 24, K = 32;

    private static MiniBatchKMeans Stream(ComputeDevice device, ComputePrecision precision, bool deterministic = false,
        KMeansDistance distance = KMeansDistance.SquaredEuclidean, double forgetting = 1.0, int batch = 1024, int d = D) => new(new KMeansOptions
    {
        NumberOfClusters = K, Seed = 4, Device = device, Precision = precision, DeterministicUpdate = deterministic, Distance = distance,
        MiniBatch = new MiniBatchOptions { InitializationSize = 4096, ForgettingFactor = forgetting, BatchSize = batch },
    }, d);

    private static void AssertClose(MiniBatchKMeans expected, MiniBatchKMeans got, double tolerance = 1e-4)
    {
        var e = expected.Snapshot().Centroids.ToArray();
        var g = got.Snapshot().Centroids.ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.AreEqual(e[i], g[i], tolerance * (1 + Math.Abs(e[i])), $"value {i}");
        Assert.AreEqual(expected.Steps, got.Steps);
        Assert.AreEqual(expected.RowsSeen, got.RowsSeen);
    }

    [TestMethod]
    public void The_deterministic_update_gives_the_CPU_streams_bits()
    {
        var rows = TestData.Blobs(30_000, D, K, 12.0, seed: 11);
        var cpu = Stream(ComputeDevice.Cpu, ComputePrecision.Float32);
        using var gpu = Stream(ComputeDevice.Cuda, ComputePrecision.Float32, deterministic: true);
        for (int at = 0; at < 30_000; at += 1500)
        {
            cpu.PartialFit(rows.AsSpan(at * D, 1500 * D));
            gpu.PartialFit(rows.AsSpan(at * D, 1500 * D));
        }
        CollectionAssert.AreEqual(cpu.Snapshot().Centroids.ToArray(), gpu.Snapshot().Centroids.ToArray());
        CollectionAssert.AreEqual(cpu.ClusterWeights.ToArray(), gpu.ClusterWeights.ToArray());
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float32, 0.01), DataRow(ComputePrecision.Float16, 0.0), DataRow(ComputePrecision.TensorFloat32, 0.0)]
    public void A_pass_staged_from_a_source_with_weights_and_forgetting_matches_the_CPU(ComputePrecision precision, double reassignment)
    {
        // Weighted rows, a forgetting factor, and a class that appears only in the second half: the old centroids' seen
        // weights fade, so the reassignment (on the host, between device steps) has light centroids to move. The rows it
        // moves them to are drawn by squared distance, which only fp32 distances reproduce; 16-bit runs leave it off.
        int n = 40_000;
        var rows = TestData.Blobs(n, D, K, 12.0, seed: 12);
        TestData.Blobs(n / 2, D, 1, 40.0, seed: 13).CopyTo(rows.AsSpan(n / 2 * D));
        var random = new Random(5);
        var weights = Enumerable.Range(0, n).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
        var source = new InMemoryBatchSource(rows, D, weights);
        MiniBatchKMeans Make(ComputeDevice device, ComputePrecision p) => new(new KMeansOptions
        {
            NumberOfClusters = K, Seed = 4, Device = device, Precision = p,
            MiniBatch = new MiniBatchOptions { InitializationSize = 4096, ForgettingFactor = 0.9, BatchSize = 1000, ReassignmentRatio = reassignment },
        }, D);
        var cpu = Make(ComputeDevice.Cpu, ComputePrecision.Float32);
        using var gpu = Make(ComputeDevice.Cuda, precision);
        cpu.PartialFit(source);
        gpu.PartialFit(source);
        if (reassignment > 0)
            Assert.IsTrue(cpu.Snapshot().EmptyClustersReseeded > 0, "the late class must have won reassigned centroids");
        Assert.AreEqual(cpu.Snapshot().EmptyClustersReseeded, gpu.Snapshot().EmptyClustersReseeded);
        if (reassignment > 0)
        {
            // A reassigned centroid starts at a row drawn by squared distance, and the GPU's distances (‖x‖² − 2x·c + ‖c‖²)
            // round differently from the CPU's, so it may start at another row of the same class, and the two streams then
            // part by a little. What must agree is the model's quality: its inertia over all rows (float64 brute force).
            double expected = Reference.Inertia(rows, D, cpu.Snapshot().Centroids.Span);
            double got = Reference.Inertia(rows, D, gpu.Snapshot().Centroids.Span);
            Assert.AreEqual(expected, got, 2e-3 * expected, "inertia over all rows");
            return;
        }
        AssertClose(cpu, gpu);
        var expectedWeights = cpu.ClusterWeights.ToArray();
        var gotWeights = gpu.ClusterWeights.ToArray();
        for (int c = 0; c < K; c++)
            Assert.AreEqual(expectedWeights[c], gotWeights[c], 1e-9 * (1 + expectedWeights[c]), $"seen weight {c}");
    }

    [TestMethod]
    public void A_bad_batch_given_as_a_span_is_found_on_the_GPU_and_changes_nothing()
    {
        // Once the stream steps on the GPU, the device checks the rows; the model must be left as it was and the row named.
        var rows = TestData.Blobs(12_000, D, K, 12.0, seed: 17);
        using var gpu = Stream(ComputeDevice.Cuda, ComputePrecision.Float16);
        for (int at = 0; at < 8000; at += 2000)
            gpu.PartialFit(rows.AsSpan(at * D, 2000 * D));
        var before = gpu.Snapshot().Centroids.ToArray();
        var seen = gpu.ClusterWeights.ToArray();
        var bad = rows.AsSpan(8000 * D, 2000 * D).ToArray();
        bad[(1234 * D) + 7] = 1e6f;  // finite, but beyond fp16's range
        var error = Assert.ThrowsExactly<ArgumentException>(() => gpu.PartialFit(bad));
        StringAssert.Contains(error.Message, "Row 9234");
        CollectionAssert.AreEqual(before, gpu.Snapshot().Centroids.ToArray());
        CollectionAssert.AreEqual(seen, gpu.ClusterWeights.ToArray());
        Assert.AreEqual(8000, gpu.RowsSeen);
        gpu.PartialFit(rows.AsSpan(10_000 * D, 2000 * D));  // and it goes on learning
        Assert.AreEqual(10_000, gpu.RowsSeen);
    }

    [TestMethod]
    public void A_pass_copied_straight_from_page_locked_fp16_rows_matches_the_CPU_on_the_same_values()
    {
        int n = 50_000, d = 64;
        var halves = TestData.Blobs(n, d, K, 12.0, seed: 14).Select(v => (Half)v).ToArray();
        var widened = halves.Select(h => (float)h).ToArray();
        var cpu = Stream(ComputeDevice.Cpu, ComputePrecision.Float32, batch: 4096, d: d);
        cpu.PartialFit(new InMemoryBatchSource(widened, d));
        using var pinned = new PageLockedHalfRows(halves);
        using var gpu = Stream(ComputeDevice.Cuda, ComputePrecision.Float16, batch: 4096, d: d);
        gpu.PartialFit(pinned.Source(d, 1000));
        AssertClose(cpu, gpu);
        CollectionAssert.AreEqual(cpu.ClusterWeights.ToArray(), gpu.ClusterWeights.ToArray(), "every row must have gone to the same cluster");
    }

    [TestMethod]
    public void A_bad_row_found_on_the_GPU_stops_the_pass_where_the_CPU_stops()
    {
        int n = 20_000;
        var rows = TestData.Blobs(n, D, K, 12.0, seed: 15);
        rows[(12_345 * D) + 3] = float.NaN;  // in the fourth batch of 4000
        using var gpu = Stream(ComputeDevice.Cuda, ComputePrecision.Float16, batch: 4000);
        var error = Assert.ThrowsExactly<ArgumentException>(() => gpu.PartialFit(new InMemoryBatchSource(rows, D)));
        StringAssert.Contains(error.Message, "Row 12345");
        // The model is the one the first three batches made, exactly as a stream given only those is.
        using var before = Stream(ComputeDevice.Cuda, ComputePrecision.Float16, batch: 4000);
        before.PartialFit(new InMemoryBatchSource(rows.AsMemory(0, 12_000 * D), D));
        AssertClose(before, gpu, 1e-5);
        CollectionAssert.AreEqual(before.ClusterWeights.ToArray(), gpu.ClusterWeights.ToArray());
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16), DataRow(ComputePrecision.BFloat16)]
    public void Centroids_kept_in_16_bits_on_the_GPU_match_the_CPUs(ComputePrecision centroidPrecision)
    {
        var rows = TestData.Blobs(20_000, D, K, 12.0, seed: 18);
        MiniBatchKMeans Make(ComputeDevice device) => new(new KMeansOptions
        {
            NumberOfClusters = K, Seed = 4, Device = device, Precision = ComputePrecision.Float32,
            MiniBatch = new MiniBatchOptions { InitializationSize = 4096, BatchSize = 2000, CentroidPrecision = centroidPrecision },
        }, D);
        using var cpu = Make(ComputeDevice.Cpu);
        using var gpu = Make(ComputeDevice.Cuda);
        cpu.PartialFit(new InMemoryBatchSource(rows, D));
        gpu.PartialFit(new InMemoryBatchSource(rows, D));
        // Both round every moved value to the precision; a float32 sum that differs in its last bit may round to the
        // neighbouring 16-bit value, one unit in the last place apart.
        double ulp = centroidPrecision == ComputePrecision.Float16 ? 1.0 / 1024 : 1.0 / 128;
        AssertClose(cpu, gpu, ulp);
        foreach (float v in gpu.Snapshot().Centroids.Span)
            Assert.AreEqual(Data.HalfPrecisionConversion.RoundTo(v, centroidPrecision), v, $"{v} is not a {centroidPrecision} value");
        CollectionAssert.AreEqual(cpu.ClusterWeights.ToArray(), gpu.ClusterWeights.ToArray());
    }

    [TestMethod]
    public void A_cosine_stream_on_the_GPU_matches_the_CPU()
    {
        var rows = TestData.Blobs(20_000, D, K, 12.0, seed: 16);
        var cpu = Stream(ComputeDevice.Cpu, ComputePrecision.Float32, distance: KMeansDistance.Cosine);
        using var gpu = Stream(ComputeDevice.Cuda, ComputePrecision.Float32, distance: KMeansDistance.Cosine);
        for (int at = 0; at < 20_000; at += 2500)
        {
            cpu.PartialFit(rows.AsSpan(at * D, 2500 * D));
            gpu.PartialFit(rows.AsSpan(at * D, 2500 * D));
        }
        AssertClose(cpu, gpu);
        CollectionAssert.AreEqual(cpu.ClusterWeights.ToArray(), gpu.ClusterWeights.ToArray());
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float32), DataRow(ComputePrecision.Float16)]
    public void A_GPU_stream_learns_the_CPU_streams_centroids(ComputePrecision precision)
    {
        var rows = TestData.Blobs(40_000, D, K, 12.0, seed: 7);
        var cpu = Stream(ComputeDevice.Cpu, ComputePrecision.Float32);
        using var gpu = Stream(ComputeDevice.Cuda, precision);
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
