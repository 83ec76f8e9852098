using FlashKMeans.Clustering;

namespace FlashKMeans;

/// <summary>
/// Settings of mini-batch k-means (<see cref="KMeansAlgorithm.MiniBatch"/> and <see cref="MiniBatchKMeans"/>). Names and
/// defaults follow scikit-learn's <c>MiniBatchKMeans</c> where they mean the same.
/// </summary>
public sealed class MiniBatchOptions
{
    /// <summary>Default values of <see cref="MiniBatchOptions"/>.</summary>
    public static class Defaults
    {
        /// <summary>Default <see cref="BatchSize"/>, as in scikit-learn.</summary>
        public const int BatchSize = 1024;
        /// <summary>Default <see cref="MaximumNumberOfEpochs"/>, scikit-learn's <c>max_iter</c>.</summary>
        public const int MaximumNumberOfEpochs = 100;
        /// <summary>Default <see cref="ForgettingFactor"/>: nothing is forgotten.</summary>
        public const double ForgettingFactor = 1.0;
        /// <summary>Default <see cref="ReassignmentRatio"/>, as in scikit-learn.</summary>
        public const double ReassignmentRatio = 0.01;
        /// <summary>Default <see cref="MaximumNoImprovement"/>, as in scikit-learn.</summary>
        public const int MaximumNoImprovement = 10;
    }

    /// <summary>Rows per step of a <see cref="KMeansAlgorithm.MiniBatch"/> fit. <see cref="MiniBatchKMeans.PartialFit(ReadOnlySpan{float}, ReadOnlySpan{float}, CancellationToken)"/> steps once per call, whatever its size.</summary>
    public int BatchSize { get; set; } = Defaults.BatchSize;

    /// <summary>The most passes over the data a <see cref="KMeansAlgorithm.MiniBatch"/> fit makes; it usually stops earlier (<see cref="MaximumNoImprovement"/>).</summary>
    public int MaximumNumberOfEpochs { get; set; } = Defaults.MaximumNumberOfEpochs;

    /// <summary>
    /// Factor in (0, 1] by which the weight each centroid has seen decays before every step. At 1 (the default) each
    /// centroid is the running mean of every row it won; below 1 old rows fade, so the centroids follow a stream whose
    /// distribution drifts: a centroid's effective memory is about 1 / (1 − factor) steps.
    /// </summary>
    public double ForgettingFactor { get; set; } = Defaults.ForgettingFactor;

    /// <summary>
    /// Centroids whose seen weight falls below this fraction of the largest are moved to rows of the current batch
    /// (scikit-learn's <c>reassignment_ratio</c>), so that rows unlike any seen when seeding can still win centroids.
    /// Checked once 10·K rows have arrived since the last check, and whenever a centroid has seen no weight. Rows are drawn
    /// by the seed with probability proportional to their squared distance to the centroids (scikit-learn draws them
    /// uniformly), so a dead centroid goes where the centroids serve the rows worst. 0 turns it off.
    /// </summary>
    public double ReassignmentRatio { get; set; } = Defaults.ReassignmentRatio;

    /// <summary>
    /// Rows the seeding runs on (scikit-learn's and cuVS' <c>init_size</c>): a <see cref="KMeansAlgorithm.MiniBatch"/> fit
    /// draws them at random from the data; <see cref="MiniBatchKMeans"/> buffers the first rows it is given. <c>null</c>
    /// uses 3 × <see cref="BatchSize"/>, and at least 3·K rows. Never fewer than K.
    /// </summary>
    public int? InitializationSize { get; set; }

    /// <summary>
    /// A <see cref="KMeansAlgorithm.MiniBatch"/> fit stops when this many steps in a row have not lowered the smoothed
    /// per-row inertia (scikit-learn's <c>max_no_improvement</c>); <c>null</c> never stops for this reason.
    /// </summary>
    public int? MaximumNoImprovement { get; set; } = Defaults.MaximumNoImprovement;

    /// <summary>
    /// A <see cref="KMeansAlgorithm.MiniBatch"/> fit stops when one step moves the centroids, in squared distance summed over
    /// all of them, by at most this value times the data's mean per-feature variance (scikit-learn's <c>tol</c>). 0 (the
    /// default) turns the test off.
    /// </summary>
    public double CentroidMoveTolerance { get; set; }

    /// <summary>
    /// The precision the running centroids are kept in: <see cref="ComputePrecision.Float32"/> (the default),
    /// <see cref="ComputePrecision.Float16"/> or <see cref="ComputePrecision.BFloat16"/>, as the FastKMeans Suite's
    /// <c>dtype</c> keeps them. Every centroid is rounded to it (to nearest, ties to even) when it is seeded, moved or
    /// reassigned, on the CPU and the GPU alike, and saved so; the update itself is computed in float64 from the rounded
    /// values. At 16 bits a centroid moves only when its step is at least about half a unit in its last place, so a long
    /// stream's centroids freeze earlier; use it to match a 16-bit model, not for accuracy. The values are still held in
    /// float32 arrays.
    /// </summary>
    public ComputePrecision CentroidPrecision { get; set; } = ComputePrecision.Float32;

    /// <summary>A copy.</summary>
    public MiniBatchOptions Clone() => (MiniBatchOptions)MemberwiseClone();

    /// <summary>The rows the seeding runs on for K clusters (see <see cref="InitializationSize"/>).</summary>
    internal int EffectiveInitializationSize(int numberOfClusters) =>
        InitializationSize is int size ? Math.Max(size, numberOfClusters)
            : (int)Math.Min(Array.MaxLength / 2, Math.Max(3L * BatchSize, 3L * numberOfClusters));

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "Must be at least 1.");
        if (MaximumNumberOfEpochs < 1)
            throw new ArgumentOutOfRangeException(nameof(MaximumNumberOfEpochs), MaximumNumberOfEpochs, "Must be at least 1.");
        if (!(ForgettingFactor > 0 && ForgettingFactor <= 1))
            throw new ArgumentOutOfRangeException(nameof(ForgettingFactor), ForgettingFactor, "Must be in (0, 1].");
        if (!(ReassignmentRatio >= 0 && ReassignmentRatio <= 1))
            throw new ArgumentOutOfRangeException(nameof(ReassignmentRatio), ReassignmentRatio, "Must be in [0, 1].");
        if (InitializationSize is < 1)
            throw new ArgumentOutOfRangeException(nameof(InitializationSize), InitializationSize, "Must be at least 1.");
        if (MaximumNoImprovement is < 1)
            throw new ArgumentOutOfRangeException(nameof(MaximumNoImprovement), MaximumNoImprovement, "Must be at least 1.");
        if (CentroidPrecision is not (ComputePrecision.Float32 or ComputePrecision.Float16 or ComputePrecision.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(CentroidPrecision), CentroidPrecision, "Centroids are kept in Float32, Float16 or BFloat16.");
        if (!(CentroidMoveTolerance >= 0) || double.IsInfinity(CentroidMoveTolerance))
            throw new ArgumentOutOfRangeException(nameof(CentroidMoveTolerance), CentroidMoveTolerance, "Must be non-negative and finite.");
    }
}
