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
        if (!Enum.IsDefined(MissingFeatures))
            throw new ArgumentOutOfRangeException(nameof(MissingFeatures), MissingFeatures, "Unknown setting.");
        if (MissingFeatures == MissingFeatures.Ignore && (Distance != KMeansDistance.SquaredEuclidean || GridAlgorithm != KMeansAlgorithm.Lloyd
            || FineTuning.LearnFeatureWeights))
            throw new ArgumentOutOfRangeException(nameof(MissingFeatures), MissingFeatures,
                "Missing features are supported with squared Euclidean distance, Lloyd grids and no learned feature weights.");
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
        if (hasFeatureWeights != FineTuning.LearnFeatureWeights)
            throw new ArgumentOutOfRangeException(nameof(FineTuning), hasFeatureWeights
                ? "The model learned feature weights: continue it with FineTuning.LearnFeatureWeights on."
                : "The model has no learned feature weights: continue it with FineTuning.LearnFeatureWeights off.");
    }

    /// <summary>
    /// Runs phase 2 on <paramref name="prototypes"/> (P × d, data coordinates) and <paramref name="targets"/> (the
    /// regressor's, in training units, updated in place) under <paramref name="objective"/>, which reads rows in
    /// <paramref name="space"/>; with <paramref name="learnTemperature"/>, a temperature learned with them starts from τ,
    /// the mean distance from a row to its nearest prototype after phase 1; <paramref name="startingFeatureWeights"/>
    /// continue a model's learned weights. Returns the prototypes in data coordinates and the learned feature weights, if any.
    /// </summary>
    internal (float[] Prototypes, float[]? FeatureWeights, FineTuningResult Result) FineTune(Training.TrainingSpace space,
        Training.IPrototypeObjective objective, float[] prototypes, double[] targets, int dimension, CancellationToken cancellationToken,
        bool learnTemperature = false, float[]? startingFeatureWeights = null)
    {
        // λ = d·softmax(θ): θ = log λ gives back weights of mean 1 (zero weights start from a very small one).
        double[] logits = !FineTuning.LearnFeatureWeights ? []
            : startingFeatureWeights is null ? new double[dimension]
            : startingFeatureWeights.Select(w => Math.Log(Math.Max(w, 1e-12))).ToArray();
        var parameters = new Training.PrototypeParameters(space.ToTraining(prototypes), targets, logits);
        double tau = objective.NearestDistance(parameters);
        tau = tau > 0 && double.IsFinite(tau) ? tau : 1;
        if (learnTemperature)
            parameters = new Training.PrototypeParameters(parameters.Prototypes, parameters.Targets, parameters.FeatureLogits, [Math.Log(tau)]);
        var tuner = new Training.PrototypeFineTuner(objective, FineTuning, Distance, dimension, Seed, NumberOfThreads ?? Environment.ProcessorCount, tau);
        var result = tuner.Run(parameters, cancellationToken);
        var weights = parameters.FeatureWeights();
        return (space.ToData(parameters.Prototypes), weights.Length == 0 ? null : weights.Select(w => (float)w).ToArray(), result);
    }

    /// <summary>k-means with <paramref name="k"/> clusters of <paramref name="rows"/> (n × d) for problem <paramref name="problem"/> of the model.</summary>
    internal KMeansModel FitGrid(ReadOnlySpan<float> rows, int d, int k, ReadOnlySpan<float> weights, int problem, KMeansDistance? distance = null) =>
        new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Distance = distance ?? Distance, Seed = KMeans.ProblemSeed(Seed, problem), Device = ComputeDevice.Cpu,
            MaximumNumberOfIterations = MaximumNumberOfIterations, NumberOfThreads = NumberOfThreads,
            Algorithm = GridAlgorithm, MiniBatch = MiniBatch.Clone(), MissingFeatures = MissingFeatures,
        }).Fit(rows, d, weights);
}
