using FlashKMeans.Backends;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// A batch's centroid tiles (<see cref="CentroidTiles"/>), which the finalize keeps current so that a step needs no pack:
/// after every step they are byte for byte what packing the new centroids gives, and centroids loaded between steps
/// are what the next step assigns against.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
[DoNotParallelize]
public sealed class CudaCentroidTilesTests : GpuTestClass
{
    [TestMethod]
    [DataRow(ComputePrecision.Float16, 128, 300, 2, false)]       // incremental updates
    [DataRow(ComputePrecision.BFloat16, 200, 4500, 1, false)]     // fused updates (asked for at K ≥ 4096)
    [DataRow(ComputePrecision.TensorFloat32, 96, 100, 3, true)]   // spherical: normalised centroids
    public void Steps_keep_the_tiles_of_the_packed_centroids_and_loads_replace_them(ComputePrecision precision, int d, int k, int b, bool normalize)
    {
        using var s = new CudaSession(CudaContext.Open(0), new CudaPrecision(precision), ownsContext: true);
        const int n = 8009;
        var random = new Random(d + k);
        var rows = TestData.Gaussian(b * n, d, seed: d * 3 + k);
        float[] Pick() => Enumerable.Range(0, b * k).SelectMany(c => rows.AsSpan((c / k * n + random.Next(n)) * d, d).ToArray()).ToArray();

        using var batch = Gpu.UploadBatch(s, rows, null, b, n, d, k);
        if (batch.Tiles is null)
            Assert.Inconclusive("The assignment reads no tiles on this GPU (no warp-specialised kernel).");
        var results = new LloydStepResult[b];
        batch.WriteCentroids(0, Pick());
        for (int step = 0; step < 3; step++)
        {
            batch.Step(normalize, results, default);
            AssertTilesArePacked(s, batch, $"step {step}");
        }

        // New centroids between steps: the next step must assign against them, not against the tiles the last step left
        // (which are other rows altogether, so a stale tile is far beyond the tolerance of tf32 or fp16 products).
        batch.WriteCentroids(0, Pick());
        var loaded = Gpu.Stored(s, batch.PackedCentroids, (long)b * k, batch.Pitch, d);
        batch.Step(normalize, results, default);
        var labels = new int[b * n];
        batch.Labels.CopyTo(labels, 0, s.Stream);
        var stored = Gpu.Stored(s, batch.X, (long)b * n, batch.Pitch, d);
        for (int r = 0; r < b * n; r += 5)
            Reference.AssertNearest(stored.AsSpan(r * d, d), loaded.AsSpan(r / n * k * d, k * d), d, labels[r], $"row {r}", tolerance: 1e-4);
        AssertTilesArePacked(s, batch, "after the load");
    }

    private static void AssertTilesArePacked(CudaSession s, CudaBatch batch, string context)
    {
        var tiles = batch.Tiles!.Value;
        long bytes = batch.TileBuffer!.Length;
        using var fresh = new DeviceBuffer<uint>(s.Context, bytes / 4);  // a tile is a whole number of words
        fresh.Fill32(0xDEADBEEFu, s.Stream);  // poisoned: the pack must write every byte, padding included
        s.PackCentroidTiles(batch.PackedCentroids.Pointer, batch.CentroidNorms.Pointer, batch.Clusters, batch.Pitch, batch.Batches,
            tiles with { Pointer = fresh.Pointer });
        var expected = new uint[bytes / 4];
        var got = new byte[bytes];
        fresh.CopyTo(expected, 0, s.Stream);
        batch.TileBuffer.CopyTo(got, 0, s.Stream);
        int mismatch = System.Runtime.InteropServices.MemoryMarshal.AsBytes(expected.AsSpan()).CommonPrefixLength(got);
        Assert.AreEqual(bytes, (long)mismatch, $"{context}: the tiles differ from a fresh pack from byte {mismatch} on");
    }
}
