namespace FlashKMeans.Constrained;

/// <summary>The fewest and the most rows a cluster may hold (rows, whatever their weights).</summary>
/// <param name="Minimum">At least 0.</param>
/// <param name="Maximum">At least <paramref name="Minimum"/> and 1.</param>
public sealed record ClusterSizeLimits(int Minimum, int Maximum)
{
    /// <summary>Throws <see cref="ArgumentException"/> when no assignment of <paramref name="rows"/> rows to <paramref name="clusters"/> clusters can meet the limits.</summary>
    public void ThrowIfInfeasible(long rows, int clusters)
    {
        if (Minimum < 0 || Maximum < 1 || Maximum < Minimum)
            throw new ArgumentException($"Cluster size limits [{Minimum}, {Maximum}] are not a range: the minimum must be at least 0 and the maximum at least 1 and at least the minimum.");
        if ((long)Maximum * clusters < rows)
            throw new ArgumentException($"{clusters} clusters of at most {Maximum} rows cannot hold {rows} rows (they hold {(long)Maximum * clusters}).");
        if ((long)Minimum * clusters > rows)
            throw new ArgumentException($"{clusters} clusters of at least {Minimum} rows need {(long)Minimum * clusters} rows; there are {rows}.");
    }
}
