using System.Diagnostics;
using FlashKMeans;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;
using FlashKMeans.Threading;

/// <summary>
/// Where the time between "the data is validated" and "seeding starts" goes on the GPU, piece by piece, for rows in
/// host arrays: the validation pass, the device allocations of a resident fit, page-locked staging, the host copy into
/// staging (one thread and every thread), the transfer from staging, the whole resident binding, and the first seeding
/// pass. Each piece is timed on its own, after one untimed warm-up of the whole, so the sum is an upper bound.
/// </summary>
internal static class UploadSplit
{
    public static IReadOnlyList<(string Piece, double Seconds)> Run(float[] rows, int n, int d, int k)
    {
        var results = new List<(string, double)>();
        var options = new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cuda };
        using var backend = CudaBackend.Create(options);
        var session = backend.Session;
        var context = session.Context;
        var source = new InMemoryBatchSource(rows, d);
        using (var warm = new CudaDataBinding(session, source, DataValidator.Scan(source), k, CancellationToken.None)) { }

        var clock = Stopwatch.StartNew();
        var summary = DataValidator.Scan(source, KMeansDistance.SquaredEuclidean);
        results.Add(("validation pass (every core)", clock.Elapsed.TotalSeconds));

        clock.Restart();
        using (new CudaBatch(session, 1, n, d, k, hasWeights: false)) { }
        results.Add(("device buffers of a resident fit, allocated and freed", clock.Elapsed.TotalSeconds));

        const int chunkRows = 1 << 16;
        clock.Restart();
        using var stagingA = new PinnedBuffer<float>(context, chunkRows * d);
        using var stagingB = new PinnedBuffer<float>(context, chunkRows * d);
        results.Add(("two page-locked staging buffers of 65,536 rows, allocated", clock.Elapsed.TotalSeconds));

        clock.Restart();
        for (long first = 0; first < n; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, n - first);
            rows.AsSpan((int)(first * d), count * d).CopyTo(stagingA.Span);
        }
        results.Add(("host copy into staging, one thread", clock.Elapsed.TotalSeconds));

        clock.Restart();
        for (long first = 0; first < n; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, n - first);
            HostCopy.InParallel(rows.AsSpan((int)(first * d), count * d), stagingA.Span);
        }
        results.Add(("host copy into staging, every core", clock.Elapsed.TotalSeconds));

        using var device = new DeviceBuffer<float>(context, (long)n * d);
        clock.Restart();
        for (long first = 0; first < n; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, n - first);
            device.CopyFrom(stagingA.Span[..(count * d)], first * d, session.Stream);
        }
        session.Stream.Synchronize();
        results.Add(("transfer from staging to the device", clock.Elapsed.TotalSeconds));

        clock.Restart();
        device.CopyFrom(rows, 0, session.Stream);
        session.Stream.Synchronize();
        results.Add(("transfer straight from pageable memory (one call)", clock.Elapsed.TotalSeconds));

        clock.Restart();
        using var binding = new CudaDataBinding(session, source, summary, k, CancellationToken.None);
        results.Add(("resident binding: allocate, upload, pack, scales", clock.Elapsed.TotalSeconds));

        clock.Restart();
        var first1 = new float[d];
        binding.GatherRows([0], first1, default, CancellationToken.None);
        binding.UpdateSeedDistances(first1, reset: true, CancellationToken.None);
        results.Add(("first seed and its distance pass", clock.Elapsed.TotalSeconds));
        return results;
    }
}
