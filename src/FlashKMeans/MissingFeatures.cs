using FlashKMeans.Clustering;

namespace FlashKMeans;

/// <summary>What a NaN feature means.</summary>
public enum MissingFeatures
{
    /// <summary>A NaN feature is an error that names the row and feature (the default).</summary>
    Reject = 0,

    /// <summary>
    /// A NaN feature is missing: the row's distance is taken over the features it has, scaled by d / (features present)
    /// so that it compares with a complete row's, and it moves each centroid only in those features (the seen weight is
    /// kept per centroid and coordinate, so missing values never drag a centroid towards zero). A row must have at
    /// least one feature; infinite values stay errors. Supported on the CPU by squared-Euclidean Lloyd fits (the rows
    /// held in memory, each centroid coordinate the mean of the rows that have the feature; seeds and repairs fill a
    /// missing value with the feature's mean) and by <see cref="MiniBatchKMeans"/> (stream learning). Models score
    /// complete rows.
    /// </summary>
    Ignore = 1,
}
