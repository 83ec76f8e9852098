namespace FlashKMeans.Prototypes;

/// <summary>
/// The settings every prototype model shares: the distance, and the k-means that places its prototypes (CPU Lloyd,
/// one problem per class, tag or stratum, each with a seed derived from <see cref="Seed"/>).
/// </summary>
public abstract class PrototypeGridOptions
{
    /// <summary>The distance between rows and prototypes (squared Euclidean, cosine or L1).</summary>
    public KMeansDistance Distance { get; set; } = KMeansDistance.SquaredEuclidean;

    /// <summary>Lloyd iterations of each k-means.</summary>
    public int MaximumNumberOfIterations { get; set; } = 100;

    /// <summary>Seed of every random choice.</summary>
    public int Seed { get; set; }

    /// <summary>CPU threads; <c>null</c> uses every logical processor.</summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad shared setting.</summary>
    private protected void ValidateGrid()
    {
        if (!Enum.IsDefined(Distance))
            throw new ArgumentOutOfRangeException(nameof(Distance), Distance, "Unknown distance.");
        if (MaximumNumberOfIterations < 1)
            throw new ArgumentOutOfRangeException(nameof(MaximumNumberOfIterations), MaximumNumberOfIterations, "Must be at least 1.");
        if (NumberOfThreads is < 1)
            throw new ArgumentOutOfRangeException(nameof(NumberOfThreads), NumberOfThreads, "Must be at least 1.");
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

    /// <summary>k-means with <paramref name="k"/> clusters of <paramref name="rows"/> (n × d) for problem <paramref name="problem"/> of the model.</summary>
    internal KMeansModel FitGrid(ReadOnlySpan<float> rows, int d, int k, ReadOnlySpan<float> weights, int problem, KMeansDistance? distance = null) =>
        new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Distance = distance ?? Distance, Seed = KMeans.ProblemSeed(Seed, problem), Device = ComputeDevice.Cpu,
            MaximumNumberOfIterations = MaximumNumberOfIterations, NumberOfThreads = NumberOfThreads,
        }).Fit(rows, d, weights);
}
