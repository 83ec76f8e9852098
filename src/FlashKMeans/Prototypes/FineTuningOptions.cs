namespace FlashKMeans.Prototypes;

/// <summary>
/// Phase 2 of a prototype model: after k-means has placed the prototypes, Adam moves them (and, for the regressor, their
/// targets, and optionally the features' weights) down the gradient of the model's task loss. Off unless
/// <see cref="Epochs"/> is above 0.
/// </summary>
/// <remarks>
/// Training runs in coordinates centred on the rows' mean and scaled by their spread (the root mean squared deviation
/// per feature; cosine rows stay unit vectors), so <see cref="LearningRate"/>, <see cref="L2Regularization"/> and the
/// loss do not depend on where the data lies or on its units, and data far from the origin trains as exactly as data near
/// it. Prototypes and targets return to the data's coordinates afterwards.
/// </remarks>
public sealed class FineTuningOptions
{
    /// <summary>Passes over the training rows; 0 (the default) skips phase 2.</summary>
    public int Epochs { get; set; }

    /// <summary>
    /// Adam's step size, in units of the data's spread; <c>null</c> runs the learning-rate finder first (an exponential
    /// sweep from 1e-7 to 10 over at most 100 steps, stopped when the smoothed loss exceeds 4× its best, taking the rate
    /// of its steepest fall), which then restores the model.
    /// </summary>
    public double? LearningRate { get; set; }

    /// <summary>
    /// Anneals the step size along half a cosine, from <see cref="LearningRate"/> in the first epoch towards 0 after the
    /// last of <see cref="Epochs"/> (as PyTorch's <c>CosineAnnealingLR</c>); on by default. Off keeps it constant.
    /// </summary>
    public bool AnnealLearningRate { get; set; } = true;

    /// <summary>Rows per Adam step.</summary>
    public int BatchSize { get; set; } = 256;

    /// <summary>
    /// Weight of ½‖p − p₀‖² per prototype, p₀ its position after phase 1 (in the scaled coordinates): holds prototypes
    /// near the rows k-means gave them. Measured from p₀ rather than from the origin so that it does not depend on where
    /// the data lies.
    /// </summary>
    public double L2Regularization { get; set; }

    /// <summary>
    /// Weight of the spread penalty against prototypes that collapse onto each other: the mean over pairs of prototypes
    /// of the same class (tag; every pair for the regressor) of exp(−distance / τ), τ the mean distance from a training row
    /// to its nearest prototype after phase 1.
    /// </summary>
    public double DiversityRegularization { get; set; }

    /// <summary>
    /// Fraction of the rows held out of phase 2 to measure the model after each epoch; training keeps the prototypes of
    /// the best held-out result (phase 1's included), and stops after <see cref="EarlyStoppingRounds"/> epochs without a
    /// better one. A classifier's result is its held-out error, the loss breaking ties (as the suite's held-out
    /// accuracy); the other models' is the loss. 0 trains on every row for every epoch and keeps the last.
    /// </summary>
    public double ValidationFraction { get; set; } = 0.1;

    /// <summary>Epochs without a better held-out result before training stops.</summary>
    public int EarlyStoppingRounds { get; set; } = 5;

    /// <summary>
    /// Also learn a weight per feature in the distance, Σ λⱼ(xⱼ − pⱼ)² with λ ≥ 0 and mean λ = 1 (relevance LVQ, GRLVQ).
    /// Squared Euclidean distance only. The model exposes them as its <c>FeatureWeights</c>.
    /// </summary>
    public bool LearnFeatureWeights { get; set; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad setting.</summary>
    public void Validate(KMeansDistance distance)
    {
        if (Epochs < 0)
            throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Must be at least 0.");
        if (LearningRate is { } rate && !(rate > 0 && double.IsFinite(rate)))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "Must be positive and finite, or null for the finder.");
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "Must be at least 1.");
        if (!(L2Regularization >= 0 && double.IsFinite(L2Regularization)))
            throw new ArgumentOutOfRangeException(nameof(L2Regularization), L2Regularization, "Must be non-negative and finite.");
        if (!(DiversityRegularization >= 0 && double.IsFinite(DiversityRegularization)))
            throw new ArgumentOutOfRangeException(nameof(DiversityRegularization), DiversityRegularization, "Must be non-negative and finite.");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "Must be in [0, 1).");
        if (EarlyStoppingRounds < 1)
            throw new ArgumentOutOfRangeException(nameof(EarlyStoppingRounds), EarlyStoppingRounds, "Must be at least 1.");
        if (LearnFeatureWeights && distance != KMeansDistance.SquaredEuclidean)
            throw new ArgumentOutOfRangeException(nameof(LearnFeatureWeights), LearnFeatureWeights,
                $"Learned feature weights need squared Euclidean distance, not {distance}.");
    }

    /// <summary>A copy.</summary>
    public FineTuningOptions Clone() => (FineTuningOptions)MemberwiseClone();
}
