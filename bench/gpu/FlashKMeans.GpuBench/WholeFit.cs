using System.Diagnostics;
using System.Globalization;
using FlashKMeans;
using FlashKMeans.Backends;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Engine;

/// <summary>
/// Whole fits from data already on the device to the final centroids on the host, as the peers' own calls are timed:
/// packing and norms, seeding, every Lloyd step through the engine's one loop (its empty-cluster policy included), and
/// reading the centroids back. Seeding is random rows (what flash-kmeans and fastkmeans do) and, where asked,
/// k-means‖ (the engine's default), timed on its own so its scaling with K shows.
/// </summary>
internal static class WholeFit
{
    public static void Run(IEnumerable<(int N, int K, int D, ComputePrecision P)> shapes, int steps, bool withKMeansParallel, int seedingLimitK)
    {
        using var context = CudaContext.Open(0);
        Console.WriteLine($"# whole fits on {context.Name}, sm_{context.ComputeCapability}; {steps} Lloyd steps; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine("| N | K | d | precision | seeding | bind ms | seed ms | Lloyd ms | read ms | whole fit ms | ms/step |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (n, k, d, p) in shapes)
        {
            using var session = new CudaSession(context, new CudaPrecision(p), ownsContext: false);
            using var rows = new DeviceBuffer<float>(context, (long)n * d);
            session.FillNormal(rows.Pointer, (long)n * d, 42);
            session.Stream.Synchronize();
            var inits = new List<KMeansInitialization> { KMeansInitialization.RandomRows };
            if (withKMeansParallel && k <= seedingLimitK)
                inits.Add(KMeansInitialization.KMeansParallel);
            // An untimed short fit loads the kernels this shape uses and warms the allocator.
            Once(session, rows, n, k, d, KMeansInitialization.RandomRows, 2);
            foreach (var init in inits)
            {
                var t = Once(session, rows, n, k, d, init, steps);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {n:N0} | {k:N0} | {d} | {p} | {init} | {t.Bind:F1} | {t.Seed:F1} | {t.Lloyd:F1} | {t.Read:F1} | {t.Bind + t.Seed + t.Lloyd + t.Read:F1} | {t.Lloyd / steps:F2} |"));
            }
        }
    }

    private static (double Bind, double Seed, double Lloyd, double Read) Once(CudaSession session, DeviceBuffer<float> rows, int n, int k, int d,
        KMeansInitialization init, int steps)
    {
        var options = new KMeansOptions
        {
            NumberOfClusters = k, MaximumNumberOfIterations = steps, OptimizationTolerance = 0, Initialization = init, Seed = 3,
        };
        var clock = Stopwatch.StartNew();
        var binding = new CudaDataBinding(session, rows, n, d, k);
        using var stepper = new SequentialBatchStepper([binding]);
        double bind = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var initial = CentroidInitializer.Run(binding, options, 3, CancellationToken.None);
        double seed = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var run = LloydDriver.Run(stepper, [initial], options, 0, Stopwatch.StartNew(), null, CancellationToken.None)[0];
        double lloyd = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var centroids = new float[k * d];
        binding.GetCentroids(centroids);
        double read = clock.Elapsed.TotalMilliseconds;
        if (run.Iterations != steps || !float.IsFinite(centroids[0]))
            throw new InvalidOperationException($"The fit ran {run.Iterations} of {steps} steps.");
        return (bind, seed, lloyd, read);
    }
}
