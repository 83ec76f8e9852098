namespace FlashKMeans;

/// <summary>
/// Settings of balanced hierarchical k-means (<see cref="KMeansOptions.Hierarchical"/>), cuVS' <c>hierarchical</c> and
/// <c>hierarchical_n_iters</c>: about √K mesoclusters, each given a share of the K fine clusters in proportion to its
/// weight and fitted on its own rows, then Lloyd over all K from there, and balancing rounds that move the centroids
/// of the smallest clusters into the largest. It trains IVF-style partitions with 10⁴–10⁶ clusters, where plain Lloyd
/// from k-means‖ converges slowly (its seeding alone grows as K²) and leaves some clusters huge and others empty.
/// </summary>
public sealed class HierarchicalOptions
{
    /// <summary>Default values of <see cref="HierarchicalOptions"/>.</summary>
    public static class Defaults
    {
        /// <summary>Default <see cref="Iterations"/>, cuVS' <c>hierarchical_n_iters</c>.</summary>
        public const int Iterations = 20;
        /// <summary>Default <see cref="BalanceTolerance"/>.</summary>
        public const double BalanceTolerance = 1.5;
        /// <summary>Default <see cref="BalancingRounds"/>.</summary>
        public const int BalancingRounds = 10;
    }

    /// <summary>Lloyd iterations of each level: the mesoclusters, each mesocluster's fine clusters, and the pass over all K.</summary>
    public int Iterations { get; set; } = Defaults.Iterations;

    /// <summary>
    /// The balance to reach: a cluster heavier than this many times the mean weight is split by a centroid moved into it
    /// from a cluster lighter than the mean, and gives its boundary rows to neighbours that are not that heavy. Greater
    /// than 1.
    /// </summary>
    public double BalanceTolerance { get; set; } = Defaults.BalanceTolerance;

    /// <summary>
    /// The most balancing rounds (each splits heavy clusters and runs two Lloyd iterations over all K, then shifts their
    /// borders; each move is kept only where it lowers the imbalance); 0 turns balancing off. The rounds end early once
    /// the tolerance is met, or when two rounds in a row keep nothing although the split had come down to one centroid
    /// (an undone split is retried with half as many).
    /// </summary>
    public int BalancingRounds { get; set; } = Defaults.BalancingRounds;

    /// <summary>A copy.</summary>
    public HierarchicalOptions Clone() => (HierarchicalOptions)MemberwiseClone();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (Iterations < 1)
            throw new ArgumentOutOfRangeException(nameof(Iterations), Iterations, "Must be at least 1.");
        if (!(BalanceTolerance > 1) || double.IsInfinity(BalanceTolerance))
            throw new ArgumentOutOfRangeException(nameof(BalanceTolerance), BalanceTolerance, "Must be finite and greater than 1.");
        if (BalancingRounds < 0)
            throw new ArgumentOutOfRangeException(nameof(BalancingRounds), BalancingRounds, "Must be non-negative.");
    }
}

/// <summary>How balanced a hierarchical fit's clusters are: the largest cluster's weight over the mean, under the nearest-centroid assignment that prediction uses.</summary>
/// <param name="MesoClusters">The mesoclusters of the first level.</param>
/// <param name="ImbalanceBeforeBalancing">Largest / mean after the Lloyd pass over all K, before the balancing rounds.</param>
/// <param name="ImbalanceAfterBalancing">Largest / mean of the model's clusters.</param>
/// <param name="BalancingRounds">The balancing rounds run.</param>
/// <param name="CentroidsMoved">Centroids moved by the balancing rounds, over all rounds: from small clusters into large
/// ones, and with the rows they gave or took at a shifted border.</param>
public sealed record ClusterBalance(int MesoClusters, double ImbalanceBeforeBalancing, double ImbalanceAfterBalancing, int BalancingRounds, int CentroidsMoved);
