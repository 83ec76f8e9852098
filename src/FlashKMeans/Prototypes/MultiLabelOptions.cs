namespace FlashKMeans.Prototypes;

/// <summary>How <see cref="MultiLabelModel"/> turns tag scores into tags.</summary>
public enum TagThreshold
{
    /// <summary>Every tag whose score reaches <see cref="MultiLabelOptions.FixedThreshold"/>.</summary>
    Fixed = 0,

    /// <summary>
    /// The suite's <c>gap</c>: sort the scores and cut at the largest drop, keeping at least one tag. The drop is measured
    /// as a ratio, not a difference (the suite's form), which on similarities 1 / (1 + d²) often cut between a row's
    /// own tags.
    /// </summary>
    Gap = 1,
}

/// <summary>Settings of <see cref="MultiLabelClassifier"/>.</summary>
public sealed class MultiLabelOptions : PrototypeGridOptions
{
    /// <summary>Prototypes per tag; <c>null</c> picks them from the tag's rows as <see cref="PrototypeClassifierOptions.PrototypesPerClass"/> does for a class.</summary>
    public int? PrototypesPerTag { get; set; }

    /// <summary>How scores become tags.</summary>
    public TagThreshold Threshold { get; set; } = TagThreshold.Gap;

    /// <summary>The score a tag needs under <see cref="TagThreshold.Fixed"/>.</summary>
    public double FixedThreshold { get; set; } = 0.5;

    /// <summary>γ₋ of phase 2's asymmetric loss: how strongly easy negatives are down-weighted (Ridnik et al. 2021's default 4).</summary>
    public double AsymmetricGammaNegative { get; set; } = 4;

    /// <summary>γ₊ of phase 2's asymmetric loss, for the tags a row carries (default 1).</summary>
    public double AsymmetricGammaPositive { get; set; } = 1;

    /// <summary>The probability shift of phase 2's asymmetric loss: a negative tag scoring below it costs nothing (default 0.05).</summary>
    public double AsymmetricClip { get; set; } = 0.05;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (PrototypesPerTag is < 1)
            throw new ArgumentOutOfRangeException(nameof(PrototypesPerTag), PrototypesPerTag, "Must be null (auto) or at least 1.");
        if (!Enum.IsDefined(Threshold))
            throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "Unknown threshold.");
        if (!(FixedThreshold >= 0 && FixedThreshold <= 1))
            throw new ArgumentOutOfRangeException(nameof(FixedThreshold), FixedThreshold, "Must be in [0, 1].");
        if (!(AsymmetricGammaNegative >= 0 && double.IsFinite(AsymmetricGammaNegative)))
            throw new ArgumentOutOfRangeException(nameof(AsymmetricGammaNegative), AsymmetricGammaNegative, "Must be non-negative and finite.");
        if (!(AsymmetricGammaPositive >= 0 && double.IsFinite(AsymmetricGammaPositive)))
            throw new ArgumentOutOfRangeException(nameof(AsymmetricGammaPositive), AsymmetricGammaPositive, "Must be non-negative and finite.");
        if (!(AsymmetricClip >= 0 && AsymmetricClip < 1))
            throw new ArgumentOutOfRangeException(nameof(AsymmetricClip), AsymmetricClip, "Must be in [0, 1).");
        ValidateGrid();
    }

    /// <summary>A copy.</summary>
    public MultiLabelOptions Clone() => Copy<MultiLabelOptions>();
}
