using FlashKMeans.Clustering;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Engine;

namespace FlashKMeans.Tests;

/// <summary>
/// Seeding's pruning (<see cref="SeedDistancePruning"/>) must never change a bit: every round's potential, every
/// greedy k-means++ candidate's potential, every row's seeding distance and nearest seed, the seeds k-means‖ and
/// k-means++ pick and the fitted model are the same as the unpruned path's, at any thread count and batch layout.
/// </summary>
[TestClass]
public sealed class SeedPruningTests
{
    private const int Rounds = 5;

    public static IEnumerable<object[]> Shapes()
    {
        int seed = 0;
        foreach (int d in new[] { 1, 3, 17, 64, 128 })
            foreach (int k in new[] { 2, 10, 100, 1000 })
                foreach (bool blobs in new[] { true, false })
                {
                    seed++;
                    // Odd row counts, so that chunk and batch edges fall mid-way; weights on every other shape.
                    yield return [d, k, blobs, seed % 2 == 0, seed];
                }
    }

    public static string ShapeName(System.Reflection.MethodInfo _, object?[]? row) =>
        row is null ? "" : $"d={row[0]}, K={row[1]}, {((bool)row[2]! ? "blobs" : "gaussian")}, {((bool)row[3]! ? "weighted" : "unweighted")}";

    [TestMethod]
    [DynamicData(nameof(Shapes), DynamicDataDisplayName = nameof(ShapeName))]
    public void Every_round_is_bit_identical_with_seed_pruning_on_and_off(int d, int k, bool blobs, bool weighted, int seed)
    {
        int n = Math.Max(3 * k, 2500) + 2 * seed + 1;
        var data = blobs ? TestData.Blobs(n, d, centers: Math.Max(2, k / 2), spread: 6, seed: 1000 + seed) : TestData.Gaussian(n, d, seed: 1000 + seed);
        var weights = weighted ? RandomWeights(n, seed) : null;
        var reference = Rounds_(data, d, weights, k, threads: 1, batchRows: null, pruning: false, seed);
        foreach (int threads in new[] { 1, 2, 4 })
        {
            foreach (int? batchRows in new int?[] { null, 1777 })
            {
                var pruned = Rounds_(data, d, weights, k, threads, batchRows, pruning: true, seed);
                string context = $"{threads} threads, {(batchRows is null ? "one batch" : $"batches of {batchRows}")}";
                Assert.AreEqual(reference.Count, pruned.Count, context);
                for (int r = 0; r < reference.Count; r++)
                {
                    Assert.AreEqual(reference[r].Potential, pruned[r].Potential, $"potential, update {r}, {context}");
                    CollectionAssert.AreEqual(reference[r].Distances, pruned[r].Distances, $"distances, update {r}, {context}");
                    CollectionAssert.AreEqual(reference[r].Owners, pruned[r].Owners, $"owners, update {r}, {context}");
                }
            }
        }
    }

    [TestMethod]
    [DynamicData(nameof(Shapes), DynamicDataDisplayName = nameof(ShapeName))]
    public void Every_greedy_k_means_plus_plus_step_is_bit_identical_with_seed_pruning_on_and_off(int d, int k, bool blobs, bool weighted, int seed)
    {
        int n = Math.Max(3 * k, 2500) + 2 * seed + 1;
        var data = blobs ? TestData.Blobs(n, d, centers: Math.Max(2, k / 2), spread: 6, seed: 2000 + seed) : TestData.Gaussian(n, d, seed: 2000 + seed);
        var weights = weighted ? RandomWeights(n, seed) : null;
        int steps = Math.Min(k, 60), trials = 2 + (int)Math.Log(k);
        var reference = GreedySteps(data, d, weights, k, steps, trials, threads: 1, batchRows: null, pruning: false, seed);
        foreach (int threads in new[] { 1, 2, 4 })
        {
            foreach (int? batchRows in new int?[] { null, 1777 })
            {
                var pruned = GreedySteps(data, d, weights, k, steps, trials, threads, batchRows, pruning: true, seed);
                AssertSameSteps(reference, pruned, $"{threads} threads, {(batchRows is null ? "one batch" : $"batches of {batchRows}")}");
            }
        }
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(3)]
    [DataRow(4)]
    [DataRow(5)]
    [DataRow(9)]
    [DataRow(16)]
    [DataRow(17)]
    public void Greedy_steps_with_any_number_of_trials_are_bit_identical_with_seed_pruning(int trials)
    {
        // Candidate counts around the packings' widths (4, 8, 16 lanes) and the register-held sums (8).
        foreach (var (d, weighted) in new[] { (7, false), (64, true) })
        {
            int k = 40, n = 3001;
            var data = TestData.Blobs(n, d, centers: k, spread: 8, seed: trials * 10 + d);
            var weights = weighted ? RandomWeights(n, trials) : null;
            var reference = GreedySteps(data, d, weights, k, k, trials, threads: 1, batchRows: null, pruning: false, seed: trials);
            foreach (int threads in new[] { 1, 2 })
            {
                var pruned = GreedySteps(data, d, weights, k, k, trials, threads, batchRows: 1000, pruning: true, seed: trials);
                AssertSameSteps(reference, pruned, $"d {d}, {trials} trials, {threads} threads");
            }
        }
    }

    [TestMethod]
    [DataRow(128, 300, true, false)]
    [DataRow(128, 100, false, true)]
    [DataRow(17, 100, true, true)]
    [DataRow(64, 1000, true, true)]
    [DataRow(3, 10, false, true)]
    [DataRow(1, 2, false, false)]
    [DataRow(64, 100, false, true)]
    public void Fits_seeded_by_k_means_plus_plus_are_bit_identical_with_seed_pruning(int d, int k, bool blobs, bool weighted)
    {
        int n = Math.Max(3 * k, 3000) + 5;
        for (int seed = 0; seed < 2; seed++)
        {
            var data = blobs ? TestData.Blobs(n, d, centers: k, spread: 5, seed: seed + 3 * d) : TestData.Gaussian(n, d, seed: seed + 3 * d);
            var weights = weighted ? RandomWeights(n, seed + 2 * k) : null;
            var reference = Fit(new InMemoryBatchSource(data, d, weights ?? default(ReadOnlyMemory<float>)), k, threads: 1, pruning: false, seed,
                KMeansInitialization.KMeansPlusPlus);
            foreach (int threads in new[] { 1, 2, 4 })
            {
                foreach (int? batchRows in new int?[] { null, 999 })
                {
                    var source = new InMemoryBatchSource(data, d, weights ?? default(ReadOnlyMemory<float>), batchRows);
                    FitAssert.Identical(reference, Fit(source, k, threads, pruning: true, seed, KMeansInitialization.KMeansPlusPlus),
                        $"seed {seed}, {threads} threads, {(batchRows is null ? "one batch" : $"batches of {batchRows}")}");
                }
            }
        }
    }

    [TestMethod]
    [DataRow(128, 1000, true, false)]
    [DataRow(17, 100, true, true)]
    [DataRow(3, 10, false, true)]
    [DataRow(1, 2, false, false)]
    [DataRow(64, 100, false, true)]
    public void Fits_seeded_by_k_means_parallel_are_bit_identical_with_seed_pruning(int d, int k, bool blobs, bool weighted)
    {
        int n = Math.Max(4 * k, 3000) + 7;
        for (int seed = 0; seed < 3; seed++)
        {
            var data = blobs ? TestData.Blobs(n, d, centers: k, spread: 5, seed: seed + d) : TestData.Gaussian(n, d, seed: seed + d);
            var weights = weighted ? RandomWeights(n, seed + k) : null;
            var reference = Fit(new InMemoryBatchSource(data, d, weights ?? default(ReadOnlyMemory<float>)), k, threads: 1, pruning: false, seed);
            foreach (int threads in new[] { 1, 2, 4 })
            {
                foreach (int? batchRows in new int?[] { null, 999 })
                {
                    var source = new InMemoryBatchSource(data, d, weights ?? default(ReadOnlyMemory<float>), batchRows);
                    FitAssert.Identical(reference, Fit(source, k, threads, pruning: true, seed),
                        $"seed {seed}, {threads} threads, {(batchRows is null ? "one batch" : $"batches of {batchRows}")}");
                }
            }
        }
    }

    [TestMethod]
    public void Awkward_data_is_bit_identical_with_seed_pruning()
    {
        int d = 9, k = 40;
        var blobs = TestData.Blobs(3000, d, centers: 20, spread: 3, seed: 4);
        // Tight clusters far from the origin (the rounding margin dominates), duplicated rows (distances of 0),
        // and rows of very different scales side by side.
        var far = blobs.Select(v => 1e4f + v * 1e-3f).ToArray();
        var duplicated = blobs.Take(1500 * d).Concat(blobs.Take(1500 * d)).ToArray();
        var scales = blobs.Select((v, i) => v * MathF.Pow(10, (i / d) % 7 - 3)).ToArray();
        var big = blobs.Select(v => v * 1e16f).ToArray();
        foreach (var (name, data) in new[] { ("far", far), ("duplicated", duplicated), ("scales", scales), ("big", big) })
        {
            var reference = Fit(new InMemoryBatchSource(data, d), k, threads: 1, pruning: false, seed: 1);
            foreach (int threads in new[] { 1, 2 })
                FitAssert.Identical(reference, Fit(new InMemoryBatchSource(data, d, batchRows: 1234), k, threads, pruning: true, seed: 1), $"{name}, {threads} threads");
            var plusPlus = Fit(new InMemoryBatchSource(data, d), k, threads: 1, pruning: false, seed: 1, KMeansInitialization.KMeansPlusPlus);
            FitAssert.Identical(plusPlus, Fit(new InMemoryBatchSource(data, d), k, threads: 2, pruning: true, seed: 1, KMeansInitialization.KMeansPlusPlus), $"{name}, k-means++");
        }
    }

    [TestMethod]
    public void Seeding_skips_most_of_the_work_on_clustered_data()
    {
        // d = 32: the narrowest rows whose rounds are pruned at all; well-separated blobs keep every later round pruned.
        int d = SeedDistancePruning.MinimumRoundDimension, k = 64, n = 20_001;
        var data = TestData.Blobs(n, d, centers: k, spread: 10, seed: 8);
        var pruning = RunRounds(data, d, k, everyRound: false, seed: 5);
        long computed = pruning.PanelsComputed, skipped = pruning.PanelsSkipped;
        Assert.IsTrue(computed > 0, "pruned rounds ran");
        Assert.IsTrue(skipped > computed, $"skipped {skipped} (row, panel) distances, computed {computed}");
        // The rounds after the first (one earlier seed, not pruned by the rule) stay pruned: they hold most of the pairs a
        // run that prunes every round counts.
        var forced = RunRounds(data, d, k, everyRound: true, seed: 5);
        long all = forced.PanelsComputed + forced.PanelsSkipped;
        Assert.IsTrue(computed + skipped > all / 2, $"the rule pruned rounds of {computed + skipped} pairs, every round {all}");
    }

    [TestMethod]
    public void Rounds_stop_pruning_once_a_round_skips_too_little_and_narrow_rows_never_prune()
    {
        int k = 64, n = 20_001;
        // Unclustered rows: a pruned round rules out little, so the rounds after the first pruned one run unpruned.
        int d = 48;
        var gaussian = TestData.Gaussian(n, d, seed: 11);
        var rule = RunRounds(gaussian, d, k, everyRound: false, seed: 2);
        var forced = RunRounds(gaussian, d, k, everyRound: true, seed: 2);
        long ruled = rule.PanelsComputed + rule.PanelsSkipped, all = forced.PanelsComputed + forced.PanelsSkipped;
        Assert.IsTrue(forced.PanelsSkipped < SeedDistancePruning.MinimumSkippedShare * all, "the data is one where pruning skips little");
        Assert.IsTrue(ruled > 0 && ruled < all / 2, $"the rule pruned {ruled} (row, panel) pairs' worth of rounds, every round {all}");

        // Narrower rows than the limit never prune a round, however clustered.
        d = SeedDistancePruning.MinimumRoundDimension - 1;
        var narrow = RunRounds(TestData.Blobs(n, d, centers: k, spread: 10, seed: 8), d, k, everyRound: false, seed: 5);
        Assert.AreEqual(0L, narrow.PanelsComputed + narrow.PanelsSkipped);
    }

    /// <summary>k-means‖ on <paramref name="data"/> with seed pruning by its rule, or on every round it can serve; the pruning's counts.</summary>
    private static SeedDistancePruning RunRounds(float[] data, int d, int k, bool everyRound, int seed)
    {
        var source = new InMemoryBatchSource(data, d);
        using var binding = new CpuDataBinding(source, DataValidator.Scan(source), k, threads: 2, usePruning: false);
        var pruning = binding.SeedPruning;
        Assert.IsNotNull(pruning, "seed pruning is on by default");
        pruning.PruneEveryRound = everyRound;
        KMeansParallelSeeding.Run(binding, new KMeansOptions { NumberOfClusters = k, NumberOfThreads = 2 }, (ulong)seed, CancellationToken.None);
        return pruning;
    }

    [TestMethod]
    public void Candidate_evaluation_skips_most_rows_on_clustered_data()
    {
        int d = 16, k = 64, n = 20_001;
        var data = TestData.Blobs(n, d, centers: k / 2, spread: 10, seed: 9);
        var source = new InMemoryBatchSource(data, d);
        using var binding = new CpuDataBinding(source, DataValidator.Scan(source), k, threads: 2, usePruning: false);
        var pruning = binding.SeedPruning!;
        KMeansPlusPlusSeeding.Run(binding, k, trials: null, seed: 3, CancellationToken.None);
        long computed = pruning.CandidateRowsComputed, skipped = pruning.CandidateRowsSkipped;
        Assert.AreEqual((long)n * (k - 1), computed + skipped, "every step evaluates every row, pruned or not");
        // A row in a blob with no seed yet must be computed (a candidate may well be nearer), so the first K/2 steps
        // skip about half the rows; once every blob holds a seed, only the candidates' own blobs are computed.
        Assert.IsTrue(skipped > 1.5 * computed, $"skipped {skipped} rows, computed {computed}");
    }

    private sealed record Step(double[] Candidates, double Potential, float[] Distances, int[] Owners);

    /// <summary>
    /// Greedy k-means++ by hand (as <see cref="KMeansPlusPlusSeeding"/> runs it), recording every step's candidate
    /// potentials and, after the winner is committed, the potential, distances and owners.
    /// </summary>
    private static List<Step> GreedySteps(float[] data, int d, float[]? weights, int k, int steps, int trials, int threads, int? batchRows,
        bool pruning, int seed)
    {
        var source = new InMemoryBatchSource(data, d, weights ?? default(ReadOnlyMemory<float>), batchRows);
        using var binding = new CpuDataBinding(source, DataValidator.Scan(source), k, threads, usePruning: false, seedPruning: pruning);
        var result = new List<Step>();
        var first = new float[d];
        binding.GatherRows([seed % binding.RowCount], first, default, CancellationToken.None);
        double potential = binding.UpdateSeedDistances(first, reset: true, CancellationToken.None);
        var targets = new double[trials];
        var rows = new long[trials];
        var candidates = new float[trials * d];
        var random = new Random(seed);
        for (int step = 1; step < steps && potential > 0; step++)
        {
            for (int t = 0; t < trials; t++)
                targets[t] = random.NextDouble() * potential;
            Array.Sort(targets);
            binding.FindRowsAtCumulativePotential(targets, rows, CancellationToken.None);
            binding.GatherRows(rows, candidates, default, CancellationToken.None);
            var potentials = new double[trials];
            binding.EvaluateSeedCandidates(candidates, potentials, CancellationToken.None);
            int best = 0;
            for (int t = 1; t < trials; t++)
                best = potentials[t] < potentials[best] ? t : best;
            potential = binding.UpdateSeedDistances(candidates.AsSpan(best * d, d), reset: false, CancellationToken.None);
            result.Add(new Step(potentials, potential, binding.SeedDistancesForTesting.ToArray(), binding.SeedOwnersForTesting.ToArray()));
        }
        return result;
    }

    private static void AssertSameSteps(List<Step> reference, List<Step> pruned, string context)
    {
        Assert.AreEqual(reference.Count, pruned.Count, context);
        for (int s = 0; s < reference.Count; s++)
        {
            CollectionAssert.AreEqual(reference[s].Candidates, pruned[s].Candidates, $"candidate potentials, step {s}, {context}");
            Assert.AreEqual(reference[s].Potential, pruned[s].Potential, $"potential, step {s}, {context}");
            CollectionAssert.AreEqual(reference[s].Distances, pruned[s].Distances, $"distances, step {s}, {context}");
            CollectionAssert.AreEqual(reference[s].Owners, pruned[s].Owners, $"owners, step {s}, {context}");
        }
    }

    private sealed record Update(double Potential, float[] Distances, int[] Owners);

    /// <summary>
    /// k-means‖'s rounds by hand (first seed, then rows sampled by potential), then a few single-row updates,
    /// recording the potential, distances and owners after each.
    /// </summary>
    private static List<Update> Rounds_(float[] data, int d, float[]? weights, int k, int threads, int? batchRows, bool pruning, int seed)
    {
        var source = new InMemoryBatchSource(data, d, weights ?? default(ReadOnlyMemory<float>), batchRows);
        using var binding = new CpuDataBinding(source, DataValidator.Scan(source), k, threads, usePruning: false, seedPruning: pruning);
        if (binding.SeedPruning is { } seedPruning)
            seedPruning.PruneEveryRound = true;  // every round through the pruned path, whatever its cost
        var updates = new List<Update>();
        void Record(double potential) =>
            updates.Add(new Update(potential, binding.SeedDistancesForTesting.ToArray(), binding.SeedOwnersForTesting.ToArray()));
        var first = new float[d];
        binding.GatherRows([seed % binding.RowCount], first, default, CancellationToken.None);
        double potential = binding.UpdateSeedDistances(first, reset: true, CancellationToken.None);
        Record(potential);
        for (int round = 0; round < Rounds && potential > 0; round++)
        {
            var rows = binding.SampleRowsByPotential(2.0 * k / potential, (ulong)(seed * 31 + round), CancellationToken.None);
            if (rows.Count == 0)
                continue;
            var vectors = new float[rows.Count * d];
            binding.GatherRows(rows.ToArray(), vectors, default, CancellationToken.None);
            potential = binding.UpdateSeedDistances(vectors, reset: false, CancellationToken.None);
            Record(potential);
        }
        var random = new Random(seed);
        for (int single = 0; single < 3; single++)
        {
            var vector = new float[d];
            binding.GatherRows([random.NextInt64(binding.RowCount)], vector, default, CancellationToken.None);
            Record(binding.UpdateSeedDistances(vector, reset: false, CancellationToken.None));
        }
        return updates;
    }

    private static KMeansModel Fit(IBatchSource source, int k, int threads, bool pruning, int seed,
        KMeansInitialization initialization = KMeansInitialization.KMeansParallel) =>
        new KMeans(new KMeansOptions
        {
            NumberOfClusters = k,
            Device = ComputeDevice.Cpu,
            Initialization = initialization,
            MaximumNumberOfIterations = 3,
            OptimizationTolerance = 0,
            NumberOfThreads = threads,
            Seed = seed,
            SeedPruning = pruning,
        }).Fit(source);

    private static float[] RandomWeights(int n, int seed)
    {
        var random = new Random(seed);
        var weights = new float[n];
        for (int i = 0; i < n; i++)
            weights[i] = random.Next(5) == 0 ? 0f : (float)(random.NextDouble() * 3);
        return weights;
    }
}
