using FlashKMeans.Clustering;

namespace FlashKMeans.Tests.Cuda;

/// <summary>A source that changes between passes fails a GPU fit as it fails a CPU fit, resident or streamed.</summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class DataChangeGpuTests : GpuTestClass
{
    [TestMethod]
    [DataRow(DataChangeTests.Change.OneRowFewer, GpuDataMode.InMemory), DataRow(DataChangeTests.Change.OneRowMore, GpuDataMode.InMemory)]
    [DataRow(DataChangeTests.Change.NaNAfterValidation, GpuDataMode.InMemory), DataRow(DataChangeTests.Change.OneRowFewer, GpuDataMode.Streaming)]
    [DataRow(DataChangeTests.Change.OneRowMore, GpuDataMode.Streaming), DataRow(DataChangeTests.Change.NaNAfterValidation, GpuDataMode.Streaming)]
    [DataRow(DataChangeTests.Change.NegativeWeight, GpuDataMode.Streaming)]
    public void A_later_pass_that_differs_fails_the_fit(DataChangeTests.Change change, GpuDataMode mode) =>
        DataChangeTests.AssertChangeIsReported(source => new KMeans(new KMeansOptions
        {
            NumberOfClusters = 5, Device = ComputeDevice.Cuda, DataMode = mode, StreamingBatchRows = mode == GpuDataMode.Streaming ? 700 : null,
        }).Fit(source), change);
}
