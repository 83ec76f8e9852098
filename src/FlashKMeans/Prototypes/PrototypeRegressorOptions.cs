namespace FlashKMeans.Prototypes;

/// <summary>Settings of <see cref="PrototypeRegressor"/> (the suite's <c>k_targets</c> and <c>k_features</c>, and its routing).</summary>
public sealed class PrototypeRegressorOptions : PrototypeGridOptions
{
    /// <summary>Strata the targets are clustered into (the suite's <c>k_targets</c>).</summary>
    public int TargetStrata { get; set; } = 20;

    /// <summary>Prototypes per stratum, from the stratum's features (the suite's <c>k_features</c>).</summary>
    public int PrototypesPerStratum { get; set; } = 20;

    /// <summary>Nearest prototypes a prediction blends; −1 for all.</summary>
    public int TopK { get; set; } = 5;

    /// <summary>How the top k are blended.</summary>
    public PrototypeRouting Routing { get; set; } = PrototypeRouting.Scaled;

    /// <summary>Temperature of <see cref="PrototypeRouting.Softmax"/>.</summary>
    public double Temperature { get; set; } = 0.1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (TargetStrata < 1)
            throw new ArgumentOutOfRangeException(nameof(TargetStrata), TargetStrata, "Must be at least 1.");
        if (PrototypesPerStratum < 1)
            throw new ArgumentOutOfRangeException(nameof(PrototypesPerStratum), PrototypesPerStratum, "Must be at least 1.");
        ValidateRouting(TopK, Routing, Temperature);
        ValidateGrid();
    }

    /// <summary>A copy.</summary>
    public PrototypeRegressorOptions Clone() => Copy<PrototypeRegressorOptions>();
}
