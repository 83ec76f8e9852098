namespace FlashKMeans.Selection;

/// <summary>The scores of every K a <see cref="ClusterCountSweep"/> tried, and the K each criterion proposes.</summary>
/// <param name="Scores">One per K, in increasing K.</param>
/// <param name="Knee">The knee of the inertia curve: the K farthest below the chord from the first to the last point,
/// on log inertia, both axes scaled to [0, 1] (Kneedle's rule).</param>
/// <param name="BestDaviesBouldin">The K of the lowest Davies–Bouldin index.</param>
/// <param name="BestCalinskiHarabasz">The K of the highest Calinski–Harabasz index.</param>
/// <param name="BestSilhouette">The K of the highest mean silhouette.</param>
/// <param name="Proposed">The K most of the four criteria propose; on a tie, the silhouette's.</param>
public sealed record ClusterCountReport(IReadOnlyList<ClusterCountScore> Scores, int Knee, int BestDaviesBouldin, int BestCalinskiHarabasz,
    int BestSilhouette, int Proposed);
