namespace FlashKMeans;

/// <summary>Reported after every Lloyd iteration.</summary>
/// <param name="Initialization">0-based index of the initialisation being run.</param>
/// <param name="Iteration">1-based iteration within that initialisation.</param>
/// <param name="Inertia">Weighted sum of distances of the iteration's assignment.</param>
/// <param name="RelativeChange">|I(t−1) − I(t)| / I(t−1); NaN on the first iteration.</param>
/// <param name="Elapsed">Time since the fit started.</param>
public readonly record struct KMeansProgress(int Initialization, int Iteration, double Inertia, double RelativeChange, TimeSpan Elapsed)
{
    /// <summary>
    /// 0-based index of the problem the report is about in <see cref="KMeans.FitBatched"/> (each problem reports
    /// every iteration it runs); 0 for the other fits.
    /// </summary>
    public int Problem { get; init; }
}
