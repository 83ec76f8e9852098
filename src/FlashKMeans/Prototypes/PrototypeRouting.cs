namespace FlashKMeans.Prototypes;

/// <summary>
/// How a prediction blends its top-k nearest prototypes (the FastKMeans Suite's <c>soft_type</c>): a kernel-weighted
/// vote of the nearest prototypes, Nadaraya–Watson style. Similarity s = 1 / (1 + distance).
/// </summary>
public enum PrototypeRouting
{
    /// <summary>The nearest prototype alone.</summary>
    Hard = 0,

    /// <summary>The top k, equally.</summary>
    Mean = 1,

    /// <summary>The top k in proportion to their similarity s.</summary>
    Scaled = 2,

    /// <summary>The top k by softmax(s / temperature).</summary>
    Softmax = 3,
}
