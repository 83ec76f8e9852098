namespace FlashKMeans.Prototypes;

/// <summary>Settings of <see cref="PrototypeClassifier"/>: the suite's classifier parameters, named as this engine names things.</summary>
public sealed class PrototypeClassifierOptions : PrototypeGridOptions
{
    /// <summary>
    /// Prototypes per class; <c>null</c> (the suite's <c>k_init = 'auto'</c>) picks them from each class's dispersion:
    /// k = ⌈3·√n·(1 − s̄)⌉, clipped to [1, n], where n is the class's row count and s̄ the mean cosine similarity of its
    /// rows to its mean, both taken about the mean of all rows: a tight class gets 1, a spread or many-modal one up to
    /// about 3·√n.
    /// </summary>
    public int? PrototypesPerClass { get; set; }

    /// <summary>Nearest prototypes a prediction blends; −1 for all.</summary>
    public int TopK { get; set; } = 5;

    /// <summary>How the top k are blended.</summary>
    public PrototypeRouting Routing { get; set; } = PrototypeRouting.Scaled;

    /// <summary>Temperature of <see cref="PrototypeRouting.Softmax"/>.</summary>
    public double Temperature { get; set; } = 0.1;

    /// <summary>
    /// LVQ1 repulsion after the grid is built: for each row, in order, whose nearest prototype belongs to another class,
    /// that prototype moves away from it, p ← p − α(x − p), α this factor. 0 (the default) turns it off.
    /// </summary>
    public double RepulsionFactor { get; set; }

    /// <summary>The loss phase 2 fine-tunes on (when <see cref="PrototypeGridOptions.FineTuning"/> has epochs).</summary>
    public PrototypeLoss Loss { get; set; } = PrototypeLoss.CrossEntropy;

    /// <summary>
    /// For many classes: the other classes each row's loss reads, drawn uniformly per row and step (a sampled softmax, the
    /// drawn classes' logits raised by log(others / m) to stay unbiased); <c>null</c> reads every class.
    /// </summary>
    public int? SampledNegativeClasses { get; set; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (PrototypesPerClass is < 1)
            throw new ArgumentOutOfRangeException(nameof(PrototypesPerClass), PrototypesPerClass, "Must be null (auto) or at least 1.");
        ValidateRouting(TopK, Routing, Temperature);
        if (!Enum.IsDefined(Loss))
            throw new ArgumentOutOfRangeException(nameof(Loss), Loss, "Unknown loss.");
        if (SampledNegativeClasses is < 1)
            throw new ArgumentOutOfRangeException(nameof(SampledNegativeClasses), SampledNegativeClasses, "Must be null (every class) or at least 1.");
        if (!(RepulsionFactor >= 0 && RepulsionFactor < 1))
            throw new ArgumentOutOfRangeException(nameof(RepulsionFactor), RepulsionFactor, "Must be in [0, 1).");
        ValidateGrid();
    }

    /// <summary>A copy.</summary>
    public PrototypeClassifierOptions Clone() => Copy<PrototypeClassifierOptions>();
}
