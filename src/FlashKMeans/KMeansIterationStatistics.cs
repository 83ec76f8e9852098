namespace FlashKMeans;

/// <summary>What one Lloyd iteration did, in the spirit of faiss' per-iteration statistics.</summary>
/// <param name="Iteration">1-based iteration.</param>
/// <param name="Inertia">Weighted sum of distances of this iteration's assignment (before its update).</param>
/// <param name="LabelsChanged">Rows whose cluster changed.</param>
/// <param name="EmptyClustersReseeded">Empty clusters re-seeded after the update.</param>
/// <param name="ImbalanceFactor">K·Σwᵢ² / (Σwᵢ)² over cluster weights; 1 is perfectly balanced.</param>
/// <param name="StepTime">Time of the assignment and update.</param>
/// <param name="Elapsed">Time since the fit started, at the end of the iteration.</param>
public readonly record struct KMeansIterationStatistics(
    int Iteration, double Inertia, long LabelsChanged, int EmptyClustersReseeded,
    double ImbalanceFactor, TimeSpan StepTime, TimeSpan Elapsed);
