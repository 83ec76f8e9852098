namespace FlashKMeans.Prototypes;

/// <summary>Settings of <see cref="PrototypeRegressor"/> (the suite's <c>k_targets</c> and <c>k_features</c>, and its routing).</summary>
public sealed class PrototypeRegressorOptions
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

    /// <summary>The distance between rows and prototypes.</summary>
    public KMeansDistance Distance { get; set; } = KMeansDistance.SquaredEuclidean;

    /// <summary>Lloyd iterations of each k-means.</summary>
    public int MaximumNumberOfIterations { get; set; } = 100;

    /// <summary>Seed of every random choice.</summary>
    public int Seed { get; set; }

    /// <summary>CPU threads; <c>null</c> uses every logical processor.</summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (TargetStrata < 1)
            throw new ArgumentOutOfRangeException(nameof(TargetStrata), TargetStrata, "Must be at least 1.");
        if (PrototypesPerStratum < 1)
            throw new ArgumentOutOfRangeException(nameof(PrototypesPerStratum), PrototypesPerStratum, "Must be at least 1.");
        if (TopK is 0 or < -1)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "Must be at least 1, or −1 for all prototypes.");
        if (!Enum.IsDefined(Routing))
            throw new ArgumentOutOfRangeException(nameof(Routing), Routing, "Unknown routing.");
        if (!(Temperature > 0) || double.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Must be positive and finite.");
        if (!Enum.IsDefined(Distance))
            throw new ArgumentOutOfRangeException(nameof(Distance), Distance, "Unknown distance.");
        if (MaximumNumberOfIterations < 1)
            throw new ArgumentOutOfRangeException(nameof(MaximumNumberOfIterations), MaximumNumberOfIterations, "Must be at least 1.");
        if (NumberOfThreads is < 1)
            throw new ArgumentOutOfRangeException(nameof(NumberOfThreads), NumberOfThreads, "Must be at least 1.");
    }

    /// <summary>A copy.</summary>
    public PrototypeRegressorOptions Clone() => (PrototypeRegressorOptions)MemberwiseClone();
}
