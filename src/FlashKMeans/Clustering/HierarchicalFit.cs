using FlashKMeans.Data;
using FlashKMeans.Primitives;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Clustering;

/// <summary>
/// Balanced hierarchical k-means (<see cref="HierarchicalOptions"/>), built from plain fits on the options' backend:
/// <list type="number">
/// <item>about √K mesoclusters of all rows;</item>
/// <item>each mesocluster's share of the K fine clusters, in proportion to its weight (largest remainders; at least one
/// for a mesocluster that weighs anything, at most its rows of positive weight);</item>
/// <item>the fine clusters of each mesocluster, fitted on its own rows (k-means++ there, cheap at a share's size);</item>
/// <item>Lloyd over all K from the fine centroids;</item>
/// <item>balancing rounds, while the heaviest cluster weighs more than the tolerance times the mean: each heavy cluster's
/// neighbourhood (it and its nearest centroids) is fitted afresh on its own rows and the most even of a few seeds kept;
/// the centroids of the lightest clusters move onto rows of the heaviest ones, splitting them, and two Lloyd iterations
/// over all K follow; then the heavy clusters' boundary rows go to their nearest cluster that is not heavy, and the
/// centroids follow their rows. Each move is kept only where it lowers the imbalance (a re-fit also where the imbalance
/// holds and less weight lies above the tolerance).</item>
/// </list>
/// No step of it seeds all K at once, so its cost stays near that of the Lloyd iterations where k-means‖'s grows as K².
/// </summary>
internal static class HierarchicalFit
{
    /// <summary>Lloyd iterations after each balancing move.</summary>
    private const int IterationsAfterMove = 2;

    /// <summary>Centroids re-fitted together around a heavy cluster: it and its nearest others.</summary>
    private const int NeighbourhoodSize = 12;

    /// <summary>The largest neighbourhood tried.</summary>
    private const int MaxNeighbourhoodSize = 48;

    /// <summary>Seeds tried for each neighbourhood; the most even partition of its rows is kept.</summary>
    private const int NeighbourhoodTries = 8;

    /// <param name="training">The rows as the fit sees them (centred where the fit centres).</param>
    /// <param name="summary">Their validation summary.</param>
    /// <param name="options">The fit's options, <see cref="KMeansOptions.Hierarchical"/> set.</param>
    /// <param name="seed">The problem's seed.</param>
    /// <param name="fit">A plain fit of a source (its summary given) on the options' backend, in the source's coordinates, by a
    /// worker: 0 for the fits over all rows, 1 … <paramref name="workers"/> for the fine fits, which run at once, one per worker.</param>
    /// <param name="workers">Fine fits run at once.</param>
    /// <param name="rows">The training rows as the backend has bound them, where it lends them (<see cref="AssignmentMeasure"/>), or null.</param>
    /// <param name="cancellationToken">Checked between the fits.</param>
    /// <returns>The model in the training coordinates, with <see cref="KMeansModel.Balance"/>.</returns>
    public static KMeansModel Run(IBatchSource training, DataSummary summary, KMeansOptions options, int seed,
        Func<int, IBatchSource, DataSummary, KMeansOptions, KMeansModel> fit, int workers, Backends.IReusableRowsBinding? rows,
        CancellationToken cancellationToken)
    {
        var measure = new AssignmentMeasure(training, rows, options);
        var settings = options.Hierarchical!;
        int k = options.NumberOfClusters, d = training.Dimension;
        int n = checked((int)summary.RowCount);
        var plain = options.Clone();
        plain.Hierarchical = null;
        plain.MaximumNumberOfIterations = settings.Iterations;
        plain.NumberOfInitializations = 1;
        var quiet = plain.Clone();
        quiet.Logger = null;

        // Each phase's seconds go to the log, for whoever tunes the options (or the method).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var phases = new double[4];
        void EndPhase(int phase)
        {
            phases[phase] = clock.Elapsed.TotalSeconds;
            clock.Restart();
        }

        // 1. Mesoclusters.
        int mesoCount = Math.Clamp((int)Math.Round(Math.Sqrt(k)), 1, k);
        var mesoOptions = quiet.Clone();
        mesoOptions.NumberOfClusters = mesoCount;
        mesoOptions.Seed = seed;
        var meso = fit(0, training, summary, mesoOptions);
        var labels = new int[n];
        var distances = new float[n];
        measure.Assign(meso.Centroids, labels, distances, cancellationToken);

        // 2. Each mesocluster's rows and share of K.
        var (mesoRows, weights) = Split(training, labels, mesoCount, cancellationToken);
        var mesoWeights = new double[mesoCount];
        var usable = new int[mesoCount];
        for (int m = 0; m < mesoCount; m++)
        {
            int count = mesoRows[m].Length / d;
            mesoWeights[m] = weights[m] is { } w ? w.Sum(v => (double)v) : count;
            usable[m] = weights[m] is { } ww ? ww.Count(v => v > 0) : count;
        }
        var shares = Shares(mesoWeights, usable, k);
        EndPhase(0);

        // 3. Fine clusters per mesocluster, several at once; each is its own seeded fit, so the order does not matter.
        var centroids = new float[(long)k * d];
        var offsets = new int[mesoCount];
        for (int m = 1; m < mesoCount; m++)
            offsets[m] = offsets[m - 1] + shares[m - 1];
        int nextMeso = -1;
        var splitRows = mesoRows;
        var splitWeights = weights;
        Threading.ParallelWork.For(1, workers + 1, new ParallelOptions { MaxDegreeOfParallelism = workers }, worker =>
        {
            for (int m = Interlocked.Increment(ref nextMeso); m < mesoCount; m = Interlocked.Increment(ref nextMeso))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (shares[m] == 0)
                    continue;
                var source = new InMemoryBatchSource(splitRows[m], d, splitWeights[m] is { } w ? w : ReadOnlyMemory<float>.Empty);
                var fine = quiet.Clone();
                fine.NumberOfClusters = shares[m];
                fine.Initialization = KMeansInitialization.KMeansPlusPlus;
                fine.Seed = (int)(CounterRandom.Derive((ulong)seed, (ulong)m + 1) & int.MaxValue);
                var model = fit(worker, source, DataValidator.Scan(source, cancellationToken), fine);
                model.Centroids.Span.CopyTo(centroids.AsSpan(offsets[m] * d));
            }
        });
        mesoRows = null!;
        weights = null!;
        EndPhase(1);

        // 4. Lloyd over all K.
        var all = plain.Clone();
        all.Initialization = KMeansInitialization.Explicit;
        all.InitialCentroids = centroids;
        var lastFit = fit(0, training, summary, all);
        var current = lastFit.Centroids.ToArray();
        bool shiftedSinceFit = false;
        int iterations = lastFit.Iterations;
        var clusterWeights = new double[k];
        double before = measure.Imbalance(lastFit.Centroids, labels, distances, clusterWeights, out double inertia, cancellationToken);
        EndPhase(2);

        // 5. Balancing: each round tries two moves, each kept only where it lowers the imbalance: a light cluster's
        // centroid onto rows of a heavy one drawn at random, then two Lloyd iterations (which splits a heavy cluster,
        // most often a dense region that drew too few centroids), then the boundary rows of the heavy clusters handed to
        // their nearest cluster that is not heavy, every centroid moving to its new rows' mean (which shifts the borders
        // of clusters that are only somewhat too large).
        double after = before;
        double afterExcess = Excess(clusterWeights, settings.BalanceTolerance);
        int rounds = 0, moved = 0;
        var balancing = quiet.Clone();
        balancing.Initialization = KMeansInitialization.Explicit;
        balancing.MaximumNumberOfIterations = IterationsAfterMove;
        var candidateWeights = new double[k];
        var candidateLabels = new int[n];
        var candidateDistances = new float[n];
        // The border shift depends only on the current centroids: once undone, it is not tried again until a split has
        // changed them. An undone split is tried next round with half as many centroids (many moves at once often make a
        // new heaviest cluster where a few would not). Two rounds in a row that keep nothing with a single centroid's
        // split end the balancing: each try costs a pass over the data.
        bool shiftUndone = false;
        int idleRounds = 0, splitLimit = int.MaxValue, neighbourhood = NeighbourhoodSize;
        for (int round = 0; round < settings.BalancingRounds && after > settings.BalanceTolerance && idleRounds < 2; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            rounds++;
            bool kept = false;
            int limitThisRound = splitLimit;
            {
                // Each heavy cluster's neighbourhood fitted afresh on its own rows, keeping the most even of a few seeds.
                var step = System.Diagnostics.Stopwatch.StartNew();
                var moving = current.ToArray();
                int moves = RefitNeighbourhoods(moving, d, training, labels, clusterWeights, settings.BalanceTolerance, neighbourhood,
                    CounterRandom.Derive((ulong)seed, 0xB0A7 + (ulong)round), options.NumberOfThreads ?? Environment.ProcessorCount, cancellationToken);
                // Where no neighbourhood found a more even partition, the next round tries neighbourhoods twice as large: a
                // cluster that stays heavy among its nearest few often has room among more.
                neighbourhood = moves > 0 ? NeighbourhoodSize : Math.Min(2 * neighbourhood, MaxNeighbourhoodSize);
                if (moves > 0)
                {
                    var candidate = new KMeansModel(moving, d, options.Distance, 0, 0, false, 0, [], [], lastFit.TrainedOn);
                    double chosen = step.Elapsed.TotalSeconds;
                    double imbalance = measure.Imbalance(candidate.Centroids, candidateLabels, candidateDistances, candidateWeights,
                        out double candidateInertia, cancellationToken);
                    // Kept where the heaviest cluster is lighter, or as heavy while less weight lies above the tolerance: each
                    // neighbourhood was replaced only where its own heaviest cluster got lighter, so the rest follow in later rounds.
                    double excess = Excess(candidateWeights, settings.BalanceTolerance);
                    bool keep = imbalance < after || (imbalance <= after && excess < afterExcess);
                    options.Logger?.LogDebug(
                        "FlashKMeans: balancing round {Round}, refit: {Moves} centroids in {Chosen:F3} s, imbalance {Imbalance:F2} measured in {Measured:F3} s ({Outcome}).",
                        round, moves, chosen, imbalance, step.Elapsed.TotalSeconds - chosen, keep ? "kept" : "undone");
                    if (keep)
                    {
                        Accept(candidate, moves, imbalance, excess, candidateInertia);
                        shiftedSinceFit = true;
                    }
                }
            }
            foreach (bool split in new[] { true, false })
            {
                if (!split && shiftUndone || !(after > settings.BalanceTolerance))
                    continue;
                var step = System.Diagnostics.Stopwatch.StartNew();
                var moving = current.ToArray();
                int moves = split
                    ? MoveLightIntoHeavy(moving, d, training, labels, clusterWeights, settings.BalanceTolerance, splitLimit,
                        CounterRandom.Derive((ulong)seed, 0xBA1A + (ulong)round), cancellationToken)
                    : ShiftBoundaries(moving, d, training, labels, distances, clusterWeights, settings.BalanceTolerance, options, cancellationToken);
                if (moves == 0)
                {
                    shiftUndone |= !split;
                    continue;
                }
                double chosen = step.Elapsed.TotalSeconds;
                KMeansModel candidate;
                if (split)
                {
                    balancing.InitialCentroids = moving;
                    candidate = fit(0, training, summary, balancing);
                    iterations += candidate.Iterations;
                }
                else
                {
                    candidate = new KMeansModel(moving, d, options.Distance, 0, 0, false, 0, [], [], lastFit.TrainedOn);
                }
                double refitted = step.Elapsed.TotalSeconds;
                double imbalance = measure.Imbalance(candidate.Centroids, candidateLabels, candidateDistances, candidateWeights,
                    out double candidateInertia, cancellationToken);
                options.Logger?.LogDebug(
                    "FlashKMeans: balancing round {Round}, {Move}: {Moves} centroids in {Chosen:F3} s, refit {Refit:F3} s, imbalance {Imbalance:F2} measured in {Measured:F3} s ({Outcome}).",
                    round, split ? "split" : "shift", moves, chosen, refitted - chosen, imbalance, step.Elapsed.TotalSeconds - refitted,
                    imbalance < after ? "kept" : "undone");
                if (!(imbalance < after))
                {
                    shiftUndone |= !split;
                    if (split)
                        splitLimit = Math.Max(1, moves / 2);
                    continue;
                }
                Accept(candidate, moves, imbalance, Excess(candidateWeights, settings.BalanceTolerance), candidateInertia);
                if (split)
                    lastFit = candidate;
                shiftedSinceFit = !split;
            }
            idleRounds = kept ? 0 : limitThisRound <= 1 ? idleRounds + 1 : idleRounds;

            // A kept move: its centroids, its measures, and its labels, distances and weights (measured into the candidate buffers).
            void Accept(KMeansModel candidate, int moves, double imbalance, double excess, double candidateInertia)
            {
                kept = true;
                shiftUndone = false;
                moved += moves;
                current = candidate.Centroids.ToArray();
                after = imbalance;
                afterExcess = excess;
                inertia = candidateInertia;
                (labels, candidateLabels) = (candidateLabels, labels);
                (distances, candidateDistances) = (candidateDistances, distances);
                (clusterWeights, candidateWeights) = (candidateWeights, clusterWeights);
            }
        }
        EndPhase(3);
        options.Logger?.LogInformation(
            "FlashKMeans: hierarchical fit: {Meso} mesoclusters, imbalance (largest / mean) {Before:F2} before balancing, {After:F2} after {Rounds} rounds ({Moved} centroids moved); " +
            "seconds: mesoclusters and split {MesoSeconds:F2}, fine clusters {Fine:F2}, Lloyd over all K {Lloyd:F2}, balancing {Balancing:F2}.",
            mesoCount, before, after, rounds, moved, phases[0], phases[1], phases[2], phases[3]);
        // The inertia is that of the nearest-centroid assignment the model predicts with; after a boundary shift the
        // centroids are no longer a Lloyd fixed point, so the fit is not reported converged.
        return new KMeansModel(current, d, options.Distance, inertia, iterations, lastFit.Converged && !shiftedSinceFit,
            lastFit.EmptyClustersReseeded, lastFit.InertiaHistory, lastFit.Statistics, lastFit.TrainedOn)
        {
            Balance = new ClusterBalance(mesoCount, before, after, rounds, moved),
        };
    }

    /// <summary>
    /// For each heavy cluster, heaviest first, a neighbourhood of <paramref name="size"/> centroids not yet in one: it
    /// and its nearest others. The neighbourhood's rows are fitted afresh with as many centroids, from
    /// <see cref="NeighbourhoodTries"/> k-means++ seeds on the CPU (small problems, one thread each, neighbourhoods side by
    /// side); the fit whose largest cluster is smallest (then the lowest inertia) replaces the neighbourhood's centroids
    /// where its largest cluster is smaller than the neighbourhood's now. Lloyd inside a dense blob settles into cells of
    /// uneven size (a centroid near the blob's middle takes more rows); another local optimum of the same rows is often as
    /// good and more even. Returns the centroids replaced.
    /// </summary>
    private static int RefitNeighbourhoods(float[] centroids, int d, IBatchSource source, int[] labels, double[] weights, double tolerance,
        int size, ulong seed, int threads, CancellationToken cancellationToken)
    {
        int k = weights.Length;
        double mean = weights.Sum() / k;
        var taken = new bool[k];
        var groups = new List<int[]>();
        foreach (int heavy in Enumerable.Range(0, k).Where(c => weights[c] > tolerance * mean).OrderByDescending(c => weights[c]).ThenBy(c => c))
        {
            if (taken[heavy])
                continue;
            var centre = centroids.AsSpan(heavy * d, d).ToArray();
            int[] group = [heavy, .. Enumerable.Range(0, k).Where(c => c != heavy && !taken[c])
                .OrderBy(c => VectorMath.SquaredDistance(centre, centroids.AsSpan(c * d, d))).ThenBy(c => c).Take(size - 1)];
            foreach (int c in group)
                taken[c] = true;
            groups.Add(group);
        }
        var groupOf = Enumerable.Repeat(-1, k).ToArray();
        for (int g = 0; g < groups.Count; g++)
            foreach (int c in groups[g])
                groupOf[c] = g;
        var members = groups.Select(_ => new List<int>()).ToArray();
        for (int r = 0; r < labels.Length; r++)
            if (groupOf[labels[r]] >= 0)
                members[groupOf[labels[r]]].Add(r);
        var (values, _) = Gather(source, members.SelectMany(m => m).ToList(), d, cancellationToken);
        var starts = new int[groups.Count + 1];
        for (int g = 0; g < groups.Count; g++)
            starts[g + 1] = starts[g] + members[g].Count;
        int moved = 0;
        Threading.ParallelWork.For(0, groups.Count, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancellationToken }, g =>
        {
            var group = groups[g];
            int count = group.Length, rows = members[g].Count;
            if (rows < count)
                return;
            var now = new Dictionary<int, int>();
            foreach (int r in members[g])
                now[labels[r]] = now.GetValueOrDefault(labels[r]) + 1;
            int largest = now.Values.Max();
            var local = values.AsMemory(starts[g] * d, rows * d);
            float[]? best = null;
            double bestInertia = double.PositiveInfinity;
            for (int t = 0; t < NeighbourhoodTries; t++)
            {
                var model = new KMeans(new KMeansOptions
                {
                    NumberOfClusters = count, Device = ComputeDevice.Cpu, NumberOfThreads = 1, Initialization = KMeansInitialization.KMeansPlusPlus,
                    Seed = (int)(CounterRandom.Derive(seed, (ulong)(g * NeighbourhoodTries + t)) & int.MaxValue),
                }).Fit(local, d);
                var sizes = new int[count];
                foreach (int label in model.Predict(local.Span, d))
                    sizes[label]++;
                int heaviest = sizes.Max();
                if (heaviest < largest || (heaviest == largest && best is not null && model.Inertia < bestInertia))
                {
                    (best, largest, bestInertia) = (model.Centroids.ToArray(), heaviest, model.Inertia);
                }
            }
            if (best is null)
                return;
            for (int i = 0; i < count; i++)
                best.AsSpan(i * d, d).CopyTo(centroids.AsSpan(group[i] * d, d));
            Interlocked.Add(ref moved, count);
        });
        return moved;
    }

    /// <summary>The weight above <paramref name="tolerance"/> times the mean, summed over clusters, as a share of all.</summary>
    private static double Excess(double[] weights, double tolerance)
    {
        double total = weights.Sum(), cap = tolerance * total / weights.Length, excess = 0;
        foreach (double w in weights)
            excess += Math.Max(0, w - cap);
        return total > 0 ? excess / total : 0;
    }

    /// <summary>
    /// Moves the boundary rows of heavy clusters to their nearest cluster that is not heavy, those that lose least first,
    /// until each heavy cluster is down to the target; then every centroid that lost or won rows moves to its new mean
    /// (taking the old centroid as the mean of its old rows). Returns the centroids that moved.
    /// </summary>
    private static int ShiftBoundaries(float[] centroids, int d, IBatchSource source, int[] labels, float[] distances, double[] weights,
        double tolerance, KMeansOptions options, CancellationToken cancellationToken)
    {
        int k = weights.Length;
        double mean = weights.Sum() / k, cap = tolerance * mean, target = (1 + tolerance) / 2 * mean;
        var heavy = new bool[k];
        int heavyCount = 0;
        for (int c = 0; c < k; c++)
        {
            heavy[c] = weights[c] > cap;
            heavyCount += heavy[c] ? 1 : 0;
        }
        if (heavyCount == 0 || heavyCount == k)
            return 0;
        var rows = new List<int>();
        for (int r = 0; r < labels.Length; r++)
            if (heavy[labels[r]])
                rows.Add(r);
        var (vectors, rowWeights) = Gather(source, rows, d, cancellationToken);
        // The nearest centroid that is not heavy, by a model of those centroids alone.
        var others = Enumerable.Range(0, k).Where(c => !heavy[c]).ToArray();
        var otherCentroids = new float[others.Length * d];
        for (int i = 0; i < others.Length; i++)
            centroids.AsSpan(others[i] * d, d).CopyTo(otherCentroids.AsSpan(i * d, d));
        var light = new KMeansModel(otherCentroids, d, options.Distance, 0, 0, false, 0, [], [], "");
        var alternative = new int[rows.Count];
        var alternativeDistance = new float[rows.Count];
        light.Predict(new InMemoryBatchSource(vectors, d), alternative, alternativeDistance, options.Device, cancellationToken);
        // Least loss first, ties to the lower row (rows are in increasing order).
        var order = Enumerable.Range(0, rows.Count).ToArray();
        var loss = order.Select(i => (double)alternativeDistance[i] - distances[rows[i]]).ToArray();
        Array.Sort(order, (a, b) => loss[a] != loss[b] ? loss[a].CompareTo(loss[b]) : a.CompareTo(b));
        var now = weights.ToArray();
        // Only the centroids that give or take rows change: their sums of moved rows, by centroid.
        var shifts = new Dictionary<int, double[]>();
        foreach (int i in order)
        {
            int from = labels[rows[i]], to = others[alternative[i]];
            double w = rowWeights[i];
            if (!(now[from] - w >= target) || now[to] + w > target)
                continue;
            now[from] -= w;
            now[to] += w;
            var x = vectors.AsSpan(i * d, d);
            var given = Sums(from);
            var taken = Sums(to);
            for (int j = 0; j < d; j++)
            {
                given[j] -= w * x[j];
                taken[j] += w * x[j];
            }
        }
        double[] Sums(int c)
        {
            if (!shifts.TryGetValue(c, out var sum))
                shifts[c] = sum = new double[d];
            return sum;
        }
        int moved = 0;
        foreach (var (c, sum) in shifts.OrderBy(p => p.Key))
        {
            if (now[c] == weights[c] || !(now[c] > 0))
                continue;
            moved++;
            for (int j = 0; j < d; j++)
                centroids[(long)c * d + j] = (float)((centroids[(long)c * d + j] * weights[c] + sum[j]) / now[c]);
        }
        return moved;
    }

    /// <summary>The listed rows' values and weights (1 without weights), in the listed order, from one pass.</summary>
    private static (float[] Rows, float[] Weights) Gather(IBatchSource source, List<int> rows, int d, CancellationToken cancellationToken)
    {
        var values = new float[(long)rows.Count * d];
        var weights = new float[rows.Count];
        var wanted = rows.Select((row, i) => (row, i)).OrderBy(p => p.row).ToArray();
        int next = 0;
        // The rows under the fit's centring, each wanted one mapped as it is copied: not every row of the pass.
        using var reader = RowMappingBatchSource.Unwrap(source, out var maps).OpenReader();
        while (next < wanted.Length && reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var w = batch.Weights.Span;
            while (next < wanted.Length && wanted[next].row < batch.FirstRow + batch.RowCount)
            {
                int at = (int)(wanted[next].row - batch.FirstRow), to = wanted[next].i;
                RowMappingBatchSource.CopyMapped(maps, batch.Rows.Span.Slice(at * d, d), values.AsSpan(to * d, d), wanted[next].row);
                weights[to] = w.IsEmpty ? 1 : w[at];
                next++;
            }
        }
        return (values, weights);
    }

    /// <summary>
    /// Moves the centroids of light clusters onto rows of heavy ones, splitting them: the heaviest clusters above the
    /// tolerance times the mean, each taking as many centroids as it needs to come within it, from the lightest clusters
    /// (those below the mean), at most <paramref name="limit"/> of them, the heaviest clusters served first. The rows are
    /// drawn uniformly from each heavy cluster by counter-based randomness. Returns the centroids moved.
    /// </summary>
    private static int MoveLightIntoHeavy(float[] centroids, int d, IBatchSource source, int[] labels, double[] weights,
        double tolerance, int limit, ulong seed, CancellationToken cancellationToken)
    {
        int k = weights.Length;
        double mean = weights.Sum() / k;
        var heavy = Enumerable.Range(0, k).Where(c => weights[c] > tolerance * mean).OrderByDescending(c => weights[c]).ThenBy(c => c).ToList();
        if (heavy.Count == 0)
            return 0;
        var quota = heavy.ToDictionary(c => c, c => Math.Max(1, (int)Math.Ceiling(weights[c] / (tolerance * mean)) - 1));
        var light = Enumerable.Range(0, k).Where(c => weights[c] < mean && !quota.ContainsKey(c)).OrderBy(c => weights[c]).ThenBy(c => c)
            .Take(Math.Min(limit, quota.Values.Sum())).ToList();
        if (light.Count == 0)
            return 0;
        var members = heavy.ToDictionary(c => c, _ => new List<int>());
        for (int r = 0; r < labels.Length; r++)
            if (members.TryGetValue(labels[r], out var list))
                list.Add(r);
        // Round-robin over the heavy clusters, heaviest first, each up to its quota.
        var targets = new List<int>();
        ulong counter = 0;
        for (int turn = 0; targets.Count < light.Count; turn++)
        {
            bool any = false;
            foreach (int c in heavy)
            {
                if (turn < quota[c] && targets.Count < light.Count)
                {
                    var rows = members[c];
                    targets.Add(rows[(int)(CounterRandom.Uniform(seed, counter++) * rows.Count)]);
                    any = true;
                }
            }
            if (!any)
                break;
        }
        var (gathered, _) = Gather(source, targets, d, cancellationToken);
        for (int i = 0; i < targets.Count; i++)
            gathered.AsSpan(i * d, d).CopyTo(centroids.AsSpan(light[i] * d, d));
        return targets.Count;
    }

    /// <summary>Each mesocluster's rows (and weights, where the source has them), gathered in row order from one pass.</summary>
    private static (float[][] Rows, float[]?[] Weights) Split(IBatchSource source, int[] labels, int count, CancellationToken cancellationToken)
    {
        int d = source.Dimension;
        var sizes = new int[count];
        foreach (int label in labels)
            sizes[label]++;
        var rows = sizes.Select(s => new float[(long)s * d]).ToArray();
        var weights = sizes.Select(s => source.HasWeights ? new float[s] : null).ToArray();
        var filled = new int[count];
        // The rows under the fit's centring, each mapped in its mesocluster's array (one copy, where reading through the
        // centring source copies every batch once more).
        using var reader = RowMappingBatchSource.Unwrap(source, out var maps).OpenReader();
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var values = batch.Rows.Span;
            var w = batch.Weights.Span;
            for (int i = 0; i < batch.RowCount; i++)
            {
                int m = labels[batch.FirstRow + i], at = filled[m]++;
                RowMappingBatchSource.CopyMapped(maps, values.Slice(i * d, d), rows[m].AsSpan(at * d, d), batch.FirstRow + i);
                if (weights[m] is { } mw)
                    mw[at] = w.IsEmpty ? 1f : w[i];
            }
        }
        return (rows, weights);
    }

    /// <summary>
    /// K split over the mesoclusters in proportion to their weights by largest remainders, each share between 1 (for a
    /// mesocluster of positive weight) and its usable rows; the shares sum to K.
    /// </summary>
    internal static int[] Shares(double[] weights, int[] usable, int k)
    {
        int m = weights.Length;
        double total = weights.Sum();
        var shares = new int[m];
        var remainders = new double[m];
        for (int i = 0; i < m; i++)
        {
            double exact = total > 0 ? k * weights[i] / total : 0;
            shares[i] = Math.Min(usable[i], Math.Max(weights[i] > 0 && usable[i] > 0 ? 1 : 0, (int)Math.Floor(exact)));
            remainders[i] = exact - shares[i];
        }
        int assigned = shares.Sum();
        // Too many (the minimum of 1 pushed it over): take back from the largest shares above their exact value.
        while (assigned > k)
        {
            int i = Enumerable.Range(0, m).Where(j => shares[j] > 1).OrderBy(j => remainders[j]).First();
            shares[i]--;
            remainders[i]++;
            assigned--;
        }
        // Too few: give to the largest remainders that have rows to spare.
        while (assigned < k)
        {
            int i = Enumerable.Range(0, m).Where(j => shares[j] < usable[j]).OrderByDescending(j => remainders[j]).ThenBy(j => j).First();
            shares[i]++;
            remainders[i]--;
            assigned++;
        }
        return shares;
    }
}
