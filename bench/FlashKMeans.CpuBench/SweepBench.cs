using System.Diagnostics;
using FlashKMeans;
using FlashKMeans.Clustering;
using FlashKMeans.Selection;

/// <summary>
/// Choosing K, timed: <see cref="ClusterCountSweep.Run"/> over K = 2 … max against what a user without the sweep does,
/// a fit and the same indices per K (labelled on the same device), in one process, the sides alternating over two rounds.
/// Shared by the CPU benchmark (<c>flashkmeans-cpubench sweep</c>) and the GPU one (<c>--sweep</c>).
/// </summary>
internal static class SweepBench
{
    public static int Run(int n, int d, int maxK, ComputeDevice device, int? threads)
    {
        // 16 blobs of unit spread whose centres are drawn from N(0, 5²): a K to find.
        var random = new Random(2026);
        var centres = Enumerable.Range(0, 16 * d).Select(_ => (float)(5 * Gaussian(random))).ToArray();
        var rows = new float[(long)n * d];
        for (int r = 0; r < n; r++)
        {
            int c = random.Next(16);
            for (int j = 0; j < d; j++)
                rows[(long)r * d + j] = centres[c * d + j] + (float)Gaussian(random);
        }
        var options = new KMeansOptions { Seed = 1, Device = device, NumberOfThreads = threads };
        var sample = Enumerable.Range(0, ClusterCountSweep.DefaultSilhouetteSample)
            .Select(i => (int)((long)i * n / ClusterCountSweep.DefaultSilhouetteSample)).ToArray();
        string where = device == ComputeDevice.Cpu ? $"threads={threads}" : $"device={device.ToString().ToLowerInvariant()}";
        for (int round = 0; round < 2; round++)
        {
            foreach (bool swept in round == 0 ? new[] { true, false } : new[] { false, true })
            {
                var clock = Stopwatch.StartNew();
                int proposed = 0;
                if (swept)
                {
                    proposed = ClusterCountSweep.Run(rows, d, 2, maxK, options).Proposed;
                }
                else
                {
                    for (int k = 2; k <= maxK; k++)
                    {
                        var one = options.Clone();
                        one.NumberOfClusters = k;
                        ClusterCountSweep.Score(rows, d, new KMeans(one).Fit(rows, d), sample, device);
                    }
                }
                Console.WriteLine(FormattableString.Invariant(
                    $"RESULT method={(swept ? "sweep" : "separate-fits")} round={round} n={n} d={d} k=2..{maxK} {where} seconds={clock.Elapsed.TotalSeconds:F2}{(swept ? $" proposed={proposed}" : "")}"));
            }
        }
        return 0;
    }

    private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
