using FlashKMeans.Backends;
using FlashKMeans.Clustering;

namespace FlashKMeans.Tests;

/// <summary>When scoring shifts rows and centroids, and that the shift changes no label.</summary>
[TestClass]
public sealed class CentredScorerTests
{
    [TestMethod]
    public void Centroids_near_the_origin_are_scored_in_place_and_far_ones_are_shifted_by_their_mean()
    {
        int d = 5;
        var near = TestData.Blobs(40, d, centers: 8, spread: 5, seed: 3);
        Assert.IsNull(CentredScorer.Origin(near, d), "a mean within the spread needs no shift");

        var far = TestData.Offset(near, 1e4);
        var origin = CentredScorer.Origin(far, d);
        Assert.IsNotNull(origin);
        var mean = Reference.Mean(far, d);
        CollectionAssert.AreEqual(mean, origin);
    }

    [TestMethod]
    public void Shifted_and_unshifted_scoring_agree_near_the_origin()
    {
        int d = 6, n = 3000, k = 7;
        var data = TestData.Blobs(n, d, centers: k, spread: 4, seed: 21);
        // Centroids near the origin (no shift) and the same moved far away (shifted): the same labels, the same distances.
        var centroids = TestData.PickRows(data, d, k, seed: 2);
        var near = KMeansModel.FromCentroids(centroids, d);
        var far = KMeansModel.FromCentroids(TestData.Offset(centroids, 1e3), d);
        var moved = TestData.Offset(data, 1e3);
        var labelsNear = near.Predict(data, d);
        var labelsFar = far.Predict(moved, d);
        for (int r = 0; r < n; r++)
        {
            if (labelsNear[r] != labelsFar[r])
                Reference.AssertNearestCentred(moved.AsSpan(r * d, d), far.Centroids.Span, d, labelsFar[r], $"row {r}");
        }
        Assert.AreEqual(near.Score(data), far.Score(moved), 1e-3 * near.Score(data));
    }

    [TestMethod]
    public void Many_rows_far_from_the_origin_are_shifted_and_measured_in_slices_as_one_by_one()
    {
        // Two blocks of shifted rows (4M values each), each cut into slices on every core.
        int d = 64, k = 20, n = 70_001;
        var rows = TestData.Offset(TestData.Blobs(n, d, centers: k, spread: 4, seed: 12), 1e4);
        var centroids = TestData.Offset(TestData.Blobs(k, d, centers: k, spread: 4, seed: 12), 1e4);
        var model = KMeansModel.FromCentroids(centroids, d);
        var labels = Enumerable.Repeat(-1, n).ToArray();
        var distances = Enumerable.Repeat(float.NaN, n).ToArray();
        model.Predict(new Data.InMemoryBatchSource(rows, d), labels, distances, ComputeDevice.Cpu);
        for (int r = 0; r < n; r++)
        {
            var row = rows.AsSpan(r * d, d);
            Reference.AssertNearestCentred(row, centroids, d, labels[r], $"row {r}");
            double exact = Reference.Distance(row, centroids.AsSpan(labels[r] * d, d));
            Assert.AreEqual(exact, distances[r], 1e-4 * (1 + exact), $"row {r}'s distance");
        }
    }
}
