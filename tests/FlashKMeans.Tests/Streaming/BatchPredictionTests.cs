using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Streaming;

/// <summary>Keeps what an <see cref="IPredictionSink"/> is handed, and checks it arrives in row order without gaps.</summary>
internal sealed class RecordingSink(int failAtBatch = -1) : IPredictionSink
{
    public List<int> Labels { get; } = [];
    public List<float> Distances { get; } = [];
    public int Batches { get; private set; }

    public void Write(long firstRow, ReadOnlySpan<int> labels, ReadOnlySpan<float> distances)
    {
        if (Batches == failAtBatch)
            throw new IOException($"sink full at row {firstRow}");
        Assert.AreEqual(Labels.Count, firstRow, "batches in row order, no gaps");
        Labels.AddRange(labels.ToArray());
        Distances.AddRange(distances.ToArray());
        Batches++;
    }
}

/// <summary>
/// Prediction over batch sources on the CPU backend, through the same overloads the GPU streams: labels into a
/// span, labels and distances, or batch by batch into a sink.
/// </summary>
[TestClass]
public sealed class BatchPredictionTests
{
    private static KMeansModel Fit(float[] data, int d, int k, KMeansDistance distance = KMeansDistance.SquaredEuclidean) =>
        new KMeans(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu, Seed = 3, Distance = distance, MaximumNumberOfIterations = 5 }).Fit(data, d);

    [TestMethod]
    [DataRow(1, 1, 1)]        // one row
    [DataRow(1000, 7, 9)]     // batches that do not divide N
    [DataRow(1000, 5000, 4)]  // a batch larger than N
    [DataRow(4097, 512, 33)]
    public void A_sink_receives_the_labels_and_distances_of_predict_on_the_array(int n, int batchRows, int k)
    {
        int d = 11;
        var data = TestData.Blobs(n, d, centers: k, spread: 3, seed: n);
        var model = Fit(data, d, Math.Min(k, n));
        var expected = model.Predict(data, d);
        var sink = new RecordingSink();
        long rows = model.Predict(new ForwardOnlySource(data, d, batchRows), sink, includeDistances: true);
        Assert.AreEqual(n, rows);
        CollectionAssert.AreEqual(expected, sink.Labels);
        Assert.AreEqual((n + batchRows - 1) / batchRows, sink.Batches);
        var all = model.Transform(data);
        for (int i = 0; i < n; i++)
        {
            Reference.AssertNearest(data.AsSpan(i * d, d), model.Centroids.Span, d, sink.Labels[i], $"row {i}");
            Assert.AreEqual(all[(long)i * model.NumberOfClusters + sink.Labels[i]], sink.Distances[i], 1e-3f * Math.Max(1, sink.Distances[i]), $"distance of row {i}");
        }
        var withoutDistances = new RecordingSink();
        model.Predict(new InMemoryBatchSource(data, d, batchRows: batchRows), withoutDistances);
        CollectionAssert.AreEqual(expected, withoutDistances.Labels);
        Assert.AreEqual(0, withoutDistances.Distances.Count, "no distances unless asked for");
    }

    [TestMethod]
    [DataRow(KMeansDistance.SquaredEuclidean)]
    [DataRow(KMeansDistance.Cosine)]
    public void Labels_and_distances_into_spans_equal_score_on_the_array(KMeansDistance distance)
    {
        int n = 2001, d = 6, k = 5;
        var data = TestData.Blobs(n, d, centers: k, spread: 3, seed: 8);
        var model = Fit(data, d, k, distance);
        var labels = new int[n];
        var distances = new float[n];
        model.Predict(new InMemoryBatchSource(data, d, batchRows: 300), labels, distances);
        CollectionAssert.AreEqual(model.Predict(data, d), labels);
        var all = model.Transform(data);
        for (int i = 0; i < n; i++)
            Assert.AreEqual(all[(long)i * k + labels[i]], distances[i], 1e-4f, $"row {i}");
        Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new InMemoryBatchSource(data, d), labels, new float[n - 1]));
        Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new InMemoryBatchSource(data, d), new int[n + 1], new float[n + 1]));
    }

    [TestMethod]
    public void A_failing_sink_or_source_stops_the_prediction_with_its_error()
    {
        int n = 1000, d = 4;
        var data = TestData.Gaussian(n, d, seed: 5);
        var model = Fit(data, d, 3);
        var sinkError = Assert.ThrowsExactly<IOException>(() => model.Predict(new InMemoryBatchSource(data, d, batchRows: 100), new RecordingSink(failAtBatch: 3)));
        StringAssert.Contains(sinkError.Message, "sink full at row 300");
        var sourceError = Assert.ThrowsExactly<IOException>(() => model.Predict(new ForwardOnlySource(data, d, 128, failAtRow: 700), new RecordingSink()));
        StringAssert.Contains(sourceError.Message, "disk error at row 700");
        var bad = (float[])data.Clone();
        bad[555 * d + 2] = float.NaN;
        var nan = Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new InMemoryBatchSource(bad, d, batchRows: 100), new RecordingSink()));
        StringAssert.Contains(nan.Message, "NaN");
        Assert.ThrowsExactly<ArgumentNullException>(() => model.Predict(new InMemoryBatchSource(data, d), (IPredictionSink)null!));
        Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new InMemoryBatchSource(new float[10], 5), new RecordingSink()));
    }

    [TestMethod]
    public void Cancellation_stops_between_batches()
    {
        int n = 1000, d = 4;
        var data = TestData.Gaussian(n, d, seed: 6);
        var model = Fit(data, d, 3);
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsExactly<OperationCanceledException>(() => model.Predict(new InMemoryBatchSource(data, d, batchRows: 100), new RecordingSink(), cancellationToken: cancel.Token));
    }
}
