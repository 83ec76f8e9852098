using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Cuda.Streaming;
using FlashKMeans.Data;
using FlashKMeans.Tests.Cuda;

namespace FlashKMeans.Tests.Streaming;

/// <summary>
/// Streamed and cached fits with labels on the host (read back batch by batch) against the same fits with labels
/// on the device, and against the resident fit: bit for bit with the deterministic update. Error paths against
/// the live-object counter.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class LabelPlacementGpuTests
{
    private static KMeansOptions Options(ComputePrecision precision, int k, float[]? initial, GpuDataMode mode, LabelPlacement labels,
        int? batchRows = null, long? budget = null, KMeansInitialization initialization = KMeansInitialization.KMeansParallel) => new()
    {
        NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = precision, DeterministicUpdate = true,
        Initialization = initial is null ? initialization : KMeansInitialization.Explicit,
        InitialCentroids = initial ?? default, MaximumNumberOfIterations = 8, OptimizationTolerance = 0, Seed = 5,
        DataMode = mode, LabelPlacement = labels, StreamingBatchRows = batchRows, DeviceMemoryBudget = budget,
    };

    [TestMethod]
    [DataRow(ComputePrecision.Float16, 1000, 37, 13, 77)]      // batch not dividing N, d not a multiple of 8
    [DataRow(ComputePrecision.Float16, 1, 16, 1, 5)]           // one row, batch larger than N
    [DataRow(ComputePrecision.Float32, 1000, 20, 7, 5000)]     // one batch larger than N
    [DataRow(ComputePrecision.TensorFloat32, 999, 24, 9, 100)] // packed on the device
    [DataRow(ComputePrecision.BFloat16, 4097, 128, 33, 1000)]
    [DataRow(ComputePrecision.Float32, 3001, 5, 4, 256)]       // exact kernel (d < 16)
    public void Host_and_device_labels_give_bit_identical_fits(ComputePrecision precision, int n, int d, int k, int batchRows)
    {
        Gpu.Require();
        var data = TestData.Blobs(n, d, centers: Math.Max(1, k), spread: 3, seed: n + d);
        var initial = TestData.PickRows(data, d, k, seed: 4);
        var resident = new KMeans(Options(precision, k, initial, GpuDataMode.InMemory, LabelPlacement.Device)).Fit(data, d);
        long storedRow = new CudaPrecision(precision).Pitch(d) * new CudaPrecision(precision).ElementBytes;
        foreach (var (mode, budget) in new[] { (GpuDataMode.Streaming, (long?)null), (GpuDataMode.Cached, storedRow * batchRows * 2), (GpuDataMode.Cached, (long?)null) })
        {
            var device = new KMeans(Options(precision, k, initial, mode, LabelPlacement.Device, batchRows, budget)).Fit(data, d);
            var host = new KMeans(Options(precision, k, initial, mode, LabelPlacement.Host, batchRows, budget)).Fit(data, d);
            FitAssert.Identical(device, host, $"{mode}, budget {budget}: host against device labels");
            FitAssert.Identical(resident, host, $"{mode}, budget {budget}: host labels against resident");
        }
    }

    [TestMethod]
    [DataRow(KMeansInitialization.KMeansParallel)]  // seed weights: an evaluation with cluster weights
    [DataRow(KMeansInitialization.KMeansPlusPlus)]
    [DataRow(KMeansInitialization.RandomRows)]
    public void Seeding_and_evaluation_with_host_labels_equal_device_labels(KMeansInitialization initialization)
    {
        Gpu.Require();
        int n = 3000, d = 24, k = 17;
        var data = TestData.Blobs(n, d, centers: 12, spread: 2, seed: 7);
        var device = new KMeans(Options(ComputePrecision.Float16, k, null, GpuDataMode.Cached, LabelPlacement.Device, 512, 512L * 48 * 2, initialization)).Fit(data, d);
        var host = new KMeans(Options(ComputePrecision.Float16, k, null, GpuDataMode.Cached, LabelPlacement.Host, 512, 512L * 48 * 2, initialization)).Fit(data, d);
        FitAssert.Identical(device, host, initialization.ToString());
    }

    [TestMethod]
    public void Empty_clusters_are_re_seeded_from_host_labels_as_from_device_labels()
    {
        Gpu.Require();
        int n = 2500, d = 16, k = 8;
        var data = TestData.Blobs(n, d, centers: 6, spread: 2, seed: 11);
        var initial = TestData.PickRows(data, d, k, seed: 2);
        // Two centroids far from every row: empty after the first assignment, re-seeded from the farthest rows.
        for (int j = 0; j < d; j++)
        {
            initial[(k - 1) * d + j] = 1e4f;
            initial[(k - 2) * d + j] = -1e4f;
        }
        var device = new KMeans(Options(ComputePrecision.Float32, k, initial, GpuDataMode.Streaming, LabelPlacement.Device, 333)).Fit(data, d);
        var host = new KMeans(Options(ComputePrecision.Float32, k, initial, GpuDataMode.Streaming, LabelPlacement.Host, 333)).Fit(data, d);
        Assert.IsTrue(device.EmptyClustersReseeded >= 2, $"{device.EmptyClustersReseeded} re-seeded");
        FitAssert.Identical(device, host, "re-seeding");
    }

    [TestMethod]
    public void A_weighted_forward_only_source_gives_the_same_fit_with_host_labels()
    {
        Gpu.Require();
        int n = 5000, d = 40, k = 11;
        var data = TestData.Blobs(n, d, centers: 11, spread: 3, seed: 9);
        var weights = Enumerable.Range(0, n).Select(i => 0.5f + i % 7).ToArray();
        var initial = TestData.PickRows(data, d, k, seed: 5);
        var resident = new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.InMemory, LabelPlacement.Device)).Fit(new InMemoryBatchSource(data, d, weights, 999));
        foreach (var (mode, budget) in new[] { (GpuDataMode.Streaming, (long?)null), (GpuDataMode.Cached, 1000L * 40 * 2 * 3) })
        {
            var fit = new KMeans(Options(ComputePrecision.Float16, k, initial, mode, LabelPlacement.Host, 1000, budget)).Fit(new ForwardOnlySource(data, d, 333, weights));
            FitAssert.Identical(resident, fit, $"{mode}, budget {budget}");
        }
        var parallel = new KMeans(Options(ComputePrecision.Float16, k, null, GpuDataMode.Cached, LabelPlacement.Device, 1000, 1000L * 40 * 2 * 2)).Fit(new ForwardOnlySource(data, d, 333, weights));
        var parallelHost = new KMeans(Options(ComputePrecision.Float16, k, null, GpuDataMode.Cached, LabelPlacement.Host, 1000, 1000L * 40 * 2 * 2)).Fit(new ForwardOnlySource(data, d, 333, weights));
        FitAssert.Identical(parallel, parallelHost, "k-means‖ on weighted rows");
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16)]
    [DataRow(ComputePrecision.TensorFloat32)]
    public void The_bindings_assign_only_pass_with_host_labels_equals_device_labels(ComputePrecision precision)
    {
        Gpu.Require();
        int n = 7001, d = 33, k = 19;
        var data = TestData.Blobs(n, d, centers: k, spread: 3, seed: 13);
        var centroids = TestData.PickRows(data, d, k, seed: 8);
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = precision, DeterministicUpdate = true });
        var session = backend.Session;
        var p = new CudaPrecision(precision);
        long row = p.Pitch(d) * p.ElementBytes;
        var source = new InMemoryBatchSource(data, d, batchRows: 1000);
        (int[] Labels, double Inertia) Run(LabelPlacement placement)
        {
            var plan = StreamingPlanner.Plan(n, row, row, 1L << 34, GpuDataMode.Cached, 999, 3, row * 999 * 3, placement);
            using var binding = new StreamingCudaDataBinding(session, source, n, k, true, plan, 2, null, default);
            Assert.AreEqual(placement == LabelPlacement.Host, binding.LabelsOnHost);
            var labels = new int[n];
            double inertia = binding.Predict(centroids, labels, default);
            return (labels, inertia);
        }
        var device = Run(LabelPlacement.Device);
        var host = Run(LabelPlacement.Host);
        CollectionAssert.AreEqual(device.Labels, host.Labels);
        Assert.AreEqual(device.Inertia, host.Inertia);
    }

    [TestMethod]
    public void The_label_placement_is_logged_with_the_data_placement()
    {
        Gpu.Require();
        int n = 2000, d = 16, k = 4;
        var data = TestData.Gaussian(n, d, seed: 3);
        var logger = new ListLogger();
        KMeansOptions With(LabelPlacement labels) => new()
        {
            NumberOfClusters = k, Device = ComputeDevice.Cuda, MaximumNumberOfIterations = 2, Logger = logger,
            DataMode = GpuDataMode.Cached, StreamingBatchRows = 300, DeviceMemoryBudget = 300L * 16 * 4 * 2, LabelPlacement = labels,
        };
        new KMeans(With(LabelPlacement.Auto)).Fit(data, d);
        Assert.IsTrue(logger.Messages.Any(m => m.Contains("cached: Cached was asked for", StringComparison.Ordinal) && m.Contains("; labels on the GPU (", StringComparison.Ordinal)),
            string.Join("\n", logger.Messages));
        logger.Messages.Clear();
        new KMeans(With(LabelPlacement.Host)).Fit(data, d);
        Assert.IsTrue(logger.Messages.Any(m => m.Contains("labels on the host, as asked", StringComparison.Ordinal)), string.Join("\n", logger.Messages));
    }

    [TestMethod]
    [DataRow(1)]  // fails in the first pass, while the cache fills
    [DataRow(2)]  // fails in the first Lloyd step, with batches' labels in flight
    [DataRow(4)]
    public void A_source_that_throws_midway_with_host_labels_leaks_nothing(int failOnPass)
    {
        Gpu.Require();
        int n = 4000, d = 16, k = 5;
        var data = TestData.Gaussian(n, d, seed: 1);
        var initial = TestData.PickRows(data, d, k, seed: 2);
        new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.Streaming, LabelPlacement.Host, 256)).Fit(data, d);  // warm: modules loaded
        long objects = CudaResource.LiveCount;
        long bytes = DeviceBuffer<byte>.LiveBytes + DeviceBuffer<float>.LiveBytes + DeviceBuffer<int>.LiveBytes;
        foreach (var mode in new[] { GpuDataMode.Streaming, GpuDataMode.Cached })
        {
            // Pass 0 is the engine's validation scan; the GPU reads from pass 1 on.
            var source = new ForwardOnlySource(data, d, 300, failAtRow: 3100, failOnPass: failOnPass);
            var options = Options(ComputePrecision.Float16, k, initial, mode, LabelPlacement.Host, 256, budget: 256L * 16 * 2 * 8);
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => new KMeans(options).Fit(source));
            StringAssert.Contains(error.Message, "batch source failed");
            StringAssert.Contains(error.Message, "disk error at row 3100");
            Assert.AreEqual(objects, CudaResource.LiveCount, $"{mode}: live GPU objects");
            Assert.AreEqual(bytes, DeviceBuffer<byte>.LiveBytes + DeviceBuffer<float>.LiveBytes + DeviceBuffer<int>.LiveBytes, $"{mode}: live device bytes");
        }
    }
}
