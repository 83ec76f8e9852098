using FlashKMeans.Clustering;
using FlashKMeans.Data;
using FlashKMeans.Engine;

namespace FlashKMeans.Tests;

[TestClass]
public sealed class BadInputTests
{
    private static KMeans Cpu(int k = 3) => new(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu });

    [TestMethod]
    [DataRow(float.NaN), DataRow(float.PositiveInfinity), DataRow(float.NegativeInfinity)]
    public void Non_finite_feature_names_the_row(float bad)
    {
        var data = TestData.Gaussian(100, 4, seed: 1);
        data[57 * 4 + 2] = bad;
        var error = Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(data, 4));
        StringAssert.Contains(error.Message, "Row 57");
        StringAssert.Contains(error.Message, "feature 2");
    }

    [TestMethod]
    public void K_below_one_or_above_rows_is_rejected()
    {
        var data = TestData.Gaussian(10, 2, seed: 1);
        var zero = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KMeans(new KMeansOptions { NumberOfClusters = 0 }));
        Assert.AreEqual(nameof(KMeansOptions.NumberOfClusters), zero.ParamName);
        var tooMany = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Cpu(11).Fit(data, 2));
        StringAssert.Contains(tooMany.Message, "only 10 rows");
        Assert.AreEqual(10, Cpu(10).Fit(data, 2).NumberOfClusters);
    }

    [TestMethod]
    public void Rows_too_long_for_float32_distances_are_rejected_naming_the_row()
    {
        // ‖x‖² of 1e20-sized features overflows float32: the fit used to return inertia ∞ and one cluster for all.
        var data = TestData.Gaussian(50, 2, seed: 1);
        data[31 * 2] = 1e20f;
        var error = Assert.ThrowsExactly<ArgumentException>(() => Cpu(2).Fit(data, 2));
        StringAssert.Contains(error.Message, "Row 31");
        StringAssert.Contains(error.Message, "overflow");
        data[31 * 2] = 1e18f; // large but safe: ‖x‖² = 1e36 < float.MaxValue / 4
        var model = Cpu(2).Fit(data, 2);
        Assert.IsTrue(double.IsFinite(model.Inertia));
        // Cosine fits scale rows to unit length first, so long rows are fine there.
        data[31 * 2] = 1e30f;
        var cosine = new KMeans(new KMeansOptions { NumberOfClusters = 2, Device = ComputeDevice.Cpu, Distance = KMeansDistance.Cosine }).Fit(data, 2);
        Assert.IsTrue(double.IsFinite(cosine.Inertia));
    }

    [TestMethod]
    public void Cosine_accepts_rows_of_subnormal_length()
    {
        // 1 / ‖x‖ overflows float below ‖x‖ ≈ 3e-39: the unit row used to come out as (∞, NaN), poisoning a centroid and the inertia.
        var data = new float[] { 1e-40f, 0, 1, 0.1f, 0, 1, 0.1f, 1 };
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 2, Device = ComputeDevice.Cpu, Distance = KMeansDistance.Cosine, Seed = 1 }).Fit(data, 2);
        Assert.IsTrue(DataValidator.AllFinite(model.Centroids.Span), string.Join(", ", model.Centroids.ToArray()));
        Assert.IsTrue(double.IsFinite(model.Inertia), $"inertia {model.Inertia}");
        var labels = model.Predict(data, 2);
        Assert.AreEqual(labels[0], labels[1], "(1e-40, 0) points the same way as (1, 0.1)");
        Assert.AreNotEqual(labels[0], labels[2]);
        Assert.AreEqual(0, model.Transform(new float[] { 1e-40f, 0 })[labels[0]], 1e-2);
    }

    [TestMethod]
    public void Predicting_one_row_of_the_wrong_length_says_dimension_mismatch()
    {
        var model = Cpu(2).Fit(TestData.Gaussian(20, 3, seed: 1), 3);
        // Six values used to read as "2 rows but room for 1 labels", an empty row as "0 rows".
        foreach (int length in new[] { 0, 2, 6 })
        {
            var error = Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new float[length]));
            StringAssert.Contains(error.Message, "Dimension mismatch");
            Assert.AreEqual("row", error.ParamName);
        }
    }

    [TestMethod]
    public void Cosine_batch_prediction_names_the_zero_row_by_its_index_in_the_source()
    {
        var data = TestData.Gaussian(300, 3, seed: 2);
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 2, Device = ComputeDevice.Cpu, Distance = KMeansDistance.Cosine }).Fit(data, 3);
        data.AsSpan(250 * 3, 3).Clear();
        // The index used to be counted from the start of the batch: "Row 50" in the third batch of 100.
        var error = Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new InMemoryBatchSource(data, 3, batchRows: 100), new int[300]));
        StringAssert.Contains(error.Message, "Row 250 ");
    }

    [TestMethod]
    public void Empty_data_is_rejected()
    {
        Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(Array.Empty<float>(), 3));
        Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(new float[0, 3]));
        var error = Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(new InMemoryBatchSource(ReadOnlyMemory<float>.Empty, 3)));
        StringAssert.Contains(error.Message, "empty");
    }

    [TestMethod]
    public void Ragged_data_is_rejected()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(new float[10], 3));
        StringAssert.Contains(error.Message, "multiple of the dimension 3");
    }

    [TestMethod]
    public void Negative_non_finite_or_all_zero_weights_are_rejected()
    {
        var data = TestData.Gaussian(20, 2, seed: 1);
        var weights = Enumerable.Repeat(1f, 20).ToArray();
        weights[7] = -1;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(data, 2, weights)).Message, "Row 7");
        weights[7] = float.NaN;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(data, 2, weights)).Message, "Row 7");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(data, 2, new float[20])).Message, "zero");
        Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(data, 2, new float[19]));
    }

    [TestMethod]
    public void Dimension_mismatch_on_predict_and_transform()
    {
        var data = TestData.Gaussian(50, 4, seed: 1);
        var model = Cpu().Fit(data, 4);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new float[15], 5)).Message, "Dimension mismatch");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new float[6])).Message, "Dimension mismatch");
        Assert.ThrowsExactly<ArgumentException>(() => model.Transform(new float[10]));
        Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new float[3, 5]));
        var nan = new float[4];
        nan[1] = float.NaN;
        Assert.ThrowsExactly<ArgumentException>(() => model.Predict(nan));
    }

    [TestMethod]
    [DataRow(1e6)]   // squared length overflows float32
    [DataRow(2.0)]   // still finite, but past DataValidator.MaximumSquaredNorm
    public void Scoring_rejects_the_rows_a_fit_rejects_and_names_them(double overLimit)
    {
        const int d = 6;
        var model = Cpu().Fit(TestData.Gaussian(400, d, seed: 11), d);
        int bad = new Random(12).Next(1, 300);
        var rows = TestData.Gaussian(300, d, seed: 13);
        void ScaleRowTo(double squaredLength)
        {
            var row = rows.AsSpan(bad * d, d);
            double factor = Math.Sqrt(squaredLength / System.Numerics.Tensors.TensorPrimitives.Dot<float>(row, row));
            for (int j = 0; j < d; j++)
                row[j] = (float)(row[j] * factor);
        }
        ScaleRowTo(overLimit * DataValidator.MaximumSquaredNorm);

        // A fit refuses that row; every way of scoring it refuses it too, naming the same row.
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(rows, d)).Message, $"Row {bad} ");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.Predict(rows, d)).Message, $"Row {bad} ");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.Transform(rows)).Message, $"Row {bad} ");
        var source = new InMemoryBatchSource(rows, d, batchRows: 97);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.Predict(source, new int[300])).Message, $"Row {bad} ");

        // Half the limit is accepted, by the fit and by scoring. (Which centroid such a row gets is not
        // asserted: at that length float32 distances to different centroids round to the same value.)
        ScaleRowTo(0.5 * DataValidator.MaximumSquaredNorm);
        _ = Cpu().Fit(rows, d);  // throws if the limit were applied below MaximumSquaredNorm
        var labels = model.Predict(rows, d);
        Assert.IsTrue(labels.All(l => l >= 0 && l < model.NumberOfClusters));
    }

    [TestMethod]
    public void Bad_options_name_the_setting()
    {
        void Check(Action<KMeansOptions> change, string name)
        {
            var options = new KMeansOptions();
            change(options);
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KMeans(options));
            Assert.AreEqual(name, error.ParamName);
        }
        Check(o => o.MaximumNumberOfIterations = -1, nameof(KMeansOptions.MaximumNumberOfIterations));
        Check(o => o.NumberOfInitializations = 0, nameof(KMeansOptions.NumberOfInitializations));
        Check(o => o.NumberOfThreads = 0, nameof(KMeansOptions.NumberOfThreads));
        Check(o => o.OversamplingFactor = 0, nameof(KMeansOptions.OversamplingFactor));
        Check(o => o.MaximumPointsPerCentroid = 0, nameof(KMeansOptions.MaximumPointsPerCentroid));
        Check(o => o.OptimizationTolerance = double.NaN, nameof(KMeansOptions.OptimizationTolerance));
        Assert.ThrowsExactly<ArgumentException>(() => new KMeans(new KMeansOptions { Initialization = KMeansInitialization.Explicit }));
        var wrongShape = new KMeans(new KMeansOptions { NumberOfClusters = 2, Initialization = KMeansInitialization.Explicit, InitialCentroids = new float[5] });
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => wrongShape.Fit(new float[20], 2)).Message, "InitialCentroids");
    }

    [TestMethod]
    public void Cuda_without_a_gpu_is_a_clear_error()
    {
        if (Engine.BackendSelector.TryCreateCuda(new KMeansOptions(), out var gpu, out _))
        {
            gpu!.Dispose();
            Assert.Inconclusive("A CUDA device is present; this test covers machines without one.");
        }
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 2, Device = ComputeDevice.Cuda });
        var error = Assert.ThrowsExactly<NotSupportedException>(() => model.Fit(TestData.Gaussian(10, 2, 1), 2));
        StringAssert.Contains(error.Message, "CUDA");
    }

    [TestMethod]
    public void Cosine_rejects_zero_rows()
    {
        var data = TestData.Gaussian(30, 3, seed: 1);
        Array.Clear(data, 12 * 3, 3);
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 2, Distance = KMeansDistance.Cosine, Device = ComputeDevice.Cpu });
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.Fit(data, 3)).Message, "Row 12");
    }

    [TestMethod]
    [DataRow(float.NaN), DataRow(-1f), DataRow(float.PositiveInfinity)]
    public void Score_rejects_the_weights_that_Fit_rejects(float bad)
    {
        int d = 3;
        var data = TestData.Gaussian(50, d, seed: 1);
        var model = Cpu().Fit(data, d);
        var weights = Enumerable.Repeat(1f, 50).ToArray();
        weights[17] = bad;
        var e = Assert.ThrowsExactly<ArgumentException>(() => model.Score(data, weights));
        StringAssert.Contains(e.Message, "Row 17");
        Assert.ThrowsExactly<ArgumentException>(() => Cpu().Fit(data, d, weights));
    }

    [TestMethod]
    public void K_above_the_distinct_rows_warns_and_the_model_counts_its_distinct_centroids()
    {
        int d = 2;
        // 40 rows, only 3 distinct.
        var data = Enumerable.Range(0, 40).SelectMany(i => new float[] { i % 3, 10 * (i % 3) }).ToArray();
        var log = new ListLogger();
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 5, Device = ComputeDevice.Cpu, Logger = log }).Fit(data, d);
        Assert.AreEqual(3, model.DistinctCentroids);
        Assert.IsTrue(log.Messages.Any(m => m.Contains("only 3 centroids are distinct")), string.Join("\n", log.Messages));
        var separate = new KMeans(new KMeansOptions { NumberOfClusters = 3, Device = ComputeDevice.Cpu, Logger = log }).Fit(data, d);
        Assert.AreEqual(3, separate.DistinctCentroids);
    }

    [TestMethod]
    public void Huge_finite_weights_fit_like_unit_weights()
    {
        int d = 3, k = 4;
        var data = TestData.Blobs(2000, d, centers: k, spread: 8, seed: 6);
        var heavy = Enumerable.Repeat(3e38f, 2000).ToArray();
        var options = new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu, Initialization = KMeansInitialization.KMeansParallel };
        var weighted = new KMeans(options).Fit(data, d, heavy);
        var plain = new KMeans(options).Fit(data, d);
        Assert.IsTrue(weighted.Centroids.ToArray().All(float.IsFinite));
        double exactWeighted = Reference.Inertia(data, d, weighted.Centroids.Span), exactPlain = Reference.Inertia(data, d, plain.Centroids.Span);
        Assert.AreEqual(exactPlain, exactWeighted, 1e-3 * exactPlain);
    }

    [TestMethod]
    public void A_memory_mapped_batch_read_after_dispose_throws_instead_of_faulting()
    {
        string path = Path.Combine(Path.GetTempPath(), "fkm-mm-" + Guid.NewGuid().ToString("N") + ".f32");
        File.WriteAllBytes(path, System.Runtime.InteropServices.MemoryMarshal.AsBytes(TestData.Gaussian(100, 4, seed: 2).AsSpan()).ToArray());
        try
        {
            var source = MemoryMappedBatchSource.OpenRaw(path, 4);
            using var reader = source.OpenReader();
            Assert.IsTrue(reader.TryRead(out var batch));
            source.Dispose();
            Assert.ThrowsExactly<ObjectDisposedException>(() => batch.Rows.Span[0]);
            Assert.ThrowsExactly<ObjectDisposedException>(() => reader.TryRead(out _));
            Assert.ThrowsExactly<ObjectDisposedException>(() => source.GetRowBytes(0, 1).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
