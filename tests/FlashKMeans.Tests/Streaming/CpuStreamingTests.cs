using System.Runtime.InteropServices;
using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Streaming;

/// <summary>The CPU backend reads the same sources batch by batch: streamed fits equal in-memory fits exactly.</summary>
[TestClass]
public sealed class CpuStreamingTests
{
    private static KMeansOptions Options(float[] initial, int k) => new()
    {
        NumberOfClusters = k, Device = ComputeDevice.Cpu, Initialization = KMeansInitialization.Explicit,
        InitialCentroids = initial, MaximumNumberOfIterations = 10, OptimizationTolerance = 0, NumberOfThreads = 2,
    };

    [TestMethod]
    [DataRow(1, 1, 1)]
    [DataRow(999, 7, 100)]
    [DataRow(1000, 5000, 9)]
    public unsafe void Unmanaged_float32_and_float16_rows_stream_to_the_in_memory_fit(int n, int batchRows, int k)
    {
        int d = 13;
        k = Math.Min(k, n);
        var data = TestData.Blobs(n, d, centers: Math.Max(1, k), spread: 3, seed: n);
        var initial = TestData.PickRows(data, d, k, seed: 1);
        var expected = new KMeans(Options(initial, k)).Fit(data, d);
        fixed (float* p = data)
        {
            var fit = new KMeans(Options(initial, k)).Fit(new UnmanagedRowsBatchSource((nint)p, n, d, RowElementType.Float32, batchRows));
            CollectionAssert.AreEqual(expected.Centroids.ToArray(), fit.Centroids.ToArray());
            Assert.AreEqual(expected.Inertia, fit.Inertia);
        }
        var halves = data.Select(v => (Half)v).ToArray();
        var widened = halves.Select(h => (float)h).ToArray();
        var expectedHalf = new KMeans(Options(initial, k)).Fit(widened, d);
        fixed (Half* p = halves)
        {
            var fit = new KMeans(Options(initial, k)).Fit(new UnmanagedRowsBatchSource((nint)p, n, d, RowElementType.Float16, batchRows));
            CollectionAssert.AreEqual(expectedHalf.Centroids.ToArray(), fit.Centroids.ToArray());
            Assert.AreEqual(expectedHalf.Inertia, fit.Inertia);
        }
    }

    [TestMethod]
    public unsafe void Row_blocks_expose_the_stored_bytes()
    {
        var rows = new float[] { 1, 2, 3, 4, 5, 6 };
        var inMemory = new InMemoryBatchSource(rows, 2, new float[] { 7, 8, 9 });
        CollectionAssert.AreEqual(MemoryMarshal.AsBytes(rows.AsSpan(2, 4)).ToArray(), inMemory.GetRowBytes(1, 2).ToArray());
        CollectionAssert.AreEqual(new float[] { 8, 9 }, inMemory.GetWeights(1, 2).ToArray());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => inMemory.GetRowBytes(2, 2).ToArray());
        fixed (float* p = rows)
        {
            var native = new UnmanagedRowsBatchSource((nint)p, 3, 2);
            Assert.AreEqual(8, native.GetRowBytes(2, 1).Length);
            Assert.IsTrue(native.GetWeights(0, 3).IsEmpty);
        }
        Assert.ThrowsExactly<ArgumentNullException>(() => new UnmanagedRowsBatchSource(0, 3, 2));
    }
}
