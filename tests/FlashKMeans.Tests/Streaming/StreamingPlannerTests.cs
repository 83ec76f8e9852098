using FlashKMeans.Cuda.Streaming;

namespace FlashKMeans.Tests.Streaming;

[TestClass]
public sealed class StreamingPlannerTests
{
    private const long GiB = 1L << 30;

    [TestMethod]
    public void Auto_keeps_data_that_fits_resident()
    {
        var plan = StreamingPlanner.Plan(1 << 20, 256, 256, 80 * GiB, GpuDataMode.Auto, null, 3, null);
        Assert.AreEqual(GpuDataMode.InMemory, plan.Mode);
        StringAssert.Contains(plan.Reason, "fits");
    }

    [TestMethod]
    public void Auto_caches_what_fits_and_streams_the_rest_when_the_data_is_too_large()
    {
        // 268M rows × 256 B = 64 GiB against 40 GiB free.
        long rows = 268_435_456;
        var plan = StreamingPlanner.Plan(rows, 256, 256, 40 * GiB, GpuDataMode.Auto, null, 3, null);
        Assert.AreEqual(GpuDataMode.Cached, plan.Mode);
        Assert.IsTrue(plan.CachedBatches > 0 && plan.CachedBatches < plan.BatchCount, plan.Reason);
        long used = plan.CachedBatches * plan.BatchRows * 256L + rows * StreamingPlanner.StreamedStateBytesPerRow;
        Assert.IsTrue(used <= 40 * GiB * 0.9, plan.Reason);
        StringAssert.Contains(plan.Reason, "does not fit");
    }

    [TestMethod]
    public void Budget_limits_the_cache_and_streaming_caches_nothing()
    {
        var budget = StreamingPlanner.Plan(1 << 20, 256, 256, 80 * GiB, GpuDataMode.Cached, 1000, 4, 10 * 1000 * 256L + 5);
        Assert.AreEqual(GpuDataMode.Cached, budget.Mode);
        Assert.AreEqual(10, budget.CachedBatches);
        Assert.AreEqual(4, budget.RingDepth);
        Assert.AreEqual(((1 << 20) + 999) / 1000, budget.BatchCount);
        var all = StreamingPlanner.Plan(1 << 20, 256, 256, 80 * GiB, GpuDataMode.Cached, 1000, 3, null);
        Assert.AreEqual(all.BatchCount, all.CachedBatches);
        var none = StreamingPlanner.Plan(1 << 20, 256, 256, 80 * GiB, GpuDataMode.Streaming, 1000, 3, null);
        Assert.AreEqual(0, none.CachedBatches);
    }

    [TestMethod]
    [DataRow(1L, null, 1)]            // one row
    [DataRow(1000L, 5000, 1000)]      // a batch larger than N is cut to N
    [DataRow(1000L, 7, 7)]            // a batch that does not divide N
    [DataRow(10_000_000L, null, 262_144)] // default: 64 MiB of 256-byte rows
    public void Batch_rows_fit_the_data(long rows, int? batchRows, int expected)
    {
        var plan = StreamingPlanner.Plan(rows, 256, 256, 80 * GiB, GpuDataMode.Streaming, batchRows, 3, null);
        Assert.AreEqual(expected, plan.BatchRows);
        Assert.AreEqual((rows + expected - 1) / expected, plan.BatchCount);
    }

    [TestMethod]
    public void A_ring_of_fewer_than_three_is_rejected()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => StreamingPlanner.Plan(100, 256, 256, GiB, GpuDataMode.Streaming, null, 2, null));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KMeansOptions { StreamingRingDepth = 2 }.Validate());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KMeansOptions { StreamingBatchRows = 0 }.Validate());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KMeansOptions { DeviceMemoryBudget = -1 }.Validate());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KMeansOptions { DataMode = (GpuDataMode)42 }.Validate());
    }
}
