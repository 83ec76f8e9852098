using System.Runtime.InteropServices;
using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Cuda.Streaming;
using FlashKMeans.Data;
using FlashKMeans.Tests.Cuda;

namespace FlashKMeans.Tests.Streaming;

/// <summary>
/// Streamed and cached fits on the GPU against the resident fit, bit for bit, with the deterministic
/// update; and the error paths, against the live-object counter.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class StreamingGpuTests
{
    private static KMeansOptions Options(ComputePrecision precision, int k, float[]? initial, GpuDataMode mode, int? batchRows = null, long? budget = null) => new()
    {
        NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = precision, DeterministicUpdate = true,
        Initialization = initial is null ? KMeansInitialization.KMeansPlusPlus : KMeansInitialization.Explicit,
        InitialCentroids = initial ?? default, MaximumNumberOfIterations = 8, OptimizationTolerance = 0,
        DataMode = mode, StreamingBatchRows = batchRows, DeviceMemoryBudget = budget,
    };

    [TestMethod]
    [DataRow(ComputePrecision.Float16, 1000, 37, 13, 77)]      // batch not dividing N, d not a multiple of 8
    [DataRow(ComputePrecision.Float16, 1, 16, 1, 5)]           // one row, batch larger than N
    [DataRow(ComputePrecision.Float32, 1000, 20, 7, 5000)]     // one batch larger than N
    [DataRow(ComputePrecision.TensorFloat32, 999, 24, 9, 100)] // packed on the device
    [DataRow(ComputePrecision.BFloat16, 4097, 128, 33, 1000)]
    [DataRow(ComputePrecision.Float16, 20000, 128, 100, 4096)]
    [DataRow(ComputePrecision.Float32, 3001, 5, 4, 256)]       // exact kernel (d < 16)
    public void Streamed_and_cached_fits_equal_the_resident_fit(ComputePrecision precision, int n, int d, int k, int batchRows)
    {
        Gpu.Require();
        var data = TestData.Blobs(n, d, centers: Math.Max(1, k), spread: 3, seed: n + d);
        var initial = TestData.PickRows(data, d, k, seed: 4);
        var resident = new KMeans(Options(precision, k, initial, GpuDataMode.InMemory)).Fit(data, d);
        var streamed = new KMeans(Options(precision, k, initial, GpuDataMode.Streaming, batchRows)).Fit(data, d);
        FitAssert.Identical(resident, streamed, "streaming");
        var cached = new KMeans(Options(precision, k, initial, GpuDataMode.Cached, batchRows)).Fit(data, d);
        FitAssert.Identical(resident, cached, "all cached");
        long storedRow = new CudaPrecision(precision).Pitch(d) * new CudaPrecision(precision).ElementBytes;
        var partial = new KMeans(Options(precision, k, initial, GpuDataMode.Cached, batchRows, budget: storedRow * batchRows * 2)).Fit(data, d);
        FitAssert.Identical(resident, partial, "two batches cached");
    }

    [TestMethod]
    [DataRow(KMeansInitialization.KMeansPlusPlus)]
    [DataRow(KMeansInitialization.KMeansParallel)]
    [DataRow(KMeansInitialization.RandomRows)]
    public void Seeding_over_streamed_data_equals_seeding_in_memory(KMeansInitialization initialization)
    {
        Gpu.Require();
        int n = 3000, d = 24, k = 17;
        var data = TestData.Blobs(n, d, centers: 12, spread: 2, seed: 7);
        KMeansOptions With(GpuDataMode mode) => new()
        {
            NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float16, DeterministicUpdate = true,
            Initialization = initialization, MaximumNumberOfIterations = 5, OptimizationTolerance = 0, Seed = 3,
            DataMode = mode, StreamingBatchRows = 512, DeviceMemoryBudget = 512L * 48 * 2 * 2,
        };
        var resident = new KMeans(With(GpuDataMode.InMemory)).Fit(data, d);
        FitAssert.Identical(resident, new KMeans(With(GpuDataMode.Streaming)).Fit(data, d), "streaming");
        FitAssert.Identical(resident, new KMeans(With(GpuDataMode.Cached)).Fit(data, d), "partly cached");
    }

    [TestMethod]
    public void A_forward_only_weighted_source_streams_to_the_resident_fit()
    {
        Gpu.Require();
        int n = 5000, d = 40, k = 11;
        var data = TestData.Blobs(n, d, centers: 11, spread: 3, seed: 9);
        var weights = Enumerable.Range(0, n).Select(i => 0.5f + i % 7).ToArray();
        var initial = TestData.PickRows(data, d, k, seed: 5);
        var resident = new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.InMemory)).Fit(new InMemoryBatchSource(data, d, weights, 999));
        foreach (var (mode, budget) in new[] { (GpuDataMode.Streaming, (long?)null), (GpuDataMode.Cached, 1000L * 40 * 2 * 3), (GpuDataMode.Cached, null) })
        {
            var source = new ForwardOnlySource(data, d, 333, weights);
            var fit = new KMeans(Options(ComputePrecision.Float16, k, initial, mode, 1000, budget)).Fit(source);
            FitAssert.Identical(resident, fit, $"{mode}, budget {budget}");
        }
    }

    [TestMethod]
    [DataRow(1)]  // fails in the first pass, while the cache fills
    [DataRow(2)]  // fails in the first Lloyd step
    [DataRow(4)]
    public void A_source_that_throws_midway_gives_a_clear_error_and_leaks_nothing(int failOnPass)
    {
        Gpu.Require();
        int n = 4000, d = 16, k = 5;
        var data = TestData.Gaussian(n, d, seed: 1);
        var initial = TestData.PickRows(data, d, k, seed: 2);
        new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.Streaming, 256)).Fit(data, d);  // warm: modules loaded
        long objects = CudaResource.LiveCount;
        long bytes = DeviceBuffer<byte>.LiveBytes + DeviceBuffer<float>.LiveBytes + DeviceBuffer<int>.LiveBytes;
        foreach (var mode in new[] { GpuDataMode.Streaming, GpuDataMode.Cached })
        {
            // Pass 0 is the engine's validation scan; the GPU reads from pass 1 on. Cached mode caches
            // half the batches, so its later passes still read the failing row.
            var source = new ForwardOnlySource(data, d, 300, failAtRow: 3100, failOnPass: failOnPass);
            var options = Options(ComputePrecision.Float16, k, initial, mode, 256, budget: 256L * 16 * 2 * 8);
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => new KMeans(options).Fit(source));
            StringAssert.Contains(error.Message, "batch source failed");
            StringAssert.Contains(error.Message, "disk error at row 3100");
            Assert.AreEqual(objects, CudaResource.LiveCount, $"{mode}: live GPU objects");
            Assert.AreEqual(bytes, DeviceBuffer<byte>.LiveBytes + DeviceBuffer<float>.LiveBytes + DeviceBuffer<int>.LiveBytes, $"{mode}: live device bytes");
        }
    }

    [TestMethod]
    public void Page_locked_half_rows_are_copied_straight_from_the_source()
    {
        Gpu.Require();
        int n = 10000, d = 64, k = 20;
        var data = TestData.Blobs(n, d, centers: 20, spread: 3, seed: 3);
        var halves = data.Select(v => (Half)v).ToArray();
        var widened = halves.Select(h => (float)h).ToArray();
        var initial = TestData.PickRows(widened, d, k, seed: 1);
        var resident = new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.InMemory)).Fit(widened, d);
        using var pinned = new PageLockedHalfRows(halves);
        var source = pinned.Source(d, 1234);
        FitAssert.Identical(resident, new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.Streaming, 999)).Fit(source), "direct");
        using var session = new CudaSession(pinned.Context, new CudaPrecision(ComputePrecision.Float16), ownsContext: false);
        var plan = StreamingPlanner.Plan(n, d * 2, d * 2, 1L << 34, GpuDataMode.Streaming, 999, 3, null);
        using (var binding = new StreamingCudaDataBinding(session, source, n, k, true, plan, 2, null, default))
        {
            Assert.IsTrue(binding.CopiesFromSource);
            // Assign-only pass (prediction) streamed the same way, against the resident scorer's labels.
            var labels = new int[n];
            binding.Predict(resident.Centroids.Span, labels, default);
            using var scorer = new CudaScorer(session, resident.Centroids.Span, d);
            var expected = new int[n];
            scorer.Assign(widened, expected, new float[n]);
            CollectionAssert.AreEqual(expected, labels);
        }
        // Without the flag the same memory goes through the ring.
        FitAssert.Identical(resident, new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.Cached, 999, budget: 999L * 128 * 4))
            .Fit(pinned.Source(d, 1234, pageLocked: false)), "ring");
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16)]
    [DataRow(ComputePrecision.Float32)]
    [DataRow(ComputePrecision.BFloat16)]
    public void Ring_host_copies_give_the_resident_steps(ComputePrecision precision)
    {
        Gpu.Require();
        int n = 30000, d = 72, k = 50;
        var data = TestData.Blobs(n, d, centers: 50, spread: 3, seed: 12);
        var initial = TestData.PickRows(data, d, k, seed: 3);
        var source = new InMemoryBatchSource(data, d, batchRows: 4000);
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = precision, DeterministicUpdate = true });
        var session = backend.Session;
        var p = new CudaPrecision(precision);
        var plan = StreamingPlanner.Plan(n, p.Pitch(d) * p.ElementBytes, p.Pitch(d) * p.ElementBytes, 1L << 34, GpuDataMode.Streaming, 3333, 3, null);
        float[] Run(IKMeansDataBindingFactory make)
        {
            using var binding = make();
            binding.SetCentroids(initial);
            for (int i = 0; i < 4; i++)
                binding.Step(false, default);
            var c = new float[k * d];
            binding.GetCentroids(c);
            return c;
        }
        var resident = Run(() => new CudaDataBinding(session, source, new DataSummary(n, n), k, default));
        CollectionAssert.AreEqual(resident, Run(() => new StreamingCudaDataBinding(session, source, n, k, true, plan, 4, null, default)), "ring");
    }

    private delegate FlashKMeans.Backends.IKMeansDataBinding IKMeansDataBindingFactory();

    /// <summary>Random-access rows that fail the second time a chosen row is read (the first is the bind pass).</summary>
    private sealed class FailingBlockSource(InMemoryBatchSource inner, long failRow) : IRowBlockSource
    {
        private int _reads;
        public int Dimension => inner.Dimension;
        public long? RowCount => inner.RowCount;
        public bool HasWeights => inner.HasWeights;
        public IBatchReader OpenReader() => inner.OpenReader();
        public RowElementType ElementType => inner.ElementType;
        public ReadOnlySpan<float> GetWeights(long firstRow, int rowCount) => inner.GetWeights(firstRow, rowCount);

        public ReadOnlySpan<byte> GetRowBytes(long firstRow, int rowCount)
        {
            if (firstRow <= failRow && failRow < firstRow + rowCount && Interlocked.Increment(ref _reads) >= 2)
                throw new IOException($"mapped file vanished at row {failRow}");
            return inner.GetRowBytes(firstRow, rowCount);
        }
    }

    [TestMethod]
    public void A_random_access_source_that_throws_in_a_worker_leaks_nothing()
    {
        Gpu.Require();
        int n = 50000, d = 32, k = 8;
        var data = TestData.Gaussian(n, d, seed: 4);
        var initial = TestData.PickRows(data, d, k, seed: 2);
        new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.Streaming, 10000)).Fit(data, d);
        long objects = CudaResource.LiveCount;
        var source = new FailingBlockSource(new InMemoryBatchSource(data, d), failRow: 33333);
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => new KMeans(Options(ComputePrecision.Float16, k, initial, GpuDataMode.Streaming, 10000)).Fit(source));
        StringAssert.Contains(error.Message, "batch source failed");
        StringAssert.Contains(error.Message, "mapped file vanished at row 33333");
        Assert.AreEqual(objects, CudaResource.LiveCount);
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16)]
    [DataRow(ComputePrecision.BFloat16)]
    public unsafe void Page_locked_fp32_rows_split_between_host_and_gpu_conversion_give_the_resident_steps(ComputePrecision precision)
    {
        Gpu.Require();
        int n = 20000, d = 40, k = 30;
        var data = TestData.Blobs(n, d, centers: 30, spread: 3, seed: 21);
        var initial = TestData.PickRows(data, d, k, seed: 6);
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = precision, DeterministicUpdate = true });
        var session = backend.Session;
        var p = new CudaPrecision(precision);
        var plan = StreamingPlanner.Plan(n, p.Pitch(d) * p.ElementBytes, p.Pitch(d) * p.ElementBytes, 1L << 34, GpuDataMode.Cached, 3001, 3, p.Pitch(d) * p.ElementBytes * 3001L * 2);
        float[] Run(IKMeansDataBindingFactory make)
        {
            using var binding = make();
            binding.SetCentroids(initial);
            for (int i = 0; i < 4; i++)
                binding.Step(false, default);
            var c = new float[k * d];
            binding.GetCentroids(c);
            return c;
        }
        var resident = Run(() => new CudaDataBinding(session, new InMemoryBatchSource(data, d), new DataSummary(n, n), k, default));
        fixed (float* rows = data)
        {
            using var registration = new HostRegistration(session.Context, (nint)rows, (long)n * d * 4);
            var source = new UnmanagedRowsBatchSource((nint)rows, n, d, RowElementType.Float32) { IsPageLocked = true };
            foreach (double share in new[] { 0.0, 0.37, 1.0 })
            {
                CollectionAssert.AreEqual(resident, Run(() =>
                {
                    var b = new StreamingCudaDataBinding(session, source, n, k, true, plan, 3, null, default, hostConversionShare: share);
                    Assert.AreEqual(share < 1, b.SplitsConversion);
                    return b;
                }), $"host share {share}");
            }
        }
    }

    [TestMethod]
    public void The_placement_is_chosen_from_sizes_and_logged()
    {
        Gpu.Require();
        int n = 2000, d = 16, k = 4;
        var data = TestData.Gaussian(n, d, seed: 3);
        var logger = new ListLogger();
        new KMeans(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cuda, MaximumNumberOfIterations = 2, Logger = logger }).Fit(data, d);
        Assert.IsTrue(logger.Messages.Any(m => m.Contains("in-memory: the data fits in GPU memory", StringComparison.Ordinal)), string.Join("\n", logger.Messages));
        logger.Messages.Clear();
        new KMeans(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cuda, MaximumNumberOfIterations = 2, Logger = logger,
            DataMode = GpuDataMode.Cached, StreamingBatchRows = 300, DeviceMemoryBudget = 300L * 16 * 4 * 2 }).Fit(data, d);
        Assert.IsTrue(logger.Messages.Any(m => m.Contains("cached: Cached was asked for", StringComparison.Ordinal) && m.Contains("7 batches of 300 rows, 2 kept on the GPU", StringComparison.Ordinal)),
            string.Join("\n", logger.Messages));
    }
}
