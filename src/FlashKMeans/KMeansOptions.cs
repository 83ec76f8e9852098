using FlashKMeans.Clustering;
using Microsoft.Extensions.Logging;

namespace FlashKMeans;

/// <summary>
/// Settings of a k-means fit. Results never flow back into this object: a fit returns a
/// <see cref="KMeansModel"/>. Names follow ML.NET's <c>KMeansTrainer.Options</c> where they mean the same.
/// </summary>
public sealed class KMeansOptions
{
    /// <summary>Default values of <see cref="KMeansOptions"/>.</summary>
    public static class Defaults
    {
        /// <summary>Default <see cref="NumberOfClusters"/>, as in ML.NET.</summary>
        public const int NumberOfClusters = 5;
        /// <summary>Default <see cref="MaximumNumberOfIterations"/>, as in scikit-learn.</summary>
        public const int MaximumNumberOfIterations = 300;
        /// <summary>Default <see cref="OptimizationTolerance"/>.</summary>
        public const double OptimizationTolerance = 1e-4;
        /// <summary>Default <see cref="Initialization"/>.</summary>
        public const KMeansInitialization Initialization = KMeansInitialization.KMeansParallel;
        /// <summary>Default <see cref="NumberOfInitializations"/>.</summary>
        public const int NumberOfInitializations = 1;
        /// <summary>Default <see cref="Seed"/>.</summary>
        public const int Seed = 0;
        /// <summary>Default <see cref="KMeansParallelRounds"/>, as in Bahmani et al.</summary>
        public const int KMeansParallelRounds = 5;
        /// <summary>Default <see cref="DataMode"/>.</summary>
        public const GpuDataMode DataMode = GpuDataMode.Auto;
        /// <summary>Default <see cref="StreamingRingDepth"/>: one buffer filling, one copying, one spare.</summary>
        public const int StreamingRingDepth = 3;
        /// <summary>Default <see cref="LabelPlacement"/>.</summary>
        public const LabelPlacement LabelPlacement = FlashKMeans.LabelPlacement.Auto;
    }

    /// <summary>Lloyd's algorithm (the default, exact) or mini-batch k-means (<see cref="MiniBatch"/>).</summary>
    public KMeansAlgorithm Algorithm { get; set; } = KMeansAlgorithm.Lloyd;

    /// <summary>
    /// Settings of <see cref="KMeansAlgorithm.MiniBatch"/> fits and of <see cref="MiniBatchKMeans"/>; Lloyd fits ignore them.
    /// <see cref="MaximumNumberOfIterations"/> and <see cref="OptimizationTolerance"/> are Lloyd's.
    /// </summary>
    public MiniBatchOptions MiniBatch { get; set; } = new();

    /// <summary>
    /// Whether NaN features are errors (<see cref="FlashKMeans.MissingFeatures.Reject"/>, the default) or missing values
    /// (<see cref="FlashKMeans.MissingFeatures.Ignore"/>: squared-Euclidean Lloyd fits on the CPU and <see cref="MiniBatchKMeans"/>;
    /// other fits refuse it rather than reject every row).
    /// </summary>
    public MissingFeatures MissingFeatures { get; set; } = MissingFeatures.Reject;

    /// <summary>
    /// Learn a weight wⱼ in [0, 1] per feature and cluster with Σ wⱼ(xⱼ − cⱼ)²: wⱼ = 1 − (within-cluster variance of
    /// feature j / its total variance), clipped, so features that separate the clusters count and noise features fade.
    /// The model exposes them as <see cref="KMeansModel.FeatureWeights"/> (feature importances) and scores with them.
    /// Squared Euclidean distance only; see <see cref="MiniBatchKMeans"/> and <see cref="KMeans"/> for how each learns them.
    /// </summary>
    public bool AutomaticFeatureWeights { get; set; }

    /// <summary>
    /// Balanced hierarchical k-means instead of plain Lloyd from <see cref="Initialization"/> (<c>null</c>, the default:
    /// off). For very large K; see <see cref="HierarchicalOptions"/>. The model reports its balance
    /// (<see cref="KMeansModel.Balance"/>). Squared Euclidean Lloyd fits only.
    /// </summary>
    public HierarchicalOptions? Hierarchical { get; set; }

    /// <summary>K, the number of clusters. At least 1 and at most the number of rows.</summary>
    public int NumberOfClusters { get; set; } = Defaults.NumberOfClusters;

    /// <summary>The most Lloyd iterations (assign + update) one initialisation runs.</summary>
    public int MaximumNumberOfIterations { get; set; } = Defaults.MaximumNumberOfIterations;

    /// <summary>
    /// Convergence threshold on the <em>relative</em> change of inertia between two consecutive
    /// iterations, |I(t−1) − I(t)| / I(t−1), as cuVS does. The fit stops, converged, when the change is at
    /// most this value, or when no label changes. A value ≤ 0 turns both tests off and runs exactly
    /// <see cref="MaximumNumberOfIterations"/> iterations.
    /// </summary>
    public double OptimizationTolerance { get; set; } = Defaults.OptimizationTolerance;

    /// <summary>How the first centroids are chosen.</summary>
    public KMeansInitialization Initialization { get; set; } = Defaults.Initialization;

    /// <summary>
    /// Row-major K × d initial centroids for <see cref="KMeansInitialization.Explicit"/>. Setting it
    /// with any other <see cref="Initialization"/> is an error.
    /// </summary>
    public ReadOnlyMemory<float> InitialCentroids { get; set; }

    /// <summary>
    /// Candidates tried per step of greedy k-means++; <c>null</c> means 2 + ⌊ln K⌋ (scikit-learn's choice).
    /// </summary>
    public int? KMeansPlusPlusTrials { get; set; }

    /// <summary>Expected candidates sampled per k-means|| round, as a multiple of K (ℓ / K). Default 2.</summary>
    public double OversamplingFactor { get; set; } = 2.0;

    /// <summary>Sampling rounds of k-means||.</summary>
    public int KMeansParallelRounds { get; set; } = Defaults.KMeansParallelRounds;

    /// <summary>
    /// Independent initialisations; the fit with the lowest inertia is kept. With
    /// <see cref="KMeansInitialization.Explicit"/> every start is the same, so one is run.
    /// </summary>
    public int NumberOfInitializations { get; set; } = Defaults.NumberOfInitializations;

    /// <summary>Seed of every random choice. The same seed gives bit-identical results on the CPU at any thread count.</summary>
    public int Seed { get; set; } = Defaults.Seed;

    /// <summary>The dissimilarity minimised.</summary>
    public KMeansDistance Distance { get; set; } = KMeansDistance.SquaredEuclidean;

    /// <summary>
    /// When set, training uses a deterministic sample of at most this many rows per centroid
    /// (faiss' <c>max_points_per_centroid</c>), drawn among the rows of positive weight for weighted data. The
    /// returned inertia is that of the sample. Off by default.
    /// </summary>
    public int? MaximumPointsPerCentroid { get; set; }

    /// <summary>
    /// Worker threads of the CPU backend, and of the host-side conversion of streamed batches on the GPU
    /// backend; <c>null</c> uses every logical processor.
    /// </summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>Where the work runs.</summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Auto;

    /// <summary>Arithmetic of the distance products on the GPU. The CPU always computes in float32.</summary>
    public ComputePrecision Precision { get; set; } = ComputePrecision.Float32;

    /// <summary>
    /// Skip distance computations that triangle-inequality bounds prove useless (CPU backend: Yinyang
    /// bounds over groups of 16 centroids with AVX-512, 8 without). Labels, centroids and inertia are
    /// bit-identical with and without it. It pays when clusters are well separated and K is large; where
    /// it cannot skip most of the work it falls back to the unpruned kernel for a while. Extra memory:
    /// a K × K/16 float table (up to K = 8192) and, only while it is at most 1/16 of a row's bytes, one
    /// byte per row and group.
    /// </summary>
    public bool UsePruning { get; set; }

    /// <summary>
    /// Make the GPU centroid update free of floating-point atomics so that the same input gives
    /// bit-identical centroids. The CPU backend is always deterministic. The update of a resident GPU fit sums in exact
    /// fixed point anyway (kept from step to step), so the option matters for streamed data.
    /// </summary>
    public bool DeterministicUpdate { get; set; }

    /// <summary>
    /// How the GPU holds the data: all of it in GPU memory, a cache of batches plus streaming of the rest
    /// from host memory, or streaming only. <see cref="GpuDataMode.Auto"/> decides from sizes.
    /// </summary>
    public GpuDataMode DataMode { get; set; } = Defaults.DataMode;

    /// <summary>
    /// Rows per streamed batch (one pinned ring buffer); <c>null</c> picks about 64 MiB of stored rows per
    /// batch. Only used when the GPU streams (<see cref="DataMode"/> cached or streaming).
    /// </summary>
    public int? StreamingBatchRows { get; set; }

    /// <summary>
    /// Pinned host buffers in the streaming ring, at least 3, so that filling one from the source, copying
    /// another to the GPU and computing on a third overlap.
    /// </summary>
    public int StreamingRingDepth { get; set; } = Defaults.StreamingRingDepth;

    /// <summary>
    /// Bytes of GPU memory that may hold cached batches in <see cref="GpuDataMode.Cached"/> mode;
    /// <c>null</c> uses most of the GPU memory left free once the fit's other buffers are allocated.
    /// </summary>
    public long? DeviceMemoryBudget { get; set; }

    /// <summary>
    /// Where a streamed or cached GPU fit keeps the labels, previous labels and distances of all N rows:
    /// in GPU memory, or in host memory with each batch's labels copied back as it is assigned.
    /// <see cref="FlashKMeans.LabelPlacement.Auto"/> keeps them on the device when they fit the memory
    /// budget and logs the choice. Results do not depend on it. Resident data (<see cref="GpuDataMode.InMemory"/>)
    /// keeps labels on the device; asking for <see cref="FlashKMeans.LabelPlacement.Host"/> makes
    /// <see cref="GpuDataMode.Auto"/> choose <see cref="GpuDataMode.Cached"/> instead.
    /// </summary>
    public LabelPlacement LabelPlacement { get; set; } = Defaults.LabelPlacement;

    /// <summary>Receives the backend choice and per-iteration diagnostics; <c>null</c> logs nothing.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>A copy (the logger and initial centroids shared), so that callers can vary one setting without touching the original.</summary>
    public KMeansOptions Clone()
    {
        var copy = (KMeansOptions)MemberwiseClone();
        copy.MiniBatch = MiniBatch?.Clone()!;
        copy.Hierarchical = Hierarchical?.Clone();
        return copy;
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (NumberOfClusters < 1)
            throw new ArgumentOutOfRangeException(nameof(NumberOfClusters), NumberOfClusters, "K must be at least 1.");
        if (MaximumNumberOfIterations < 0)
            throw new ArgumentOutOfRangeException(nameof(MaximumNumberOfIterations), MaximumNumberOfIterations, "Must be non-negative.");
        if (double.IsNaN(OptimizationTolerance))
            throw new ArgumentOutOfRangeException(nameof(OptimizationTolerance), "Must not be NaN.");
        if (NumberOfInitializations < 1)
            throw new ArgumentOutOfRangeException(nameof(NumberOfInitializations), NumberOfInitializations, "Must be at least 1.");
        if (KMeansPlusPlusTrials is < 1)
            throw new ArgumentOutOfRangeException(nameof(KMeansPlusPlusTrials), KMeansPlusPlusTrials, "Must be at least 1.");
        if (!(OversamplingFactor > 0) || double.IsInfinity(OversamplingFactor))
            throw new ArgumentOutOfRangeException(nameof(OversamplingFactor), OversamplingFactor, "Must be positive and finite.");
        if (KMeansParallelRounds < 1)
            throw new ArgumentOutOfRangeException(nameof(KMeansParallelRounds), KMeansParallelRounds, "Must be at least 1.");
        if (MaximumPointsPerCentroid is < 1)
            throw new ArgumentOutOfRangeException(nameof(MaximumPointsPerCentroid), MaximumPointsPerCentroid, "Must be at least 1.");
        if (NumberOfThreads is < 1)
            throw new ArgumentOutOfRangeException(nameof(NumberOfThreads), NumberOfThreads, "Must be at least 1.");
        if (!Enum.IsDefined(DataMode))
            throw new ArgumentOutOfRangeException(nameof(DataMode), DataMode, "Unknown data mode.");
        if (!Enum.IsDefined(LabelPlacement))
            throw new ArgumentOutOfRangeException(nameof(LabelPlacement), LabelPlacement, "Unknown label placement.");
        if (StreamingBatchRows is < 1)
            throw new ArgumentOutOfRangeException(nameof(StreamingBatchRows), StreamingBatchRows, "Must be at least 1.");
        if (StreamingRingDepth < 3)
            throw new ArgumentOutOfRangeException(nameof(StreamingRingDepth), StreamingRingDepth, "The ring needs at least 3 buffers.");
        if (DeviceMemoryBudget is < 0)
            throw new ArgumentOutOfRangeException(nameof(DeviceMemoryBudget), DeviceMemoryBudget, "Must be non-negative.");
        if (!Enum.IsDefined(Initialization))
            throw new ArgumentOutOfRangeException(nameof(Initialization), Initialization, "Unknown initialisation.");
        if (!Enum.IsDefined(Distance))
            throw new ArgumentOutOfRangeException(nameof(Distance), Distance, "Unknown distance.");
        if (!Enum.IsDefined(Device))
            throw new ArgumentOutOfRangeException(nameof(Device), Device, "Unknown device.");
        if (!Enum.IsDefined(MissingFeatures))
            throw new ArgumentOutOfRangeException(nameof(MissingFeatures), MissingFeatures, "Unknown missing-feature policy.");
        if (!Enum.IsDefined(Algorithm))
            throw new ArgumentOutOfRangeException(nameof(Algorithm), Algorithm, "Unknown algorithm.");
        if (MiniBatch is null)
            throw new ArgumentNullException(nameof(MiniBatch), $"{nameof(MiniBatch)} must be set (its defaults suit most data).");
        MiniBatch.Validate();
        Hierarchical?.Validate();
        if (!Enum.IsDefined(Precision))
            throw new ArgumentOutOfRangeException(nameof(Precision), Precision, "Unknown precision.");
        if (Initialization == KMeansInitialization.Explicit && InitialCentroids.IsEmpty)
            throw new ArgumentException($"{nameof(InitialCentroids)} must be set when {nameof(Initialization)} is {nameof(KMeansInitialization.Explicit)}.", nameof(InitialCentroids));
        if (Initialization != KMeansInitialization.Explicit && !InitialCentroids.IsEmpty)
            throw new ArgumentException($"{nameof(InitialCentroids)} is set but {nameof(Initialization)} is {Initialization}; use {nameof(KMeansInitialization.Explicit)}.", nameof(InitialCentroids));
    }

    internal int EffectiveThreads => NumberOfThreads ?? Environment.ProcessorCount;

    /// <summary>
    /// Whether the CPU seeding update skips work its triangle-inequality bounds prove useless (results are
    /// bit-identical either way). Always on; tests turn it off to compare against the unpruned update.
    /// </summary>
    internal bool SeedPruning { get; init; } = true;

    /// <summary>
    /// Whether the Lloyd loop lets a backend with a device queue enqueue each step before the host has read the last
    /// (the same results, bit for bit where the sums are exact; CudaBatch). Always on; tests turn it off to compare.
    /// </summary>
    internal bool StepAhead { get; init; } = true;
}
