using BenchmarkDotNet.Attributes;
using FlashKMeans.Clustering;

namespace FlashKMeans.Benchmarks;

/// <summary>
/// Whole fits on Gaussian blobs (the CPU protocol's shape, scaled down): Lloyd with and without
/// pruning from the same initial centroids, on every core.
/// </summary>
public class StepBenchmarks
{
    private float[] _data = [];
    private float[] _initial = [];

    [Params(50_000)]
    public int Rows { get; set; }

    [Params(1024)]
    public int Clusters { get; set; }

    [Params(128)]
    public int Dimension { get; set; }

    [Params(5)]
    public int Iterations { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(2026);
        int centres = Math.Max(1, Clusters / 4), d = Dimension;
        var means = new double[centres * d];
        for (int i = 0; i < means.Length; i++)
            means[i] = 4 * Normal(random);
        _data = new float[Rows * d];
        for (int r = 0; r < Rows; r++)
        {
            int c = random.Next(centres);
            for (int f = 0; f < d; f++)
                _data[r * d + f] = (float)(means[c * d + f] + Normal(random));
        }
        // Distinct rows, as the protocol draws them.
        var picks = Enumerable.Range(0, Rows).OrderBy(_ => random.Next()).Take(Clusters).ToArray();
        _initial = new float[Clusters * d];
        for (int c = 0; c < Clusters; c++)
            Array.Copy(_data, (long)picks[c] * d, _initial, c * d, d);
    }

    [Benchmark(Baseline = true)]
    public double Lloyd() => Fit(pruning: false);

    [Benchmark]
    public double LloydWithPruning() => Fit(pruning: true);

    private double Fit(bool pruning) =>
        new KMeans(new KMeansOptions
        {
            NumberOfClusters = Clusters,
            Initialization = KMeansInitialization.Explicit,
            InitialCentroids = _initial,
            MaximumNumberOfIterations = Iterations,
            OptimizationTolerance = 0,
            Device = ComputeDevice.Cpu,
            UsePruning = pruning,
        }).Fit(_data, Dimension).Inertia;

    private static double Normal(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
