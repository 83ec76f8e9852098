using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Tests;

/// <summary>
/// A source that gives a later pass other rows than the validation pass saw: every way of changing must fail
/// with an <see cref="InvalidDataException"/> that says how, and never yield a model.
/// </summary>
[TestClass]
public sealed class DataChangeTests
{
    public enum Change { OneRowFewer, HalfTheRows, NaNAfterValidation, OneRowMore, NegativeWeight }

    /// <summary>Rows in batches of 500; from pass <see cref="ChangeFrom"/> on (1-based), the change applies.</summary>
    internal sealed class ChangingSource(float[] data, int d, Change change, bool weighted) : IBatchSource
    {
        private int _passes;

        public int ChangeFrom { get; init; } = 2;

        public int Dimension => d;

        public long? RowCount => null;

        public bool HasWeights => weighted;

        public IBatchReader OpenReader()
        {
            int pass = Interlocked.Increment(ref _passes);
            var rows = data;
            if (pass >= ChangeFrom)
            {
                rows = change switch
                {
                    Change.OneRowFewer => data[..^d],
                    Change.HalfTheRows => data[..(data.Length / d / 2 * d)],
                    Change.OneRowMore => [.. data, .. data[..d]],
                    _ => (float[])data.Clone(),
                };
                if (change == Change.NaNAfterValidation)
                    rows[777 * d + 1] = float.NaN;
            }
            int n = rows.Length / d;
            var weights = Enumerable.Repeat(1f, n).ToArray();
            if (pass >= ChangeFrom && change == Change.NegativeWeight)
                weights[901] = -1;
            var batches = new List<DataBatch>();
            for (int first = 0; first < n; first += 500)
            {
                int count = Math.Min(500, n - first);
                batches.Add(new DataBatch(first, rows.AsMemory(first * d, count * d), d, weighted ? weights.AsMemory(first, count) : default));
            }
            return new ListReader(batches);
        }

        private sealed class ListReader(List<DataBatch> batches) : IBatchReader
        {
            private int _next;

            public bool TryRead(out DataBatch batch)
            {
                batch = _next < batches.Count ? batches[_next++] : default;
                return _next <= batches.Count && batch.Dimension > 0;
            }

            public void Dispose() { }
        }
    }

    internal static void AssertChangeIsReported(Func<IBatchSource, KMeansModel> fit, Change change)
    {
        int d = 4;
        var data = TestData.Blobs(3000, d, centers: 5, spread: 5, seed: 2);
        var source = new ChangingSource(data, d, change, weighted: change == Change.NegativeWeight);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => fit(source), $"{change} gave a model");
        StringAssert.Contains(e.Message, "changed between passes");
        string detail = change switch
        {
            // A partial read (a seeding row fetched) may come first: the pass number is the first to show it.
            Change.OneRowFewer => @"pass 1 read 3000 rows, pass \d+ only 2999",
            Change.HalfTheRows => @"pass 1 read 3000 rows, pass \d+ only 1500",
            Change.OneRowMore => @"pass 1 read 3000 rows, pass \d+ at least 3001",
            Change.NaNAfterValidation => @"on pass \d+ row 777 has NaN at feature 1",
            _ => @"on pass \d+ row 901 has weight -1",
        };
        StringAssert.Matches(e.Message, new System.Text.RegularExpressions.Regex(detail));
    }

    [TestMethod]
    [DataRow(Change.OneRowFewer), DataRow(Change.HalfTheRows), DataRow(Change.NaNAfterValidation), DataRow(Change.OneRowMore), DataRow(Change.NegativeWeight)]
    public void A_later_pass_that_differs_fails_the_fit(Change change) =>
        AssertChangeIsReported(source => new KMeans(new KMeansOptions { NumberOfClusters = 5, Device = ComputeDevice.Cpu, NumberOfThreads = 2 }).Fit(source), change);

    [TestMethod]
    public void A_change_in_a_later_Lloyd_pass_fails_the_fit_too()
    {
        int d = 3;
        var data = TestData.Blobs(2000, d, centers: 4, spread: 5, seed: 9);
        // Passes 1-4 are validation, seeding and the first steps; the change comes mid-fit.
        var source = new ChangingSource(data, d, Change.OneRowFewer, weighted: false) { ChangeFrom = 6 };
        var options = new KMeansOptions { NumberOfClusters = 4, Device = ComputeDevice.Cpu, MaximumNumberOfIterations = 50, OptimizationTolerance = 0 };
        var e = Assert.ThrowsExactly<InvalidDataException>(() => new KMeans(options).Fit(source));
        StringAssert.Matches(e.Message, new System.Text.RegularExpressions.Regex(@"pass 1 read 2000 rows, pass \d+ only 1999"));
    }

    [TestMethod]
    public void A_fault_in_a_worker_thread_reaches_the_caller_unwrapped()
    {
        int d = 4;
        var data = TestData.Gaussian(40_000, d, seed: 1);
        var options = new KMeansOptions { NumberOfClusters = 3, Device = ComputeDevice.Cpu, NumberOfThreads = 2 };
        var model = new KMeans(options).Fit(data, d);
        // Scoring splits rows over worker threads; a cancelled token must surface as itself, not wrapped.
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsExactly<OperationCanceledException>(() => new KMeans(options).Fit(data.AsMemory(), d, cancellationToken: cancelled.Token));
        var fault = new InvalidOperationException("from a worker");
        var thrown = Assert.ThrowsExactly<InvalidOperationException>(() =>
            new Threading.ChunkedParallel(2).For(40_000, (_, first, _) => { if (first >= 20_000) throw fault; }, CancellationToken.None));
        Assert.AreSame(fault, thrown);
    }
}
