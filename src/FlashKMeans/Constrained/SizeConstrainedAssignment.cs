namespace FlashKMeans.Constrained;

/// <summary>
/// The assignment of rows to clusters that minimises Σ cost(row, cluster) with every cluster's row count within
/// [minimum, maximum]: a transportation problem, solved exactly.
/// <list type="number">
/// <item>Prices: each row takes its cheapest cluster under cost + price; rounds of price changes (up for clusters over
/// the maximum, down for those under the minimum, in shrinking steps) bring the counts near the limits. Every such
/// assignment is optimal for the counts it induces.</item>
/// <item>Augmenting paths: while a cluster is outside its limits, the shortest path (Bellman–Ford over the K clusters,
/// where the edge a → b costs the cheapest move of one row from a to b) from a cluster that may give a row to one that
/// must take one moves one row along each edge. A shortest path keeps the assignment optimal for the new counts, so
/// the end is optimal for counts within the limits.</item>
/// </list>
/// Cost: the price rounds are O(rounds · N · K); each augmenting path O(N · K + K³). Rows in memory, on the CPU.
/// </summary>
internal static class SizeConstrainedAssignment
{
    private const int PriceRounds = 60;

    /// <param name="cost">N × K costs, row-major (finite).</param>
    /// <param name="n">N.</param>
    /// <param name="k">K.</param>
    /// <param name="limits">The limits, feasible for N and K.</param>
    /// <param name="cancellationToken">Checked between rounds and paths.</param>
    public static int[] Solve(double[] cost, int n, int k, ClusterSizeLimits limits, CancellationToken cancellationToken = default)
    {
        limits.ThrowIfInfeasible(n, k);
        var labels = new int[n];
        var sizes = new int[k];
        var prices = new double[k];
        Relabel(cost, n, k, prices, labels, sizes);
        // A step of the order of the gap between a row's best and second-best cluster.
        double step = TypicalGap(cost, n, k);
        for (int round = 0; round < PriceRounds && Violation(sizes, limits) > 0 && step > 0; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (int c = 0; c < k; c++)
                prices[c] += sizes[c] > limits.Maximum ? step : sizes[c] < limits.Minimum ? -step : 0;
            Relabel(cost, n, k, prices, labels, sizes);
            step *= 0.85;
        }
        while (Violation(sizes, limits) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Augment(cost, n, k, labels, sizes, limits, onlyImproving: false);
        }
        // Feasible and optimal for its counts; other counts within the limits may still cost less. The optimal cost is
        // convex in the counts, so the counts are optimal once no path from a cluster that may shrink to one that may
        // grow has negative cost.
        while (Augment(cost, n, k, labels, sizes, limits, onlyImproving: true))
            cancellationToken.ThrowIfCancellationRequested();
        return labels;
    }

    /// <summary>Rows outside the limits, summed over the clusters.</summary>
    private static long Violation(int[] sizes, ClusterSizeLimits limits) =>
        sizes.Sum(s => (long)Math.Max(0, s - limits.Maximum) + Math.Max(0, limits.Minimum - s));

    private static void Relabel(double[] cost, int n, int k, double[] prices, int[] labels, int[] sizes)
    {
        Array.Clear(sizes);
        for (int r = 0; r < n; r++)
        {
            int best = 0;
            double bestValue = double.PositiveInfinity;
            for (int c = 0; c < k; c++)
            {
                double v = cost[(long)r * k + c] + prices[c];
                if (v < bestValue)
                    (best, bestValue) = (c, v);
            }
            labels[r] = best;
            sizes[best]++;
        }
    }

    private static double TypicalGap(double[] cost, int n, int k)
    {
        if (k < 2)
            return 0;
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            double first = double.PositiveInfinity, second = double.PositiveInfinity;
            for (int c = 0; c < k; c++)
            {
                double v = cost[(long)r * k + c];
                if (v < first)
                    (first, second) = (v, first);
                else if (v < second)
                    second = v;
            }
            total += second - first;
        }
        return total / n;
    }

    /// <summary>
    /// One shortest augmenting path from a cluster that must (or may) give a row to one that must (or may) take one;
    /// with <paramref name="onlyImproving"/>, within the limits and only when the path's cost is negative. Returns
    /// whether rows moved.
    /// </summary>
    private static bool Augment(double[] cost, int n, int k, int[] labels, int[] sizes, ClusterSizeLimits limits, bool onlyImproving)
    {
        bool over = !onlyImproving && sizes.Any(s => s > limits.Maximum), under = !onlyImproving && sizes.Any(s => s < limits.Minimum);
        // Sources give a row: over the maximum if any is, else above the minimum. Sinks take one: under the minimum if
        // any is, else below the maximum.
        bool IsSource(int c) => over ? sizes[c] > limits.Maximum : sizes[c] > limits.Minimum;
        bool IsSink(int c) => under ? sizes[c] < limits.Minimum : sizes[c] < limits.Maximum;

        // The cheapest move of one row from a to b, and that row.
        var edge = new double[k * k];
        var edgeRow = new int[k * k];
        Array.Fill(edge, double.PositiveInfinity);
        for (int r = 0; r < n; r++)
        {
            int a = labels[r];
            double here = cost[(long)r * k + a];
            for (int b = 0; b < k; b++)
            {
                if (b == a)
                    continue;
                double move = cost[(long)r * k + b] - here;
                if (move < edge[a * k + b])
                {
                    edge[a * k + b] = move;
                    edgeRow[a * k + b] = r;
                }
            }
        }
        // Bellman–Ford from every source at once; the assignment is optimal for its counts, so no cycle is negative.
        var distance = new double[k];
        var parent = new int[k];
        for (int c = 0; c < k; c++)
        {
            distance[c] = IsSource(c) ? 0 : double.PositiveInfinity;
            parent[c] = -1;
        }
        for (int pass = 0; pass < k; pass++)
        {
            bool changed = false;
            for (int a = 0; a < k; a++)
            {
                if (double.IsPositiveInfinity(distance[a]))
                    continue;
                for (int b = 0; b < k; b++)
                {
                    double through = distance[a] + edge[a * k + b];
                    if (through < distance[b] - 1e-12 * Math.Abs(through))
                    {
                        distance[b] = through;
                        parent[b] = a;
                        changed = true;
                    }
                }
            }
            if (!changed)
                break;
        }
        int sink = -1;
        for (int c = 0; c < k; c++)
        {
            // A path of at least one move (a cluster may be both a source and a sink within the limits).
            if (IsSink(c) && parent[c] >= 0 && (sink < 0 || distance[c] < distance[sink]))
                sink = c;
        }
        if (onlyImproving && (sink < 0 || !(distance[sink] < -1e-12 * (1 + TotalCost(cost, labels, k)))))
            return false;
        if (sink < 0)
            throw new InvalidOperationException("No augmenting path between clusters: the limits should have been infeasible.");
        // Move one row along each edge of the path, sink first (each edge's row leaves its own cluster).
        var path = new List<int> { sink };
        // Back to the source the path left from: the cluster whose distance no move lowered.
        for (int c = sink; parent[c] >= 0; c = parent[c])
        {
            path.Add(parent[c]);
            if (path.Count > k)
                throw new InvalidOperationException("The augmenting path does not end: a negative cycle among the clusters.");
        }
        for (int i = 0; i + 1 < path.Count; i++)
        {
            int to = path[i], from = path[i + 1];
            int row = edgeRow[from * k + to];
            labels[row] = to;
        }
        sizes[path[^1]]--;
        sizes[sink]++;
        return true;
    }

    private static double TotalCost(double[] cost, int[] labels, int k)
    {
        double total = 0;
        for (int r = 0; r < labels.Length; r++)
            total += Math.Abs(cost[(long)r * k + labels[r]]);
        return total;
    }
}
