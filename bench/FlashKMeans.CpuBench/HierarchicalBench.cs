using System.Diagnostics;
using System.Globalization;
using FlashKMeans;
using FlashKMeans.Clustering;
using FlashKMeans.Data;

/// <summary>
/// Balanced hierarchical k-means against plain Lloyd (20 iterations from k-means‖, tolerance off), on blobs of
/// Zipf-distributed sizes (index-training data is lopsided): whole-fit time from host rows, the inertia of each model
/// (its labels' distances from one prediction) and the imbalance (largest cluster / mean). Shared by the CPU benchmark
/// (<c>flashkmeans-cpubench hierarchical</c>) and the GPU one (<c>--hierarchical</c>, fp16).
/// </summary>
internal static class HierarchicalBench
{
    public static void Run(int n, int k, int d, int centers, ComputeDevice device, ComputePrecision precision, int? threads)
    {
        var data = Blobs(n, d, centers, seed: 11);
        Console.WriteLine($"# hierarchical vs plain Lloyd: N={n:N0} K={k:N0} d={d}, {centers} Zipf-sized blobs, {device} ({precision}); {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine("| fit | seconds | inertia | imbalance (largest / mean) | note |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var hierarchical in new[] { true, false })
        {
            var options = new KMeansOptions
            {
                NumberOfClusters = k, Device = device, Precision = precision, Seed = 1, NumberOfThreads = threads,
                MaximumNumberOfIterations = 20, OptimizationTolerance = 0,
                Hierarchical = hierarchical ? new HierarchicalOptions() : null,
                Logger = new ConsoleLines(),
            };
            var clock = Stopwatch.StartNew();
            var model = new KMeans(options).Fit(data, d);
            double seconds = clock.Elapsed.TotalSeconds;
            var labels = new int[n];
            var distances = new float[n];
            model.Predict(new InMemoryBatchSource(data, d), labels, distances, device);
            var sizes = new long[k];
            foreach (int label in labels)
                sizes[label]++;
            double inertia = distances.Sum(v => (double)v);
            string note = model.Balance is { } b ? $"{b.MesoClusters} mesoclusters; imbalance {b.ImbalanceBeforeBalancing:F2} before {b.BalancingRounds} balancing rounds, {b.CentroidsMoved} centroids moved" : "k-means‖ seeding";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(hierarchical ? "hierarchical" : "plain Lloyd, 20 iterations")} | {seconds:F1} | {inertia:G6} | {sizes.Max() / ((double)n / k):F2} | {note} |"));
        }
    }

    private static float[] Blobs(int n, int d, int centers, int seed)
    {
        // Blob i has weight ∝ 1 / (i + 1): a few large, many small.
        var random = new Random(seed);
        var means = new float[centers * d];
        for (int i = 0; i < means.Length; i++)
            means[i] = (float)(3 * Normal(random));
        var cumulative = new double[centers];
        double total = 0;
        for (int i = 0; i < centers; i++)
            cumulative[i] = total += 1.0 / (i + 1);
        var data = new float[(long)n * d];
        Parallel.For(0, (n + 65535) / 65536, chunk =>
        {
            var r = new Random(seed * 1000 + chunk);
            for (int row = chunk * 65536, end = Math.Min(n, row + 65536); row < end; row++)
            {
                int c = Array.BinarySearch(cumulative, r.NextDouble() * total);
                c = c < 0 ? Math.Min(~c, centers - 1) : c;
                for (int f = 0; f < d; f++)
                    data[(long)row * d + f] = means[c * d + f] + (float)Normal(r);
            }
        });
        return data;
    }

    /// <summary>The engine's log lines on the console, each with its time: where a fit's seconds go.</summary>
    private sealed class ConsoleLines : Microsoft.Extensions.Logging.ILogger
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter) => Console.WriteLine($"[{_clock.Elapsed.TotalSeconds,7:F2} s] {formatter(state, exception)}");
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
