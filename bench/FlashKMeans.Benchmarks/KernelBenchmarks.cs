using BenchmarkDotNet.Attributes;
using FlashKMeans.Cpu;

namespace FlashKMeans.Benchmarks;

/// <summary>
/// The fused assignment kernel and its relatives on one thread, at N × K × d shapes. GFLOP/s =
/// 2·N·K·d / time; compare with one core's FMA peak (bench/FlashKMeans.CpuBench peak --threads 1).
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private float[] _rows = [];
    private PackedCentroids _centroids = null!;
    private PackedCentroids _featureQuads = null!;
    private int[] _labels = [];
    private float[] _distances = [];
    private float[] _all = [];
    private int[] _rowIndices = [];
    private float[] _minima = [];
    private float[] _argmins = [];

    [Params(8192)]
    public int Rows { get; set; }

    [Params(16, 100, 1024)]
    public int Clusters { get; set; }

    [Params(17, 128)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _rows = new float[Rows * Dimension];
        for (int i = 0; i < _rows.Length; i++)
            _rows[i] = (float)(random.NextDouble() * 2 - 1);
        _centroids = PackedCentroids.Pack(_rows.AsSpan(0, Clusters * Dimension), Dimension);
        _featureQuads = PackedCentroids.Pack(_rows.AsSpan(0, Clusters * Dimension), Dimension, featureQuads: true);
        _labels = new int[Rows];
        _distances = new float[Rows];
        _all = new float[1024 * Clusters];
        _rowIndices = Enumerable.Range(0, Rows).ToArray();
        _minima = new float[Rows];
        _argmins = new float[Rows];
    }

    /// <summary>Nearest centroid of every row: the unpruned Lloyd assignment.</summary>
    [Benchmark(Baseline = true)]
    public void Assign() => FusedAssignKernel.Assign(_rows, _centroids, _labels, _distances);

    /// <summary>
    /// The same assignment over a packing that asks for the feature-quad layout, as the fit's steps and the model's scorer
    /// pack (the layout applies at K ≤ 16 with AVX-512; elsewhere this is <see cref="Assign"/> again).
    /// </summary>
    [Benchmark]
    public void AssignFeatureQuads() => FusedAssignKernel.Assign(_rows, _featureQuads, _labels, _distances);

    /// <summary>Every squared distance (the k-means++ candidate evaluation), for the same rows as Assign.</summary>
    [Benchmark]
    public void AllDistances()
    {
        // N/1024 blocks of 1024 rows, so that the N × K output stays small.
        for (int block = 0; block < Rows / 1024; block++)
            FusedAssignKernel.AllDistances(_rows.AsSpan(block * 1024 * Dimension, 1024 * Dimension), _centroids, _all);
    }

    /// <summary>Every panel for every row through the pruning job kernel: its cost against Assign.</summary>
    [Benchmark]
    public void PanelMinimumAllPanels()
    {
        for (int panel = 0; panel < (Clusters + _centroids.Width - 1) / _centroids.Width; panel++)
            FusedAssignKernel.PanelMinimum(_rows, _centroids, panel, _rowIndices, _minima, _argmins);
    }
}
