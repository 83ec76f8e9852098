using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

/// <summary>An input whose cursors give later passes other rows: the trainer fails, saying so, and returns no model.</summary>
[TestClass]
public sealed class DataChangeTests
{
    private const int D = 3;

    public sealed class Row
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>Enumerates <paramref name="rows"/>; from the second enumeration on, one row fewer.</summary>
    private sealed class ShrinkingRows(Row[] rows) : IEnumerable<Row>
    {
        private int _enumerations;

        public IEnumerator<Row> GetEnumerator()
        {
            int count = Interlocked.Increment(ref _enumerations) == 1 ? rows.Length : rows.Length - 1;
            return rows.Take(count).GetEnumerator();
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [TestMethod]
    public void ACursorThatLosesARowBetweenPassesFailsTheFit()
    {
        var (flat, _) = Blobs.Make(1200, D, centers: 3, spread: 6, seed: 4);
        var rows = Enumerable.Range(0, 1200).Select(i => new Row { Features = flat.AsSpan(i * D, D).ToArray() }).ToArray();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new ShrinkingRows(rows));
        // No cache budget: every pass reads the cursor, as it must for data larger than memory.
        var trainer = ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options
        {
            NumberOfClusters = 3, Device = ComputeDevice.Cpu, DeviceMemoryBudgetMb = null,
        });
        var e = Assert.ThrowsExactly<InvalidDataException>(() => trainer.Fit(data));
        StringAssert.Matches(e.Message, new System.Text.RegularExpressions.Regex(@"changed between passes: pass 1 read 1200 rows, pass \d+ only 1199"));
    }
}
