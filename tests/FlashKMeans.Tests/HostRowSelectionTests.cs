using FlashKMeans.Backends;

namespace FlashKMeans.Tests;

/// <summary>
/// The chunked walk the CUDA bindings use (chunk totals, then rows of the chunks that hold a target)
/// against the whole-array walk of the CPU binding. Integer potentials make every sum exact, so the two
/// must agree row for row; runs here without a GPU.
/// </summary>
[TestClass]
public sealed class HostRowSelectionTests
{
    [TestMethod]
    [DataRow(1, false)]
    [DataRow(7, false)]
    [DataRow(64, true)]
    [DataRow(1000, true)]
    public void Chunked_walk_matches_the_whole_array_walk(int per, bool weighted)
    {
        var random = new Random(per);
        int n = 997;
        var distances = new float[n];
        for (int i = 0; i < n; i++)
            distances[i] = random.Next(4) == 0 ? 0 : random.Next(1, 9);
        float[]? weights = weighted ? Enumerable.Range(0, n).Select(_ => (float)random.Next(0, 3)).ToArray() : null;
        double total = 0;
        for (int i = 0; i < n; i++)
            total += (weights?[i] ?? 1f) * distances[i];
        // Targets across the range, some equal to a running sum, some beyond the total.
        var targets = Enumerable.Range(0, 50).Select(_ => Math.Floor(random.NextDouble() * total)).Append(total).Append(total + 1).Order().ToArray();

        var expected = new long[targets.Length];
        HostRowSelection.RowsAtCumulativePotential(distances, weights, targets, expected);

        int chunks = (n + per - 1) / per;
        var totals = new double[chunks];
        for (int c = 0; c < chunks; c++)
            for (int i = c * per; i < Math.Min(n, (c + 1) * per); i++)
                totals[c] += (weights?[i] ?? 1f) * distances[i];
        var actual = new long[targets.Length];
        int next = HostRowSelection.WalkChunks(totals, per, n, weights, targets, actual,
            (first, destination) => distances.AsSpan((int)first, destination.Length).CopyTo(destination));
        HostRowSelection.FillRemaining(targets, actual, next, HostRowSelection.LastPositiveRow(distances, weights));

        CollectionAssert.AreEqual(expected, actual);
        Assert.IsTrue(expected[^1] >= 0 && expected[^1] == HostRowSelection.LastPositiveRow(distances, weights));
    }

    [TestMethod]
    public void Farthest_rows_break_ties_to_the_lower_row_and_skip_unassigned_or_weightless_rows()
    {
        int[] labels = [0, 1, -1, 0, 1, 0];
        float[] distances = [5, 9, 99, 9, 7, 9];
        float[] weights = [1, 1, 1, 1, 1, 0];
        var rows = HostRowSelection.FarthestRows(labels, distances, weights, 3).Select(r => r.Row).ToArray();
        CollectionAssert.AreEqual(new long[] { 1, 3, 4 }, rows);
    }
}
