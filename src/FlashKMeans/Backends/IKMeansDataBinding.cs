namespace FlashKMeans.Backends;

/// <summary>Outcome of one Lloyd step.</summary>
/// <param name="Inertia">Σ w·‖x − c‖² of the assignment, measured against the centroids before the update.</param>
/// <param name="LabelsChanged">Rows whose label differs from the previous step (all rows on the first step).</param>
/// <param name="EmptyClusters">Clusters that received no weight; their centroids were left unchanged.</param>
internal readonly record struct LloydStepResult(double Inertia, long LabelsChanged, int EmptyClusters);

/// <summary>A row far from its centroid, a candidate to re-seed an empty cluster.</summary>
/// <param name="Row">Row index in the pass.</param>
/// <param name="Label">The cluster it is assigned to.</param>
/// <param name="Distance">Its squared distance to that cluster's centroid.</param>
internal readonly record struct FarRow(long Row, int Label, float Distance);

/// <summary>
/// A backend's hold on one data set for a fit: the state that lives between passes (labels, bounds,
/// device buffers). Distances are squared Euclidean on the rows as the source serves them.
/// Every method that reads all rows is one pass; all sums are taken in an order that does not depend
/// on threading, so a deterministic backend gives bit-identical results.
/// </summary>
internal interface IKMeansDataBinding : IDisposable
{
    /// <summary>Rows.</summary>
    long RowCount { get; }

    /// <summary>Features per row.</summary>
    int Dimension { get; }

    /// <summary>K.</summary>
    int NumberOfClusters { get; }

    /// <summary>Replaces the centroids (K × d, row-major).</summary>
    void SetCentroids(ReadOnlySpan<float> centroids);

    /// <summary>Copies the current centroids out.</summary>
    void GetCentroids(Span<float> destination);

    /// <summary>
    /// One Lloyd iteration: assigns every row to its nearest centroid, then replaces each centroid by the
    /// weighted mean of its rows (scaled to unit length when <paramref name="normalizeCentroids"/>).
    /// Centroids of empty clusters are kept.
    /// </summary>
    LloydStepResult Step(bool normalizeCentroids, CancellationToken cancellationToken);

    /// <summary>Per-cluster total weight of the last <see cref="Step"/> (K values).</summary>
    void GetClusterWeights(Span<double> destination);

    /// <summary>
    /// The <paramref name="count"/> rows farthest from their centroid under the last <see cref="Step"/>'s
    /// assignment, farthest first; ties go to the lower row index. Only rows of positive weight qualify.
    /// </summary>
    IReadOnlyList<FarRow> FindFarthestRows(int count, CancellationToken cancellationToken);

    /// <summary>
    /// Assigns every row under <paramref name="centroids"/> without changing any state and returns the
    /// inertia; optionally per-cluster weights (length K of those centroids).
    /// </summary>
    double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken);

    /// <summary>Copies rows and their weights out, in the order asked.</summary>
    void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken);

    // Seeding primitives. The binding keeps D(x), each row's squared distance to the nearest seed so far.

    /// <summary>
    /// Lowers D(x) with <paramref name="newSeeds"/> (starting from +∞ when <paramref name="reset"/>) and
    /// returns the potential Σ w·D(x).
    /// </summary>
    double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken);

    /// <summary>
    /// For each seed added since the last reset (in the order added), the total weight of the rows whose
    /// nearest seed it is (the first seed wins ties). k-means|| weights its candidates with this.
    /// </summary>
    void GetSeedWeights(Span<double> weights);

    /// <summary>For each candidate c, the potential Σ w·min(D(x), ‖x − c‖²) were it added. D is unchanged.</summary>
    void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken);

    /// <summary>
    /// For each target t (ascending, in [0, potential)), the first row at which the running sum of w·D(x),
    /// in row order, exceeds t: sampling proportional to D.
    /// </summary>
    void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken);

    /// <summary>
    /// Rows chosen independently with probability min(1, <paramref name="scale"/>·w·D(x)), where the
    /// uniform draw for row i is <c>CounterRandom.Uniform(seed, i)</c>, so the choice is the same on every backend.
    /// </summary>
    IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken);
}
