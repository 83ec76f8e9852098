using FlashKMeans.Cpu;
using FlashKMeans.Data;

namespace FlashKMeans.Tests;

/// <summary>
/// The CPU binding maps the rows of a centring, scaling or normalising source (<see cref="RowMappingBatchSource"/>) slice
/// by slice as it reads them: every pass must give exactly what it gives over a copy of the rows mapped beforehand, for
/// the chunk sums (K ≤ 256) and the grouped sums (K > 256), pruned and not, and for seeding, gathering and labelling.
/// </summary>
[TestClass]
public sealed class MappedRowsTests
{
    [TestMethod]
    [DataRow(17, 9, false)]
    [DataRow(40, 300, false)]
    [DataRow(33, 64, true)]
    [DataRow(5, 260, true)]
    public void Passes_over_a_mapping_source_equal_passes_over_the_mapped_rows(int d, int k, bool pruning)
    {
        int n = 5003;
        var raw = TestData.Offset(TestData.Blobs(n, d, centers: 12, spread: 3, seed: d + k), 1e3);
        var weights = Enumerable.Range(0, n).Select(i => i % 7 == 0 ? 0f : 1 + i % 4).ToArray();
        var shift = Reference.Mean(raw, d).Select(v => (float)v).ToArray();
        var scale = Enumerable.Range(0, d).Select(j => 0.5f + j % 3).ToArray();
        // Centred, then each feature scaled: two mappings, applied innermost first.
        var mapped = new FeatureScaledBatchSource(new ShiftedBatchSource(new InMemoryBatchSource(raw, d, weights, batchRows: 2222), shift), scale);
        var copy = raw.ToArray();
        ShiftedBatchSource.Subtract(copy, shift);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++)
                copy[r * d + j] *= scale[j];
        var plain = new InMemoryBatchSource(copy, d, weights, batchRows: 1777);

        using var a = new CpuDataBinding(mapped, DataValidator.Scan(mapped), k, threads: 2, usePruning: pruning);
        using var b = new CpuDataBinding(plain, DataValidator.Scan(plain), k, threads: 2, usePruning: pruning);

        // Seeding: a first row, a round of sampled rows, candidates, a committed candidate.
        var first = new float[d];
        var firstCopy = new float[d];
        a.GatherRows([123], first, default, CancellationToken.None);
        b.GatherRows([123], firstCopy, default, CancellationToken.None);
        CollectionAssert.AreEqual(firstCopy, first, "gathered row");
        Assert.AreEqual(b.UpdateSeedDistances(firstCopy, true, CancellationToken.None), a.UpdateSeedDistances(first, true, CancellationToken.None));
        long[] sampled = [5002, 7, 2500, 99, 4001, 1000, 2222, 1777];
        var seeds = new float[sampled.Length * d];
        var seedsCopy = new float[sampled.Length * d];
        a.GatherRows(sampled, seeds, default, CancellationToken.None);
        b.GatherRows(sampled, seedsCopy, default, CancellationToken.None);
        CollectionAssert.AreEqual(seedsCopy, seeds, "gathered rows");
        Assert.AreEqual(b.UpdateSeedDistances(seedsCopy, false, CancellationToken.None), a.UpdateSeedDistances(seeds, false, CancellationToken.None));
        CollectionAssert.AreEqual(b.SeedDistancesForTesting.ToArray(), a.SeedDistancesForTesting.ToArray(), "seeding distances");
        var potentials = new double[3];
        var potentialsCopy = new double[3];
        a.EvaluateSeedCandidates(seeds.AsSpan(0, 3 * d), potentials, CancellationToken.None);
        b.EvaluateSeedCandidates(seedsCopy.AsSpan(0, 3 * d), potentialsCopy, CancellationToken.None);
        CollectionAssert.AreEqual(potentialsCopy, potentials, "candidate potentials");

        // Lloyd steps from the same centroids, then the final evaluation and a labelling.
        var start = copy.AsSpan(0, k * d).ToArray();
        a.SetCentroids(start);
        b.SetCentroids(start);
        for (int step = 0; step < 3; step++)
            Assert.AreEqual(b.Step(false, CancellationToken.None), a.Step(false, CancellationToken.None), $"step {step}");
        CollectionAssert.AreEqual(b.LabelsForTesting.ToArray(), a.LabelsForTesting.ToArray(), "labels");
        CollectionAssert.AreEqual(b.DistancesForTesting.ToArray(), a.DistancesForTesting.ToArray(), "distances");
        var centroids = new float[k * d];
        var centroidsCopy = new float[k * d];
        a.GetCentroids(centroids);
        b.GetCentroids(centroidsCopy);
        CollectionAssert.AreEqual(centroidsCopy, centroids, "centroids");
        Assert.AreEqual(b.Evaluate(centroidsCopy, new double[k], CancellationToken.None), a.Evaluate(centroids, new double[k], CancellationToken.None));
        var labels = new int[n];
        var labelsCopy = new int[n];
        ((Backends.IReusableRowsBinding)a).Label(centroids, labels, CancellationToken.None);
        ((Backends.IReusableRowsBinding)b).Label(centroidsCopy, labelsCopy, CancellationToken.None);
        CollectionAssert.AreEqual(labelsCopy, labels, "labelling");
    }

    [TestMethod]
    public void Reading_a_mapping_source_serves_the_mapped_rows_in_order()
    {
        // Batches of the mapping source's own size (16,384 rows), each mapped in slices on every core.
        int n = 40_003, d = 24;
        var raw = TestData.Offset(TestData.Gaussian(n, d, seed: 6), 1e3);
        var weights = Enumerable.Range(0, n).Select(i => (float)(i % 9)).ToArray();
        var shift = Reference.Mean(raw, d);
        var mapping = new UnitLengthBatchSource(new ShiftedBatchSource(new InMemoryBatchSource(raw, d, weights, batchRows: 30_000), shift));
        var expected = raw.ToArray();
        ShiftedBatchSource.Subtract(expected, shift);
        for (int r = 0; r < n; r++)
            UnitLengthBatchSource.Normalize(expected.AsSpan(r * d, d), r);
        var served = new List<float>();
        var servedWeights = new List<float>();
        long next = 0;
        using (var reader = mapping.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                Assert.AreEqual(next, batch.FirstRow);
                next += batch.RowCount;
                served.AddRange(batch.Rows.ToArray());
                servedWeights.AddRange(batch.Weights.ToArray());
            }
        }
        CollectionAssert.AreEqual(expected, served.ToArray());
        CollectionAssert.AreEqual(weights, servedWeights.ToArray());
    }
}
