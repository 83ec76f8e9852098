using FlashKMeans.Clustering;

namespace FlashKMeans;

/// <summary>Which part of a fit a <see cref="KMeansProgress"/> report is about.</summary>
public enum KMeansPhase
{
    /// <summary>A Lloyd iteration has finished.</summary>
    Lloyd = 0,

    /// <summary>Initial centroids are being chosen (k-means‖, k-means++ or random rows); see <see cref="KMeansProgress.Fraction"/>.</summary>
    Seeding = 1,

    /// <summary>A mini-batch step has finished (<see cref="KMeansAlgorithm.MiniBatch"/>, <see cref="MiniBatchKMeans"/>); <see cref="KMeansProgress.Iteration"/> counts steps.</summary>
    MiniBatch = 2,

    /// <summary>
    /// The validation pass, which reads every row before any other work, is under way: <see cref="KMeansProgress.RowsRead"/>
    /// rows so far, and <see cref="KMeansProgress.Fraction"/> of them when the source knows its row count (NaN otherwise).
    /// </summary>
    Validation = 3,
}

/// <summary>
/// Reported while seeding (<see cref="Phase"/> = <see cref="KMeansPhase.Seeding"/>, a few times as it advances)
/// and after every Lloyd iteration.
/// </summary>
/// <param name="Initialization">0-based index of the initialisation being run.</param>
/// <param name="Iteration">1-based iteration within that initialisation; 0 while seeding.</param>
/// <param name="Inertia">Weighted sum of distances of the iteration's assignment; NaN while seeding.</param>
/// <param name="RelativeChange">|I(t−1) − I(t)| / I(t−1); NaN on the first iteration and while seeding.</param>
/// <param name="Elapsed">Time since the fit started.</param>
public readonly record struct KMeansProgress(int Initialization, int Iteration, double Inertia, double RelativeChange, TimeSpan Elapsed)
{
    /// <summary>
    /// 0-based index of the problem the report is about in <see cref="KMeans.FitBatched"/> (each problem reports
    /// every iteration it runs); 0 for the other fits.
    /// </summary>
    public int Problem { get; init; }

    /// <summary>Seeding or a Lloyd iteration.</summary>
    public KMeansPhase Phase { get; init; }

    /// <summary>
    /// How much of the seeding (or of the validation pass) is done, from 0 to 1, while <see cref="Phase"/> is
    /// <see cref="KMeansPhase.Seeding"/> (or <see cref="KMeansPhase.Validation"/>, NaN where the row count is unknown); 1 otherwise.
    /// </summary>
    public double Fraction { get; init; } = 1;

    /// <summary>Rows the validation pass has read so far, while <see cref="Phase"/> is <see cref="KMeansPhase.Validation"/>; 0 otherwise.</summary>
    public long RowsRead { get; init; }
}
