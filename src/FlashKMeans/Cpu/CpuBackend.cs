using System.Runtime.Intrinsics;
using FlashKMeans.Backends;
using FlashKMeans.Data;

namespace FlashKMeans.Cpu;

/// <summary>The multi-threaded SIMD CPU backend. Deterministic for any thread count.</summary>
internal sealed class CpuBackend : IKMeansBackend
{
    /// <summary>Creates a CPU backend.</summary>
    /// <param name="threads">Worker threads; <c>null</c> for every logical processor.</param>
    /// <param name="usePruning">Whether to skip distance work proven useless by triangle-inequality bounds.</param>
    public CpuBackend(int? threads = null, bool usePruning = false)
    {
        if (threads is < 1)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "Must be at least 1.");
        Threads = threads ?? Environment.ProcessorCount;
        UsePruning = usePruning;
    }

    /// <summary>Worker threads.</summary>
    public int Threads { get; }

    /// <summary>Whether pruning is on.</summary>
    public bool UsePruning { get; }

    /// <summary>Whether seeding prunes its distance updates (bit-identical either way; tests turn it off).</summary>
    internal bool SeedPruning { get; init; } = true;

    /// <summary>The widest SIMD the kernels use here.</summary>
    public static string InstructionSet =>
        PackedCentroids.PreferredWidth switch { 16 => "AVX-512", 8 => "AVX2/256-bit", _ => Vector128.IsHardwareAccelerated ? "128-bit SIMD" : "scalar" };

    /// <inheritdoc />
    public string Name => $"cpu ({Threads} thread{(Threads == 1 ? "" : "s")}, {InstructionSet})";

    /// <summary>The distance of the bindings and scorers it creates: squared Euclidean (cosine fits bind unit rows), or L1.</summary>
    public KMeansDistance Distance { get; init; }

    /// <summary>Whether NaN features are missing values in the rows it binds and scores.</summary>
    public MissingFeatures MissingFeatures { get; init; }

    /// <inheritdoc />
    public IKMeansDataBinding Bind(IBatchSource source, DataSummary summary, int numberOfClusters, CancellationToken cancellationToken)
        => Distance == KMeansDistance.Manhattan ? new ManhattanDataBinding(source, summary, numberOfClusters, Threads, cancellationToken)
            : MissingFeatures == MissingFeatures.Ignore ? new MissingFeatureDataBinding(source, summary, numberOfClusters, Threads, cancellationToken)
            : new CpuDataBinding(source, summary, numberOfClusters, Threads, UsePruning, seedPruning: SeedPruning);

    /// <inheritdoc />
    public IKMeansScorer CreateScorer(ReadOnlyMemory<float> centroids, int dimension)
        => Distance == KMeansDistance.Manhattan ? new ManhattanScorer(centroids.Span, dimension, Threads)
            : MissingFeatures == MissingFeatures.Ignore ? new MissingFeatureScorer(centroids.Span, dimension, Threads)
            : new CpuScorer(centroids.Span, dimension, Threads);

    /// <inheritdoc />
    public void Dispose() { }
}
