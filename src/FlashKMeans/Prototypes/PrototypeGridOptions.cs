using FlashKMeans.Clustering;

namespace FlashKMeans.Prototypes;

/// <summary>
/// The settings every prototype model shares: the distance, and the k-means that places its prototypes (CPU Lloyd,
/// one problem per class, tag or stratum, each with a seed derived from <see cref="Seed"/>).
/// </summary>
public abstract class PrototypeGridOptions
{
    /// <summary>The distance between rows and prototypes (squared Euclidean, cosine or L1).</summary>
    public KMeansDistance Distance { get; set; } = KMeansDistance.SquaredEuclidean;

    /// <summary>
    /// How each class's (tag's, stratum's) grid is found: Lloyd's algorithm (the default, exact), or mini-batch k-means
    /// (<see cref="MiniBatch"/>), the suite's <c>fit_batch</c> without a gradient step: running means over batches,
    /// for classes too large to iterate over.
    /// </summary>
    public KMeansAlgorithm GridAlgorithm { get; set; } = KMeansAlgorithm.Lloyd;

    /// <summary>Settings of the mini-batch grids (<see cref="GridAlgorithm"/>).</summary>
    public MiniBatchOptions MiniBatch { get; set; } = new();

    /// <summary>
    /// Whether a NaN feature is an error (the default) or missing: with <see cref="MissingFeatures.Ignore"/> a row's
    /// distance is taken over the features it has, scaled by d / (features present), in the grid's k-means, in phase 2
    /// and in prediction; a row needs one feature at least. Squared Euclidean Lloyd grids, without learned feature weights.
    /// </summary>
    public MissingFeatures MissingFeatures { get; set; } = MissingFeatures.Reject;

    /// <summary>
    /// Weigh features by their relevance in the distance, Σ wⱼ(xⱼ − pⱼ)², with wⱼ = 1 − (within-cluster variance of
    /// feature j / its total variance), clipped to [0, 1], the clusters being each row's nearest prototype after the grid
    /// is built (the suite's <c>auto_feature_weights</c>). Phase 2 keeps them fixed, or learns from them with
    /// <see cref="FineTuningOptions.LearnFeatureWeights"/>. The model exposes them as its <c>FeatureWeights</c>. Squared
    /// Euclidean distance, all features present.
    /// </summary>
    public bool AutomaticFeatureWeights { get; set; }

    /// <summary>
    /// The precision the model keeps its prototypes in: <see cref="ComputePrecision.Float32"/> (the default),
    /// <see cref="ComputePrecision.Float16"/> or <see cref="ComputePrecision.BFloat16"/>, as the FastKMeans Suite's
    /// <c>dtype</c> keeps them. Training runs in float32 and float64 throughout (a 16-bit gradient step would mostly be
    /// lost to rounding); the finished prototypes are rounded to this precision (to nearest, ties to even), and the model
    /// predicts, saves and exports those values. Cosine prototypes are rounded after they are scaled to unit length, so
    /// their length is 1 within the precision. The regressor's prototype targets stay in float64. Mini-batch grids can
    /// also keep their running centroids at 16 bits while they train (<see cref="MiniBatchOptions.CentroidPrecision"/>).
    /// </summary>
    public ComputePrecision PrototypePrecision { get; set; } = ComputePrecision.Float32;

    /// <summary>
    /// Where the grids' k-means and the predictions run: <see cref="ComputeDevice.Cpu"/> (the default),
    /// <see cref="ComputeDevice.Cuda"/>, or <see cref="ComputeDevice.Auto"/> (a GPU where one is usable). On a GPU the
    /// classifier and the regressor find each row's top-k nearest prototypes with FlashAssign's tensor-core sweep and a
    /// top-k epilogue, in the precision <see cref="GpuPrecision"/> names, and measure those k again in float32 from the
    /// differences; every distance is taken instead where that kernel does not apply (fewer than 16 features, a top-k above
    /// 32 or all prototypes, L1). The multi-label model's tag scores, phase 2 and grids with missing features run on the CPU.
    /// </summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Cpu;

    /// <summary>
    /// The tensor-core precision of GPU predictions: the prototypes' own 16-bit format where they are kept in one
    /// (<see cref="PrototypePrecision"/>), TensorFloat32 for float32 prototypes.
    /// </summary>
    internal ComputePrecision GpuPrecision => PrototypePrecision is ComputePrecision.Float16 or ComputePrecision.BFloat16
        ? PrototypePrecision : ComputePrecision.TensorFloat32;

    /// <summary>Lloyd iterations of each k-means.</summary>
    public int MaximumNumberOfIterations { get; set; } = 100;

    /// <summary>Seed of every random choice.</summary>
    public int Seed { get; set; }

    /// <summary>CPU threads; <c>null</c> uses every logical processor.</summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>Phase 2: gradient fine-tuning of the prototypes after k-means has placed them; off by default.</summary>
    public FineTuningOptions FineTuning { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad shared setting.</summary>
    private protected void ValidateGrid()
    {
        if (!Enum.IsDefined(Distance))
            throw new ArgumentOutOfRangeException(nameof(Distance), Distance, "Unknown distance.");
        if (MaximumNumberOfIterations < 1)
            throw new ArgumentOutOfRangeException(nameof(MaximumNumberOfIterations), MaximumNumberOfIterations, "Must be at least 1.");
        if (NumberOfThreads is < 1)
            throw new ArgumentOutOfRangeException(nameof(NumberOfThreads), NumberOfThreads, "Must be at least 1.");
        if (!Enum.IsDefined(GridAlgorithm))
            throw new ArgumentOutOfRangeException(nameof(GridAlgorithm), GridAlgorithm, "Unknown algorithm.");
        if (MiniBatch is null)
            throw new ArgumentNullException(nameof(MiniBatch));
        MiniBatch.Validate();
        if (FineTuning is null)
            throw new ArgumentNullException(nameof(FineTuning));
        FineTuning.Validate(Distance);
        if (PrototypePrecision is not (ComputePrecision.Float32 or ComputePrecision.Float16 or ComputePrecision.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(PrototypePrecision), PrototypePrecision, "Prototypes are kept in Float32, Float16 or BFloat16.");
        if (!Enum.IsDefined(MissingFeatures))
            throw new ArgumentOutOfRangeException(nameof(MissingFeatures), MissingFeatures, "Unknown setting.");
        if (AutomaticFeatureWeights && Distance != KMeansDistance.SquaredEuclidean)
            throw new ArgumentOutOfRangeException(nameof(AutomaticFeatureWeights), AutomaticFeatureWeights,
                $"Feature weights need squared Euclidean distance, not {Distance}.");
        if (MissingFeatures == MissingFeatures.Ignore && (Distance != KMeansDistance.SquaredEuclidean || GridAlgorithm != KMeansAlgorithm.Lloyd
            || FineTuning.LearnFeatureWeights || AutomaticFeatureWeights))
            throw new ArgumentOutOfRangeException(nameof(MissingFeatures), MissingFeatures,
                "Missing features are supported with squared Euclidean distance, Lloyd grids and no feature weights.");
    }

    /// <summary>A copy of these options that shares nothing mutable with them.</summary>
    private protected T Copy<T>()
        where T : PrototypeGridOptions
    {
        var copy = (T)MemberwiseClone();
        copy.FineTuning = FineTuning.Clone();
        copy.MiniBatch = MiniBatch.Clone();
        return copy;
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming a bad routing setting.</summary>
    private protected static void ValidateRouting(int topK, PrototypeRouting routing, double temperature)
    {
        if (topK is 0 or < -1)
            throw new ArgumentOutOfRangeException("TopK", topK, "Must be at least 1, or −1 for all prototypes.");
        if (!Enum.IsDefined(routing))
            throw new ArgumentOutOfRangeException("Routing", routing, "Unknown routing.");
        if (!(temperature > 0) || double.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException("Temperature", temperature, "Must be positive and finite.");
    }

    /// <summary>
    /// Throws naming the first problem of <paramref name="rows"/> (n × <paramref name="dimension"/>, finite) or
    /// <paramref name="weights"/> (n, finite and non-negative, or none); returns n.
    /// </summary>
    internal int ValidateRows(ReadOnlySpan<float> rows, int dimension, ReadOnlySpan<float> weights)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (rows.IsEmpty || rows.Length % dimension != 0)
            throw new ArgumentException($"Expected n × {dimension} values with n ≥ 1, got {rows.Length}.", nameof(rows));
        int n = rows.Length / dimension;
        if (!weights.IsEmpty && weights.Length != n)
            throw new ArgumentException($"There are {n} rows but {weights.Length} weights.", nameof(weights));
        if (MissingFeatures == MissingFeatures.Ignore)
            Data.DataValidator.ThrowIfBadRowsWithMissing(rows, dimension, 0, nameof(rows));
        else
            Data.DataValidator.ThrowIfBadRows(rows, dimension, 0, Distance == KMeansDistance.SquaredEuclidean, nameof(rows));
        if (Data.DataValidator.FirstBadWeight(weights) is var bad and >= 0)
            throw new ArgumentException($"Row {bad} has weight {weights[bad]}; weights must be finite and non-negative.", nameof(weights));
        return n;
    }

    /// <summary>
    /// Throws unless a model with <paramref name="distance"/> (and learned feature weights, when
    /// <paramref name="hasFeatureWeights"/>) can continue phase 2 under these options.
    /// </summary>
    internal void ThrowIfCannotContinue(KMeansDistance distance, bool hasFeatureWeights)
    {
        if (FineTuning.Epochs == 0)
            throw new ArgumentOutOfRangeException(nameof(FineTuning), "FineTuning.Epochs is 0: there is no training to continue.");
        if (distance != Distance)
            throw new ArgumentOutOfRangeException(nameof(Distance), Distance, $"The model was trained with {distance} distance, these options have {Distance}.");
        if (hasFeatureWeights != (FineTuning.LearnFeatureWeights || AutomaticFeatureWeights))
            throw new ArgumentOutOfRangeException(nameof(FineTuning), hasFeatureWeights
                ? "The model weighs its features: continue it with FineTuning.LearnFeatureWeights or AutomaticFeatureWeights on."
                : "The model has no feature weights: continue it with FineTuning.LearnFeatureWeights and AutomaticFeatureWeights off.");
    }

    /// <summary>
    /// Runs phase 2 on <paramref name="prototypes"/> (P × d, data coordinates) and <paramref name="targets"/> (the
    /// regressor's, in training units, updated in place) under <paramref name="objective"/>, which reads rows in
    /// <paramref name="space"/>; with <paramref name="learnTemperature"/>, a temperature learned with them starts from τ,
    /// the mean distance from a row to its nearest prototype after phase 1; <paramref name="featureWeights"/> are the
    /// model's weights so far (automatic, or a continued model's): learned from, or kept fixed. Returns the prototypes in
    /// data coordinates and the feature weights, if any.
    /// </summary>
    internal (float[] Prototypes, float[]? FeatureWeights, FineTuningResult Result) FineTune(TrainingSpace space,
        IPrototypeObjective objective, float[] prototypes, double[] targets, int dimension, CancellationToken cancellationToken,
        bool learnTemperature = false, float[]? featureWeights = null)
    {
        // λ = d·softmax(θ): θ = log λ gives back the weights scaled to mean 1 (a zero weight starts from a very small one).
        double[] logits = !FineTuning.LearnFeatureWeights ? []
            : featureWeights is null ? new double[dimension]
            : featureWeights.Select(w => Math.Log(Math.Max(w, 1e-12))).ToArray();
        double[]? fixedWeights = !FineTuning.LearnFeatureWeights ? featureWeights?.Select(w => (double)w).ToArray() : null;
        var parameters = new PrototypeParameters(space.ToTraining(prototypes), targets, logits, null, fixedWeights);
        double tau = objective.NearestDistance(parameters);
        tau = tau > 0 && double.IsFinite(tau) ? tau : 1;
        if (learnTemperature)
            parameters = new PrototypeParameters(parameters.Prototypes, parameters.Targets, parameters.FeatureLogits, [Math.Log(tau)], fixedWeights);
        var tuner = new PrototypeFineTuner(objective, FineTuning, Distance, dimension, Seed, NumberOfThreads ?? Environment.ProcessorCount, tau);
        var result = tuner.Run(parameters, cancellationToken);
        var weights = parameters.FeatureWeights();
        return (space.ToData(parameters.Prototypes), weights.Length == 0 ? null : weights.Select(w => (float)w).ToArray(), result);
    }

    /// <summary>
    /// With <see cref="AutomaticFeatureWeights"/>, each feature's relevance under <paramref name="prototypes"/> (P × d):
    /// 1 − within / total variance, the clusters being each row's nearest prototype; null otherwise.
    /// </summary>
    internal float[]? Relevance(ReadOnlySpan<float> rows, int dimension, ReadOnlySpan<float> weights, float[] prototypes)
    {
        if (!AutomaticFeatureWeights || prototypes.Length == 0)
            return null;
        var nearest = new PrototypeGrid(prototypes, dimension, Distance, null, MissingFeatures).Nearest(rows);
        var relevance = new Engine.FeatureRelevance(dimension);
        relevance.Add(rows, weights, nearest, prototypes, 1.0);
        return relevance.Weights.ToArray();
    }

    /// <summary>k-means with <paramref name="k"/> clusters of <paramref name="rows"/> (n × d) for problem <paramref name="problem"/> of the model.</summary>
    internal KMeansModel FitGrid(ReadOnlySpan<float> rows, int d, int k, ReadOnlySpan<float> weights, int problem, KMeansDistance? distance = null) =>
        new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Distance = distance ?? Distance, Seed = KMeans.ProblemSeed(Seed, problem),
            Device = MissingFeatures == MissingFeatures.Ignore ? ComputeDevice.Cpu : Device,
            MaximumNumberOfIterations = MaximumNumberOfIterations, NumberOfThreads = NumberOfThreads,
            Algorithm = GridAlgorithm, MiniBatch = MiniBatch.Clone(), MissingFeatures = MissingFeatures,
        }).Fit(rows, d, weights);
}
