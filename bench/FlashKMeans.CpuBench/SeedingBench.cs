using System.Diagnostics;
using System.Globalization;
using FlashKMeans;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Engine;

/// <summary>
/// k-means‖ seeding's rounds with their pruning by its rule, never, and on every round it can serve
/// (<see cref="SeedDistancePruning"/>), on blobs of unit spread around centres drawn from N(0, spread²): seconds of
/// <see cref="KMeansParallelSeeding.Run"/> on a CPU binding, a warm-up first, then the three modes twice, alternating.
/// The seeds are the same in every mode. <c>flashkmeans-cpubench seeding</c>.
/// </summary>
internal static class SeedingBench
{
    public static void Run(int n, int d, int k, int blobs, double spread, int threads)
    {
        var random = new Random(2026);
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var centres = Enumerable.Range(0, blobs * d).Select(_ => (float)(spread * Gaussian())).ToArray();
        var rows = new float[(long)n * d];
        for (int r = 0; r < n; r++)
        {
            int c = random.Next(blobs);
            for (int j = 0; j < d; j++)
                rows[(long)r * d + j] = centres[c * d + j] + (float)Gaussian();
        }
        var source = new InMemoryBatchSource(rows, d);
        var summary = DataValidator.Scan(source);
        var options = new KMeansOptions { Seed = 1, NumberOfClusters = k, NumberOfThreads = threads };
        float[]? reference = null;
        foreach (string mode in new[] { "warm-up", "rule", "off", "every-round", "rule", "off", "every-round" })
        {
            using var binding = new CpuDataBinding(source, summary, k, threads, usePruning: false, seedPruning: mode != "off");
            if (mode == "every-round")
                binding.SeedPruning!.PruneEveryRound = true;
            var clock = Stopwatch.StartNew();
            var seeds = KMeansParallelSeeding.Run(binding, options, 1, CancellationToken.None);
            double seconds = clock.Elapsed.TotalSeconds;
            reference ??= seeds;
            if (!seeds.AsSpan().SequenceEqual(reference))
                throw new InvalidOperationException($"Mode {mode} chose other seeds.");
            if (mode != "warm-up")
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT method=seeding-{mode} rows={n} d={d} k={k} blobs={blobs} spread={spread} threads={threads} seconds={seconds:F3}"));
        }
    }
}
