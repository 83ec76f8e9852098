using FlashKMeans.Clustering;
using FlashKMeans.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// The trainer's mini-batch mode: one cursor pass learning as a stream, the same model as the engine's
/// <see cref="MiniBatchKMeans"/> fed the same rows, continued training from a model, and the plain ML.NET zip.
/// </summary>
[TestClass]
public sealed class MiniBatchTrainerTests
{
    private const int D = 6, K = 5;

    private static GpuKMeansTrainer.Options Options(int epochs = 1) => new()
    {
        NumberOfClusters = K, Algorithm = KMeansAlgorithm.MiniBatch, MiniBatchSize = 500, MaximumNumberOfEpochs = epochs,
        Device = ComputeDevice.Cpu, Seed = 4, BatchSize = 700, ForgettingFactor = 0.95,
    };

    private static MiniBatchKMeans Engine() => new(new KMeansOptions
    {
        NumberOfClusters = K, Seed = 4, Device = ComputeDevice.Cpu,
        MiniBatch = new MiniBatchOptions { BatchSize = 500, ForgettingFactor = 0.95 },
    }, D);

    [TestMethod]
    public void One_cursor_pass_trains_the_model_the_engine_learns_from_the_same_rows()
    {
        var (rows, _) = Blobs.Make(6000, D, centers: K, spread: 8, seed: 2);
        var view = new TestDataView(rows, D);
        int steps = 0;
        var options = Options();
        options.Progress = new Counter(() => steps++);
        var model = new MLContext(seed: 1).Clustering.Trainers.FlashKMeans(options).Fit(view);
        Assert.AreEqual(1, view.CursorsOpened, "a one-epoch mini-batch fit reads the input once");
        Assert.AreEqual(12, steps);
        var engine = Engine();
        engine.PartialFit(new InMemoryBatchSource(rows, D));
        CollectionAssert.AreEqual(engine.Snapshot().Centroids.ToArray(), model.EngineModel.Centroids.ToArray());
        Assert.AreEqual(6000L, model.TrainingSummary!.RowsUsed);
        Assert.AreEqual(1, model.TrainingSummary.CursorPasses);
        // Scoring works as for a Lloyd model: every row's label is its nearest centroid.
        var keys = Read.Keys(model.Transform(view));
        var labels = model.EngineModel.Predict(rows, D);
        CollectionAssert.AreEqual(labels.Select(l => (uint)(l + 1)).ToArray(), keys);
    }

    [TestMethod]
    public void The_centroid_precision_reaches_the_engine_and_the_model_keeps_half_precision_centroids()
    {
        var (rows, _) = Blobs.Make(6000, D, centers: K, spread: 8, seed: 5);
        var options = Options();
        options.MiniBatchCentroidPrecision = ComputePrecision.Float16;
        var model = new MLContext(seed: 1).Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, D));
        var engine = new MiniBatchKMeans(new KMeansOptions
        {
            NumberOfClusters = K, Seed = 4, Device = ComputeDevice.Cpu,
            MiniBatch = new MiniBatchOptions { BatchSize = 500, ForgettingFactor = 0.95, CentroidPrecision = ComputePrecision.Float16 },
        }, D);
        engine.PartialFit(new InMemoryBatchSource(rows, D));
        CollectionAssert.AreEqual(engine.Snapshot().Centroids.ToArray(), model.EngineModel.Centroids.ToArray());
        foreach (float v in model.EngineModel.Centroids.Span)
            Assert.AreEqual((float)(Half)v, v, $"{v} is not a float16 value");
        options.MiniBatchCentroidPrecision = ComputePrecision.TensorFloat32;
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext().Clustering.Trainers.FlashKMeans(options));
    }

    [TestMethod]
    public void Training_continues_from_a_transformer_exactly_and_from_a_saved_zip_from_its_centroids()
    {
        var (rows, _) = Blobs.Make(8000, D, centers: K, spread: 8, seed: 3);
        var first = new TestDataView(rows[..(4000 * D)], D);
        var second = new TestDataView(rows[(4000 * D)..], D);
        var ml = new MLContext(seed: 1);
        var trainer = ml.Clustering.Trainers.FlashKMeans(Options());
        var before = trainer.Fit(first);
        var after = trainer.Fit(second, before);
        var engine = Engine();
        engine.PartialFit(new InMemoryBatchSource(rows, D));
        CollectionAssert.AreEqual(engine.Snapshot().Centroids.ToArray(), after.EngineModel.Centroids.ToArray(),
            "continuing from the transformer must equal one stream over both halves");
        Assert.IsNotNull(before.GetMiniBatchState());

        // A zip keeps the centroids only: continuing from it starts there, in plain ML.NET types.
        using var zip = new MemoryStream();
        ml.Model.Save(before, first.Schema, zip);
        zip.Position = 0;
        var loaded = new MLContext().Model.Load(zip, out _);
        var parameters = (KMeansModelParameters)((ISingleFeaturePredictionTransformer<object>)(loaded is IEnumerable<ITransformer> chain ? chain.Single() : loaded)).Model;
        var fromZip = trainer.Fit(second, parameters);
        var expected = new MiniBatchKMeans(new KMeansOptions
        {
            NumberOfClusters = K, Seed = 4, Device = ComputeDevice.Cpu, Initialization = KMeansInitialization.Explicit,
            InitialCentroids = before.EngineModel.Centroids.ToArray(), MiniBatch = new MiniBatchOptions { BatchSize = 500, ForgettingFactor = 0.95 },
        }, D);
        expected.PartialFit(new InMemoryBatchSource(rows[(4000 * D)..], D));
        CollectionAssert.AreEqual(expected.Snapshot().Centroids.ToArray(), fromZip.EngineModel.Centroids.ToArray());
    }

    [TestMethod]
    public void A_previous_model_of_another_shape_is_refused()
    {
        var (rows, _) = Blobs.Make(2000, D, centers: K, spread: 8, seed: 3);
        var ml = new MLContext(seed: 1);
        var previous = ml.Clustering.Trainers.FlashKMeans(Options()).Fit(new TestDataView(rows, D));
        var other = Options();
        other.NumberOfClusters = K + 1;
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Clustering.Trainers.FlashKMeans(other).Fit(new TestDataView(rows, D), previous));
        StringAssert.Contains(e.Message, "K × d");
        var lloyd = Options();
        lloyd.Algorithm = KMeansAlgorithm.Lloyd;
        var continued = ml.Clustering.Trainers.FlashKMeans(lloyd).Fit(new TestDataView(rows, D), previous);
        Assert.IsNull(continued.GetMiniBatchState());
        Assert.IsTrue(continued.TrainingSummary!.Inertia <= previous.EngineModel.Score(rows) * (1 + 1e-6), "Lloyd from the previous centroids cannot end worse than they start");
    }

    [TestMethod]
    public void Several_epochs_read_the_cursor_once_each()
    {
        var (rows, _) = Blobs.Make(3000, D, centers: K, spread: 8, seed: 7);
        var view = new TestDataView(rows, D);
        var options = Options(epochs: 3);
        options.DeviceMemoryBudgetMb = null;
        var model = new MLContext(seed: 1).Clustering.Trainers.FlashKMeans(options).Fit(view);
        Assert.AreEqual(3, view.CursorsOpened);
        var engine = Engine();
        for (int epoch = 0; epoch < 3; epoch++)
            engine.PartialFit(new InMemoryBatchSource(rows, D));
        CollectionAssert.AreEqual(engine.Snapshot().Centroids.ToArray(), model.EngineModel.Centroids.ToArray());
    }

    [TestMethod]
    public void NaN_features_are_missing_values_when_asked_and_skipped_rows_otherwise()
    {
        var (rows, _) = Blobs.Make(4000, D, centers: K, spread: 8, seed: 5);
        var random = new Random(1);
        for (int i = 0; i < rows.Length; i++)
        {
            if (random.NextDouble() < 0.1)
                rows[i] = float.NaN;
        }
        // Rows whose every feature is missing cannot be used either way.
        for (int j = 0; j < D; j++)
            rows[17 * D + j] = float.NaN;
        int incomplete = Enumerable.Range(0, 4000).Count(r => Enumerable.Range(0, D).Any(j => float.IsNaN(rows[r * D + j])));
        var ml = new MLContext(seed: 1);
        var options = Options();
        options.MissingFeatures = MissingFeatures.Ignore;
        var model = ml.Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, D));
        Assert.AreEqual(1L, model.TrainingSummary!.RowsSkipped);
        Assert.AreEqual(3999L, model.TrainingSummary.RowsUsed);

        var engine = new MiniBatchKMeans(new KMeansOptions
        {
            NumberOfClusters = K, Seed = 4, Device = ComputeDevice.Cpu, MissingFeatures = MissingFeatures.Ignore,
            MiniBatch = new MiniBatchOptions { BatchSize = 500, ForgettingFactor = 0.95 },
        }, D);
        var usable = Enumerable.Range(0, 4000).Where(r => r != 17).SelectMany(r => rows.Skip(r * D).Take(D)).ToArray();
        engine.PartialFit(new InMemoryBatchSource(usable, D));
        CollectionAssert.AreEqual(engine.Snapshot().Centroids.ToArray(), model.EngineModel.Centroids.ToArray());

        var skipping = ml.Clustering.Trainers.FlashKMeans(Options()).Fit(new TestDataView(rows, D));
        Assert.AreEqual((long)incomplete, skipping.TrainingSummary!.RowsSkipped);
        // Lloyd reads them the same way: every usable row trains, and the model has no missing value.
        var lloyd = Options();
        lloyd.Algorithm = KMeansAlgorithm.Lloyd;
        lloyd.MissingFeatures = MissingFeatures.Ignore;
        var lloydModel = ml.Clustering.Trainers.FlashKMeans(lloyd).Fit(new TestDataView(rows, D));
        Assert.AreEqual(3999L, lloydModel.TrainingSummary!.RowsUsed);
        Assert.IsTrue(lloydModel.EngineModel.Centroids.ToArray().All(float.IsFinite));
    }

    [TestMethod]
    [DataRow(KMeansAlgorithm.Lloyd), DataRow(KMeansAlgorithm.MiniBatch)]
    public void L1_models_score_L1_distances_and_refuse_the_ML_NET_zip(KMeansAlgorithm algorithm)
    {
        var (rows, _) = Blobs.Make(2000, D, centers: K, spread: 8, seed: 6);
        var view = new TestDataView(rows, D);
        var ml = new MLContext(seed: 1);
        var options = Options();
        options.Algorithm = algorithm;
        options.Distance = KMeansDistance.Manhattan;
        var model = ml.Clustering.Trainers.FlashKMeans(options).Fit(view);
        var scores = Read.Scores(model.Transform(view));
        var keys = Read.Keys(model.Transform(view));
        for (int r = 0; r < 2000; r += 37)
        {
            for (int c = 0; c < K; c++)
            {
                double l1 = 0;
                for (int j = 0; j < D; j++)
                    l1 += Math.Abs((double)rows[r * D + j] - model.EngineModel.GetCentroid(c)[j]);
                Assert.AreEqual(l1, scores[r][c], 1e-4 * (1 + l1));
            }
            Assert.AreEqual((uint)(Array.IndexOf(scores[r], scores[r].Min()) + 1), keys[r]);
        }
        using var zip = new MemoryStream();
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => ml.Model.Save(model, view.Schema, zip)).Message, "Manhattan");
    }

    [TestMethod]
    public void Feature_weights_score_through_the_transformer_and_refuse_the_ML_NET_zip()
    {
        // Two features carry the clusters; four are noise.
        var random = new Random(3);
        const int n = 3000, d = 6;
        var rows = new float[n * d];
        for (int r = 0; r < n; r++)
        {
            int c = random.Next(4);
            rows[r * d] = (float)(12 * (c % 2) + Blobs.Normal(random));
            rows[r * d + 1] = (float)(12 * (c / 2) + Blobs.Normal(random));
            for (int j = 2; j < d; j++)
                rows[r * d + j] = (float)(12 * random.NextDouble() - 6);
        }
        var view = new TestDataView(rows, d);
        var ml = new MLContext(seed: 1);
        var model = ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options
        {
            NumberOfClusters = 4, Device = ComputeDevice.Cpu, Seed = 2, AutomaticFeatureWeights = true,
        }).Fit(view);
        var w = model.EngineModel.FeatureWeights.ToArray();
        Assert.IsTrue(w[0] > 0.8 && w[1] > 0.8 && w.Skip(2).All(v => v < 0.1), string.Join(", ", w));
        var scores = Read.Scores(model.Transform(view));
        for (int r = 0; r < n; r += 53)
        {
            for (int c = 0; c < 4; c++)
            {
                double expected = 0;
                for (int j = 0; j < d; j++)
                    expected += w[j] * Math.Pow(rows[r * d + j] - (double)model.EngineModel.GetCentroid(c)[j], 2);
                Assert.AreEqual(expected, scores[r][c], 1e-3 * (1 + expected), $"row {r}, cluster {c}");
            }
        }
        using var zip = new MemoryStream();
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => ml.Model.Save(model, view.Schema, zip)).Message, "weighs its features");
    }

    private sealed class Counter(Action step) : IProgress<KMeansProgress>
    {
        public void Report(KMeansProgress value)
        {
            if (value.Phase == KMeansPhase.MiniBatch)
                step();
        }
    }
}
