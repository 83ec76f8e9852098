using System.Runtime.InteropServices;
using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;
using FlashKMeans.Tests.Cuda;

namespace FlashKMeans.Tests.Streaming;

/// <summary>
/// Prediction over batch sources on the GPU, streamed through the pinned ring with labels read back per batch:
/// against the in-memory GPU scorer (same kernels, same precision: identical labels) and brute force (labels
/// right up to ties); error paths against the live-object counter; and more rows than 2³¹.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class StreamedPredictionGpuTests
{
    /// <summary>Labels and distances of the resident GPU scorer (the model's in-memory predict on the GPU).</summary>
    private static (int[] Labels, float[] Distances) InMemory(CudaBackend backend, float[] centroids, float[] rows, int d)
    {
        int n = rows.Length / d;
        var labels = new int[n];
        var distances = new float[n];
        using var scorer = backend.CreateScorer(centroids, d);
        scorer.Assign(rows, labels, distances);
        return (labels, distances);
    }

    /// <summary>Streams through <see cref="CudaBackend.PredictStreamed"/> with the backend's batch rows, checking row order.</summary>
    private static (int[] Labels, float[] Distances) Streamed(CudaBackend backend, IBatchSource source, long n, float[] centroids)
    {
        var labels = new int[n];
        var distances = new float[n];
        long next = 0;
        backend.PredictStreamed(source, n, centroids, withDistances: true, (first, l, dist) =>
        {
            Assert.AreEqual(next, first, "batches in row order, no gaps");
            l.CopyTo(labels.AsSpan((int)first));
            dist.CopyTo(distances.AsSpan((int)first));
            next += l.Length;
        }, default);
        Assert.AreEqual(n, next);
        return (labels, distances);
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float32, 1, 16, 1, 5)]           // one row, batch larger than N
    [DataRow(ComputePrecision.Float32, 1000, 37, 13, 77)]      // batch not dividing N, d not a multiple of 8
    [DataRow(ComputePrecision.Float16, 1000, 20, 7, 5000)]     // one batch larger than N
    [DataRow(ComputePrecision.TensorFloat32, 999, 24, 9, 100)] // packed on the device, norms per batch
    [DataRow(ComputePrecision.BFloat16, 4097, 128, 33, 1000)]
    [DataRow(ComputePrecision.Float32, 3001, 5, 4, 256)]       // exact kernel (d < 16)
    public void Streamed_predict_equals_the_in_memory_scorer_and_brute_force(ComputePrecision precision, int n, int d, int k, int batchRows)
    {
        Gpu.Require();
        var data = TestData.Blobs(n, d, centers: k, spread: 3, seed: n + d);
        var centroids = TestData.PickRows(data, d, k, seed: 3);
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = precision, StreamingBatchRows = batchRows });
        var expected = InMemory(backend, centroids, data, d);
        foreach (var source in new IBatchSource[] { new InMemoryBatchSource(data, d, batchRows: 313), new ForwardOnlySource(data, d, 211) })
        {
            var (labels, distances) = Streamed(backend, source, n, centroids);
            CollectionAssert.AreEqual(expected.Labels, labels, source.GetType().Name);
            for (int i = 0; i < n; i++)
                Assert.AreEqual(expected.Distances[i], distances[i], 1e-5f * Math.Max(1, Math.Abs(expected.Distances[i])), $"{source.GetType().Name}: distance of row {i}");
        }
        if (precision == ComputePrecision.Float32)
        {
            var (labels, _) = Streamed(backend, new InMemoryBatchSource(data, d), n, centroids);
            for (int i = 0; i < n; i++)
                Reference.AssertNearest(data.AsSpan(i * d, d), centroids, d, labels[i], $"row {i}");
        }
    }

    [TestMethod]
    [DataRow(KMeansDistance.SquaredEuclidean)]
    [DataRow(KMeansDistance.Cosine)]
    public void The_public_overloads_stream_on_the_gpu_and_equal_the_cpu(KMeansDistance distance)
    {
        Gpu.Require();
        int n = 20011, d = 24, k = 30;
        var data = TestData.Blobs(n, d, centers: k, spread: 3, seed: 17);
        var model = new KMeans(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu, Distance = distance, Seed = 2, MaximumNumberOfIterations = 5 }).Fit(data, d);
        var cpuLabels = new int[n];
        var cpuDistances = new float[n];
        model.Predict(new InMemoryBatchSource(data, d, batchRows: 4000), cpuLabels, cpuDistances, ComputeDevice.Cpu);

        var labels = new int[n];
        model.Predict(new ForwardOnlySource(data, d, 999), labels, ComputeDevice.Cuda);
        var gpuLabels = new int[n];
        var gpuDistances = new float[n];
        model.Predict(new InMemoryBatchSource(data, d, batchRows: 4000), gpuLabels, gpuDistances, ComputeDevice.Cuda);
        CollectionAssert.AreEqual(gpuLabels, labels, "span overloads");
        var sink = new RecordingSink();
        Assert.AreEqual(n, model.Predict(new InMemoryBatchSource(data, d), sink, includeDistances: true, ComputeDevice.Cuda));
        CollectionAssert.AreEqual(gpuLabels, sink.Labels, "sink");
        CollectionAssert.AreEqual(gpuDistances, sink.Distances, "sink distances");
        // fp32 on the GPU against the CPU: the same labels except where two centroids tie within rounding.
        var centroids = model.Centroids.Span;
        for (int i = 0; i < n; i++)
        {
            if (gpuLabels[i] == cpuLabels[i])
            {
                Assert.AreEqual(cpuDistances[i], gpuDistances[i], 1e-3f * Math.Max(1, cpuDistances[i]), $"distance of row {i}");
                continue;
            }
            var row = distance == KMeansDistance.Cosine ? Unit(data.AsSpan(i * d, d)) : data.AsSpan(i * d, d).ToArray();
            var (_, best, all) = Reference.Nearest(row, centroids, d);
            Assert.AreEqual(best, all[gpuLabels[i]], 1e-4 * Math.Max(1, best), $"row {i}: GPU label {gpuLabels[i]}, CPU label {cpuLabels[i]}");
        }
        Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new InMemoryBatchSource(data, d), new int[n - 1], ComputeDevice.Cuda));
    }

    private static float[] Unit(ReadOnlySpan<float> row)
    {
        var unit = row.ToArray();
        UnitLengthBatchSource.Normalize(unit, 0);
        return unit;
    }

    [TestMethod]
    public void A_source_or_sink_that_throws_during_a_streamed_predict_leaks_nothing()
    {
        Gpu.Require();
        int n = 40000, d = 16, k = 9;
        var data = TestData.Gaussian(n, d, seed: 4);
        var model = KMeansModel.FromCentroids(TestData.PickRows(data, d, k, seed: 1), d);
        model.Predict(new InMemoryBatchSource(data, d), new int[n], ComputeDevice.Cuda);  // warm
        long objects = CudaResource.LiveCount;
        long bytes = DeviceBuffer<byte>.LiveBytes + DeviceBuffer<float>.LiveBytes + DeviceBuffer<int>.LiveBytes;
        void AssertNothingLive(string what)
        {
            Assert.AreEqual(objects, CudaResource.LiveCount, $"{what}: live GPU objects");
            Assert.AreEqual(bytes, DeviceBuffer<byte>.LiveBytes + DeviceBuffer<float>.LiveBytes + DeviceBuffer<int>.LiveBytes, $"{what}: live device bytes");
        }

        var source = Assert.ThrowsExactly<InvalidOperationException>(() =>
            model.Predict(new ForwardOnlySource(data, d, 3000, failAtRow: 31000), new int[n], ComputeDevice.Cuda));
        StringAssert.Contains(source.Message, "batch source failed");
        StringAssert.Contains(source.Message, "disk error at row 31000");
        AssertNothingLive("source");

        var sink = Assert.ThrowsExactly<IOException>(() =>
            model.Predict(new InMemoryBatchSource(data, d), new RecordingSink(failAtBatch: 0), includeDistances: true, ComputeDevice.Cuda));
        StringAssert.Contains(sink.Message, "sink full");
        AssertNothingLive("sink");

        var bad = (float[])data.Clone();
        bad[33333 * d + 5] = float.PositiveInfinity;
        var nan = Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new InMemoryBatchSource(bad, d), new int[n], ComputeDevice.Cuda));
        StringAssert.Contains(nan.Message, "NaN or infinite");
        AssertNothingLive("infinite value");

        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsExactly<OperationCanceledException>(() => model.Predict(new InMemoryBatchSource(data, d), new int[n], ComputeDevice.Cuda, cancel.Token));
        AssertNothingLive("cancelled");
    }

    /// <summary>
    /// More fp16 rows than 2³¹ without storing them: row r repeats row r mod <see cref="Pattern"/> of a small table,
    /// served in place from a buffer long enough for any batch.
    /// </summary>
    private sealed unsafe class RepeatingHalfSource : IRowBlockSource, IDisposable
    {
        public const int Pattern = 4099;
        private readonly Half* _rows;
        private readonly int _d;
        private readonly int _capacity;

        public RepeatingHalfSource(float[] pattern, int d, long rowCount, int maxBatchRows)
        {
            _d = d;
            RowCount = rowCount;
            _capacity = Pattern + maxBatchRows;
            _rows = (Half*)NativeMemory.Alloc((nuint)((long)_capacity * d), (nuint)sizeof(Half));
            for (long i = 0; i < (long)_capacity * d; i++)
                _rows[i] = (Half)pattern[(i / d) % Pattern * d + i % d];
        }

        public int Dimension => _d;
        public long? RowCount { get; }
        public bool HasWeights => false;
        public RowElementType ElementType => RowElementType.Float16;
        public IBatchReader OpenReader() => throw new NotSupportedException("read in place only");
        public ReadOnlySpan<float> GetWeights(long firstRow, int rowCount) => default;

        public ReadOnlySpan<byte> GetRowBytes(long firstRow, int rowCount)
        {
            if (rowCount > _capacity - Pattern)
                throw new ArgumentOutOfRangeException(nameof(rowCount));
            long start = firstRow % Pattern;
            return new ReadOnlySpan<byte>(_rows + start * _d, rowCount * _d * sizeof(Half));
        }

        public void Dispose() => NativeMemory.Free(_rows);
    }

    [TestMethod]
    public void More_rows_than_two_to_the_31_stream_through_a_sink()
    {
        Gpu.Require();
        int d = 8, k = 16, batchRows = 1 << 22;
        long n = (1L << 31) + 12345;
        var pattern = TestData.Blobs(RepeatingHalfSource.Pattern, d, centers: k, spread: 3, seed: 21);
        var widened = pattern.Select(v => (float)(Half)v).ToArray();
        var centroids = TestData.PickRows(widened, d, k, seed: 6);
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float16, StreamingBatchRows = batchRows });
        var expected = InMemory(backend, centroids, widened, d).Labels;
        using var source = new RepeatingHalfSource(pattern, d, n, batchRows);
        long next = 0, wrong = 0;
        backend.PredictStreamed(source, n, centroids, withDistances: false, (first, labels, distances) =>
        {
            Assert.AreEqual(next, first);
            Assert.IsTrue(distances.IsEmpty);
            long p = first % RepeatingHalfSource.Pattern;
            for (int i = 0; i < labels.Length; i++)
            {
                wrong += labels[i] != expected[p] ? 1 : 0;
                if (++p == RepeatingHalfSource.Pattern)
                    p = 0;
            }
            next += labels.Length;
        }, default);
        Assert.AreEqual(n, next);
        Assert.AreEqual(0, wrong);
    }
}
