using System.Diagnostics;
using FlashKMeans;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Data;
using FlashKMeans.MLNet;
using Microsoft.ML;

/// <summary>
/// Where the trainer's time to the GPU goes, piece by piece, for the in-memory view: the bare cursor pass (read and
/// copy each row), the trainer's source reading one pass with and without filling its native row cache, the
/// validation pass the engine makes over it (the trainer's first pass), the same over the finished cache, and the
/// resident binding's upload from the cache. Every source is fresh, as each trainer fit's is. Each piece is the best
/// of three after a warm-up.
/// </summary>
internal static class TrainerSplit
{
    public static IReadOnlyList<(string Piece, double Seconds)> Run(IDataView view, int d, int k)
    {
        var features = view.Schema["Features"];
        const int batchRows = 32768;
        const long budget = 2048L << 20;
        CursorBatchSource Fresh(long cache) => new(view, features, null, batchRows, rejectMissing: false, cache, DataValidator.MaximumSquaredNorm);
        static void Drain(IBatchSource source)
        {
            using var reader = source.OpenReader();
            while (reader.TryRead(out _)) { }
        }

        var results = new List<(string, double)>
        {
            ("bare cursor pass (read, copy, finite check)", Best(() => Passes.CursorPass(view, d))),
            ("trainer's source, one pass, no cache", Best(() => { using var s = Fresh(0); Drain(s); })),
            ("trainer's source, first pass filling the cache", Best(() => { using var s = Fresh(budget); Drain(s); })),
            ("validation pass filling the cache (the trainer's first pass)", Best(() => { using var s = Fresh(budget); DataValidator.Scan(s, KMeansDistance.SquaredEuclidean); })),
        };
        using var cached = Fresh(budget);
        var summary = DataValidator.Scan(cached, KMeansDistance.SquaredEuclidean);
        results.Add(("validation pass over the finished cache", Best(() => DataValidator.Scan(cached, KMeansDistance.SquaredEuclidean))));
        using var backend = CudaBackend.Create(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cuda });
        results.Add(("resident binding from the cache: allocate, upload, pack, scales",
            Best(() => new CudaDataBinding(backend.Session, cached, summary, k, CancellationToken.None).Dispose())));
        return results;
    }

    private static double Best(Action piece)
    {
        piece();
        double best = double.MaxValue;
        for (int r = 0; r < 3; r++)
        {
            var clock = Stopwatch.StartNew();
            piece();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
