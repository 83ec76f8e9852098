using FlashKMeans.Clustering;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

[TestClass]
public sealed class TrainerTests
{
    private const int D = 8;

    private static GpuKMeansTrainer.Options Explicit(float[] initial, int k) => new()
    {
        NumberOfClusters = k,
        InitializationAlgorithm = KMeansInitialization.Explicit,
        InitialCentroids = initial,
        MaximumNumberOfIterations = 50,
        OptimizationTolerance = 0,
        Device = ComputeDevice.Cpu,
    };

    [TestMethod]
    public void CatalogExtensionTrainsAndFindsTheBlobs()
    {
        var (rows, truth) = Blobs.Make(3000, D, centers: 6, spread: 10, seed: 11);
        var ml = new MLContext(seed: 1);
        var trainer = ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 6);
        var model = trainer.Fit(new TestDataView(rows, D));

        Assert.AreEqual(6, model.NumberOfClusters);
        Assert.AreEqual(D, model.Dimension);
        Assert.AreEqual(3000L, model.TrainingSummary!.RowsUsed);
        // Well-separated blobs: every true blob should land in a single predicted cluster.
        var keys = Read.Keys(model.Transform(new TestDataView(rows, D)));
        for (int blob = 0; blob < 6; blob++)
        {
            var labels = keys.Where((_, i) => truth[i] == blob).Distinct().ToArray();
            Assert.AreEqual(1, labels.Length, $"blob {blob} was split across clusters {string.Join(",", labels)}");
        }
        Assert.AreEqual(6, keys.Distinct().Count());
    }

    [TestMethod]
    public void HierarchicalOptionBalancesTheClustersAndTransformAgreesWithTheEngine()
    {
        // 40 blobs, one of them holding half the rows: plain Lloyd gives it few clusters for its weight.
        var (small, _) = Blobs.Make(4000, D, centers: 40, spread: 30, seed: 3);
        var (dense, _) = Blobs.Make(4000, D, centers: 1, spread: 0, seed: 4);
        var rows = small.Concat(dense.Select(v => v * 0.5f)).ToArray();
        var ml = new MLContext(seed: 1);
        var options = new GpuKMeansTrainer.Options
        {
            NumberOfClusters = 48, Device = ComputeDevice.Cpu, Seed = 2, Hierarchical = new HierarchicalOptions { BalanceTolerance = 1.5 },
        };
        var model = ml.Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, D));
        var balance = model.EngineModel.Balance!;
        Assert.IsTrue(balance.ImbalanceAfterBalancing <= 1.5, $"imbalance {balance.ImbalanceAfterBalancing:F2}");
        var keys = Read.Keys(model.Transform(new TestDataView(rows, D)));
        var engine = model.EngineModel.Predict(rows, D);
        CollectionAssert.AreEqual(engine.Select(l => (uint)(l + 1)).ToArray(), keys.ToArray(), "PredictedLabel is the engine's label + 1");
        var sizes = engine.GroupBy(l => l).Select(g => g.Count()).ToArray();
        Assert.AreEqual(sizes.Max() / (rows.Length / D / 48.0), balance.ImbalanceAfterBalancing, 1e-9);
    }

    [TestMethod]
    public void OptionsOverloadPassesSettingsThrough()
    {
        var ml = new MLContext();
        var options = new GpuKMeansTrainer.Options { NumberOfClusters = 3, FeatureColumnName = "X", Seed = 42, BatchSize = 100 };
        var trainer = ml.Clustering.Trainers.FlashKMeans(options);
        options.NumberOfClusters = 99; // the trainer copied the options
        var used = trainer.GetOptions();
        Assert.AreEqual(3, used.NumberOfClusters);
        Assert.AreEqual("X", used.FeatureColumnName);
        Assert.AreEqual(42, used.Seed);
    }

    [TestMethod]
    public void BadOptionsAreRejectedByName()
    {
        var ml = new MLContext();
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 0));
        StringAssert.Contains(e.Message, "NumberOfClusters");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options { BatchSize = 0 }));
        StringAssert.Contains(e.Message, "BatchSize");
        var explicitWithout = Assert.ThrowsExactly<ArgumentException>(() =>
            ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options { InitializationAlgorithm = KMeansInitialization.Explicit }));
        StringAssert.Contains(explicitWithout.Message, "InitialCentroids");
        var (rows, _) = Blobs.Make(50, D, 2, 5, seed: 1);
        var wrongSize = Assert.ThrowsExactly<ArgumentException>(() => ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options
        {
            NumberOfClusters = 2,
            InitializationAlgorithm = KMeansInitialization.Explicit,
            InitialCentroids = new float[2 * (D - 1)],
        }).Fit(new TestDataView(rows, D)));
        StringAssert.Contains(wrongSize.Message, $"2 × {D}");
    }

    [TestMethod]
    public void MissingFeatureColumnIsNamedWithTheColumnsThatExist()
    {
        var (rows, _) = Blobs.Make(50, D, 2, 5, seed: 1);
        var trainer = new MLContext().Clustering.Trainers.FlashKMeans("Pixels", numberOfClusters: 2);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(new TestDataView(rows, D)));
        StringAssert.Contains(e.Message, "'Pixels'");
        StringAssert.Contains(e.Message, "Features");
    }

    [TestMethod]
    public void WrongFeatureTypesAreNamedWithTheirType()
    {
        var (rows, _) = Blobs.Make(50, D, 2, 5, seed: 1);
        var trainer = new MLContext().Clustering.Trainers.FlashKMeans(numberOfClusters: 2);
        foreach (var type in new DataViewType[]
                 {
                     NumberDataViewType.Single,
                     new VectorDataViewType(NumberDataViewType.Single),
                     new VectorDataViewType(NumberDataViewType.Double, D),
                 })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(new TestDataView(rows, D, featureType: type)));
            StringAssert.Contains(e.Message, "'Features'");
            StringAssert.Contains(e.Message, type.ToString());
        }
    }

    [TestMethod]
    public void WrongWeightColumnIsNamed()
    {
        var (rows, _) = Blobs.Make(50, D, 2, 5, seed: 1);
        var labels = new uint[50];
        var trainer = new MLContext().Clustering.Trainers.FlashKMeans(exampleWeightColumnName: "Label", numberOfClusters: 2);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(new TestDataView(rows, D, labels: labels, labelCount: 3)));
        StringAssert.Contains(e.Message, "'Label'");
        StringAssert.Contains(e.Message, "Key<UInt32");
        var missing = new MLContext().Clustering.Trainers.FlashKMeans(exampleWeightColumnName: "W", numberOfClusters: 2);
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => missing.Fit(new TestDataView(rows, D)));
        StringAssert.Contains(e.Message, "'W'");
    }

    [TestMethod]
    public void SchemaShapePropagationValidatesAndPromisesTheColumns()
    {
        var trainer = new MLContext().Clustering.Trainers.FlashKMeans(numberOfClusters: 4);
        var good = new SchemaShape(new[]
        {
            MLNetInternals.ShapeColumn("Id", SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Int32, false),
            MLNetInternals.ShapeColumn("Features", SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false),
        });
        var output = trainer.GetOutputSchema(good);
        var score = output.Single(c => c.Name == "Score");
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, score.Kind);
        Assert.AreEqual(NumberDataViewType.Single, score.ItemType);
        var label = output.Single(c => c.Name == "PredictedLabel");
        Assert.IsTrue(label.IsKey);
        Assert.AreEqual(NumberDataViewType.UInt32, label.ItemType);
        Assert.IsTrue(output.Any(c => c.Name == "Id"));

        var variable = new SchemaShape(new[]
        {
            MLNetInternals.ShapeColumn("Features", SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Single, false),
        });
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(variable));
        StringAssert.Contains(e.Message, "'Features'");
        StringAssert.Contains(e.Message, "unknown size");
    }

    [TestMethod]
    public void BatchSizeDoesNotChangeTheModel()
    {
        var (rows, _) = Blobs.Make(1000, D, 4, 6, seed: 5);
        var initial = Blobs.PickRows(rows, D, 4, seed: 6);
        var ml = new MLContext();
        var small = Explicit(initial, 4);
        small.BatchSize = 7;
        small.DeviceMemoryBudgetMb = null; // stream every pass through 7-row batches
        var large = Explicit(initial, 4);
        large.BatchSize = 100_000;
        var a = ml.Clustering.Trainers.FlashKMeans(small).Fit(new TestDataView(rows, D));
        var b = ml.Clustering.Trainers.FlashKMeans(large).Fit(new TestDataView(rows, D));
        CollectionAssert.AreEqual(a.EngineModel.Centroids.ToArray(), b.EngineModel.Centroids.ToArray());
    }

    [TestMethod]
    public void TrainingStreamsOneCursorPassPerEnginePassAndMatchesTheEngineOnArrays()
    {
        var (rows, _) = Blobs.Make(1500, D, 5, 6, seed: 8);
        var initial = Blobs.PickRows(rows, D, 5, seed: 9);
        var view = new TestDataView(rows, D);
        var options = Explicit(initial, 5);
        options.MaximumNumberOfIterations = 6;
        options.DeviceMemoryBudgetMb = null;
        var model = new MLContext().Clustering.Trainers.FlashKMeans(options).Fit(view);

        var engine = new KMeans(new KMeansOptions
        {
            NumberOfClusters = 5,
            Initialization = KMeansInitialization.Explicit,
            InitialCentroids = initial,
            MaximumNumberOfIterations = 6,
            OptimizationTolerance = 0,
            Device = ComputeDevice.Cpu,
        }).Fit(rows, D);
        CollectionAssert.AreEqual(engine.Centroids.ToArray(), model.EngineModel.Centroids.ToArray());
        Assert.AreEqual(view.CursorsOpened, model.TrainingSummary!.CursorPasses);
        Assert.IsGreaterThan(1, view.CursorsOpened, "training read the data more than once, through cursors");
        Assert.AreEqual(0, view.OpenCursors);
    }

    [TestMethod]
    public void RowsThatFitTheMemoryBudgetAreReadOnceAndGiveTheSameModel()
    {
        var (rows, _) = Blobs.Make(2000, D, 4, 6, seed: 12);
        rows[10 * D] = float.NaN; // a skipped row must stay skipped in the cache
        var initial = Blobs.PickRows(rows.Skip(11 * D).ToArray(), D, 4, seed: 13);
        var weights = Enumerable.Range(0, 2000).Select(i => 1f + i % 3).ToArray();
        var ml = new MLContext();

        var streamed = Explicit(initial, 4);
        streamed.ExampleWeightColumnName = "Weight";
        streamed.BatchSize = 128;
        streamed.DeviceMemoryBudgetMb = null;
        var cached = Explicit(initial, 4);
        cached.ExampleWeightColumnName = "Weight";
        cached.BatchSize = 128;
        cached.DeviceMemoryBudgetMb = 1; // 2000 × 9 × 4 bytes fits
        var viewA = new TestDataView(rows, D, weights);
        var viewB = new TestDataView(rows, D, weights);
        var a = ml.Clustering.Trainers.FlashKMeans(streamed).Fit(viewA);
        var b = ml.Clustering.Trainers.FlashKMeans(cached).Fit(viewB);

        CollectionAssert.AreEqual(a.EngineModel.Centroids.ToArray(), b.EngineModel.Centroids.ToArray());
        Assert.AreEqual(1L, b.TrainingSummary!.RowsSkipped);
        Assert.AreEqual(1, viewB.CursorsOpened, "only the first pass used the cursor");
        Assert.IsGreaterThan(2, viewA.CursorsOpened);
        Assert.AreEqual(0, viewB.OpenCursors);
        // 40,000 × 9 × 4 bytes does not fit in 1 MB: every pass streams.
        var big = Blobs.Make(40_000, D, 4, 6, seed: 14).Rows;
        var bigView = new TestDataView(big, D, Enumerable.Repeat(1f, 40_000).ToArray());
        var c = Explicit(Blobs.PickRows(big, D, 4, seed: 15), 4);
        c.DeviceMemoryBudgetMb = 1;
        c.ExampleWeightColumnName = "Weight";
        c.MaximumNumberOfIterations = 3;
        var streamedBig = ml.Clustering.Trainers.FlashKMeans(c).Fit(bigView);
        Assert.AreEqual(bigView.CursorsOpened, streamedBig.TrainingSummary!.CursorPasses);
        Assert.IsGreaterThan(1, bigView.CursorsOpened);
    }

    [TestMethod]
    public void A_pass_that_stops_early_leaves_the_row_cache_empty_and_a_complete_one_fills_it()
    {
        var (rows, _) = Blobs.Make(3000, D, 4, 6, seed: 16);
        var view = new TestDataView(rows, D);
        using var source = new CursorBatchSource(view, view.Schema["Features"], null, batchRows: 256, rejectMissing: false, cacheBudgetBytes: 1 << 20);
        using (var reader = source.OpenReader())
        {
            // Stop after two batches: the copies made so far must not pass for the whole data.
            Assert.IsTrue(reader.TryRead(out _));
            Assert.IsTrue(reader.TryRead(out _));
        }
        Assert.IsFalse(source.Cached);
        Assert.IsFalse(source.PassesRepeat, "the cursor may serve other rows next time: the engine must check later passes");
        long served = 0;
        var copy = new List<float>();
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                served += batch.RowCount;
                copy.AddRange(batch.Rows.ToArray());
            }
        }
        Assert.AreEqual(3000L, served);
        Assert.IsTrue(source.Cached, "a complete pass fills the cache");
        Assert.IsTrue(source.PassesRepeat, "later passes read the cache, so they repeat the pass read");
        Assert.IsFalse(FlashKMeans.Data.PassCheckedBatchSource.Needed(source));
        Assert.AreEqual(2, view.CursorsOpened);
        // The cache holds the rows in order: a third pass reads it, not the cursor, and gives the same values.
        var cached = new List<float>();
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(out var batch))
                cached.AddRange(batch.Rows.ToArray());
        }
        Assert.AreEqual(2, view.CursorsOpened);
        CollectionAssert.AreEqual(copy, cached);
        CollectionAssert.AreEqual(rows, cached);

        using var uncached = new CursorBatchSource(view, view.Schema["Features"], null, batchRows: 256, rejectMissing: false);
        using (var reader = uncached.OpenReader())
        {
            while (reader.TryRead(out _)) { }
        }
        Assert.IsTrue(FlashKMeans.Data.PassCheckedBatchSource.Needed(uncached), "without a cache every pass is a new cursor");
    }

    [TestMethod]
    public void WeightsActLikeRepeatedRows()
    {
        var (rows, _) = Blobs.Make(400, D, 3, 6, seed: 21);
        var initial = Blobs.PickRows(rows, D, 3, seed: 22);
        var random = new Random(23);
        var weights = Enumerable.Range(0, 400).Select(_ => (float)random.Next(0, 4)).ToArray();
        // The same data with row i repeated weights[i] times.
        var repeated = Enumerable.Range(0, 400).SelectMany(i => Enumerable.Repeat(i, (int)weights[i]))
            .SelectMany(i => rows.AsSpan(i * D, D).ToArray()).ToArray();

        var ml = new MLContext();
        var weightedOptions = Explicit(initial, 3);
        weightedOptions.ExampleWeightColumnName = "Weight";
        var weighted = ml.Clustering.Trainers.FlashKMeans(weightedOptions).Fit(new TestDataView(rows, D, weights));
        var plain = ml.Clustering.Trainers.FlashKMeans(Explicit(initial, 3)).Fit(new TestDataView(repeated, D));

        var a = weighted.EngineModel.Centroids.Span;
        var b = plain.EngineModel.Centroids.Span;
        for (int i = 0; i < a.Length; i++)
            Assert.AreEqual(b[i], a[i], 1e-4, $"centroid value {i}");
        Assert.AreEqual(plain.EngineModel.Inertia, weighted.EngineModel.Inertia, 1e-6 * plain.EngineModel.Inertia);
    }

    [TestMethod]
    public void KAboveTheUsableRowsNamesTheInputAndTheRowsSkippedAsMissing()
    {
        var (rows, _) = Blobs.Make(10, D, 2, 6, seed: 5);
        for (int r = 0; r < 4; r++)
            rows[r * D + 1] = float.NaN;
        var ml = new MLContext();
        var trainer = ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options { NumberOfClusters = 8, Device = ComputeDevice.Cpu });
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(new TestDataView(rows, D)));
        Assert.AreEqual("input", e.ParamName);
        StringAssert.Contains(e.Message, "NumberOfClusters is 8 but the data has only 6 rows");
        StringAssert.Contains(e.Message, "feature column 'Features'");
        StringAssert.Contains(e.Message, "4 further rows were skipped as missing");
        Assert.IsFalse(e.Message.Contains("Parameter 'source'"), e.Message);
    }

    [TestMethod]
    public void RowsWithMissingFeaturesAreSkippedAndCounted()
    {
        var (rows, _) = Blobs.Make(600, D, 3, 6, seed: 31);
        var initial = Blobs.PickRows(rows, D, 3, seed: 32);
        var dirty = (float[])rows.Clone();
        var bad = new[] { 3, 100, 101, 599 };
        dirty[3 * D + 2] = float.NaN;
        dirty[100 * D] = float.PositiveInfinity;
        dirty[101 * D + 7] = float.NaN;
        dirty[599 * D + 5] = float.NegativeInfinity;
        var clean = Enumerable.Range(0, 600).Where(i => !bad.Contains(i)).SelectMany(i => rows.AsSpan(i * D, D).ToArray()).ToArray();

        var ml = new MLContext();
        var logs = new List<string>();
        ml.Log += (_, e) => logs.Add(e.Message);
        var fromDirty = ml.Clustering.Trainers.FlashKMeans(Explicit(initial, 3)).Fit(new TestDataView(dirty, D));
        var fromClean = ml.Clustering.Trainers.FlashKMeans(Explicit(initial, 3)).Fit(new TestDataView(clean, D));

        Assert.AreEqual(4L, fromDirty.TrainingSummary!.RowsSkipped);
        Assert.AreEqual(596L, fromDirty.TrainingSummary.RowsUsed);
        CollectionAssert.AreEqual(fromClean.EngineModel.Centroids.ToArray(), fromDirty.EngineModel.Centroids.ToArray());
        Assert.IsTrue(logs.Any(l => l.Contains("4 of 600 rows")), "a warning reports the skipped rows");

        // Scoring: the missing rows get key 0 and NaN distances; the others are scored normally.
        var scored = fromDirty.Transform(new TestDataView(dirty, D));
        var keys = Read.Keys(scored);
        var scores = Read.Scores(scored);
        foreach (int i in bad)
        {
            Assert.AreEqual(0u, keys[i]);
            Assert.IsTrue(scores[i].All(float.IsNaN));
        }
        Assert.IsTrue(keys.Where((_, i) => !bad.Contains(i)).All(k => k is >= 1 and <= 3));
    }

    [TestMethod]
    public void CosineModelsGiveMissingRowsKeyZeroInTransformAndRowMapper()
    {
        // The missing row was zeroed before scoring, and cosine scoring rejects a zero row ("has zero length"),
        // so one NaN row made the whole cursor (and PredictionEngine) throw.
        var (rows, _) = Blobs.Make(300, D, 3, 6, seed: 41);
        var options = new GpuKMeansTrainer.Options { NumberOfClusters = 3, Device = ComputeDevice.Cpu, Distance = KMeansDistance.Cosine, Seed = 1 };
        var model = new MLContext().Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, D));
        var dirty = (float[])rows.Clone();
        dirty[7 * D + 4] = float.NaN;
        var scored = model.Transform(new TestDataView(dirty, D));
        var keys = Read.Keys(scored);
        var scores = Read.Scores(scored);
        Assert.AreEqual(0u, keys[7]);
        Assert.IsTrue(scores[7].All(float.IsNaN));
        Assert.IsTrue(keys.Where((_, i) => i != 7).All(k => k is >= 1 and <= 3));
        var (mapperScores, mapperKeys) = Read.ThroughRowMapper(model, new TestDataView(dirty, D));
        CollectionAssert.AreEqual(keys, mapperKeys);
        for (int i = 0; i < scores.Length; i++)
            CollectionAssert.AreEqual(scores[i], mapperScores[i], $"row {i}");
    }

    [TestMethod]
    public void WideFeatureVectorsTrainWithoutOverflowingTheBatchBuffer()
    {
        // 16384 rows × 140 000 features is more values than an array holds: with no memory budget the
        // trainer's batch buffer failed with "Arithmetic operation resulted in an overflow".
        const int wide = 140_000;
        var rows = new float[3 * wide];
        rows[0] = 1;
        rows[wide + 1] = 2;
        rows[2 * wide + 2] = 3;
        var options = new GpuKMeansTrainer.Options { NumberOfClusters = 2, Device = ComputeDevice.Cpu, DeviceMemoryBudgetMb = null };
        var model = new MLContext().Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, wide));
        Assert.AreEqual(3L, model.TrainingSummary!.RowsUsed);
        Assert.AreEqual(wide, model.Dimension);
        CollectionAssert.AreEquivalent(new uint[] { 1, 2 }, Read.Keys(model.Transform(new TestDataView(rows, wide))).Distinct().ToArray());
    }

    [TestMethod]
    public void InitialCentroidsAreCopiedWithTheOptions()
    {
        var (rows, _) = Blobs.Make(200, D, 3, 6, seed: 51);
        var initial = Blobs.PickRows(rows, D, 3, seed: 52);
        var options = Explicit(initial, 3);
        options.MaximumNumberOfIterations = 1;
        var reference = new MLContext().Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, D));
        var trainer = new MLContext().Clustering.Trainers.FlashKMeans(options);
        // "The settings; they are copied": neither the caller's array nor GetOptions' copy may reach the trainer.
        initial[0] = 1e6f;
        trainer.GetOptions().InitialCentroids![1] = -1e6f;
        var model = trainer.Fit(new TestDataView(rows, D));
        CollectionAssert.AreEqual(reference.EngineModel.Centroids.ToArray(), model.EngineModel.Centroids.ToArray());
    }

    [TestMethod]
    public void ARowTooLongForFloatDistancesIsNamedByItsRowInTheInput()
    {
        var (rows, _) = Blobs.Make(100, D, 3, 6, seed: 61);
        rows[2 * D] = float.NaN; // skipped, so the engine's own count of rows is one behind the input's from here on
        rows[5 * D + 3] = 1e20f;
        var e = Assert.ThrowsExactly<InvalidOperationException>(() =>
            new MLContext().Clustering.Trainers.FlashKMeans(numberOfClusters: 3).Fit(new TestDataView(rows, D)));
        StringAssert.Contains(e.Message, "Row 5 ");
        StringAssert.Contains(e.Message, "'Features'");
        StringAssert.Contains(e.Message, "overflow");
    }

    [TestMethod]
    public void DataWithNoUsableRowOrTooFewRowsIsRejectedClearly()
    {
        var rows = Enumerable.Repeat(float.NaN, 20 * D).ToArray();
        var ml = new MLContext();
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 2).Fit(new TestDataView(rows, D)));
        StringAssert.Contains(e.Message, "All 20 rows");
        StringAssert.Contains(e.Message, "'Features'");

        var (few, _) = Blobs.Make(4, D, 2, 5, seed: 3);
        var tooMany = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 5).Fit(new TestDataView(few, D)));
        StringAssert.Contains(tooMany.Message, "NumberOfClusters");
    }

    [TestMethod]
    public void MissingFeaturesCanBeAnError()
    {
        var (rows, _) = Blobs.Make(200, D, 2, 6, seed: 41);
        rows[57 * D + 1] = float.NaN;
        var options = new GpuKMeansTrainer.Options { NumberOfClusters = 2, TreatMissingFeaturesAsError = true, Device = ComputeDevice.Cpu };
        var view = new TestDataView(rows, D);
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => new MLContext().Clustering.Trainers.FlashKMeans(options).Fit(view));
        StringAssert.Contains(e.Message, "Row 57");
        StringAssert.Contains(e.Message, "'Features'");
        Assert.AreEqual(0, view.OpenCursors);
    }

    [TestMethod]
    public void ACursorThatFailsMidwayGivesAClearErrorAndLeaksNothing()
    {
        var (rows, _) = Blobs.Make(500, D, 3, 6, seed: 51);
        // Fail on the third cursor (a Lloyd pass, after validation and seeding started), at row 321.
        var view = new TestDataView(rows, D) { ThrowAt = (3, 321) };
        var options = new GpuKMeansTrainer.Options { NumberOfClusters = 3, Device = ComputeDevice.Cpu, BatchSize = 64, DeviceMemoryBudgetMb = null };
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => new MLContext().Clustering.Trainers.FlashKMeans(options).Fit(view));
        StringAssert.Contains(e.Message, "row 321");
        StringAssert.Contains(e.Message, "disk read failed");
        Assert.IsInstanceOfType<IOException>(e.InnerException);
        Assert.AreEqual(0, view.OpenCursors, "every cursor the trainer opened was disposed");
    }

    [TestMethod]
    public void ByDefaultOnlyTheFirstPassReadsTheCursorAndAFailureThereLeaksNothing()
    {
        var (rows, _) = Blobs.Make(500, D, 3, 6, seed: 52);
        var view = new TestDataView(rows, D);
        var model = new MLContext().Clustering.Trainers.FlashKMeans(numberOfClusters: 3).Fit(view);
        Assert.AreEqual(1, view.CursorsOpened);
        Assert.AreEqual(1, model.TrainingSummary!.CursorPasses);

        var failing = new TestDataView(rows, D) { ThrowAt = (1, 400) };
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => new MLContext().Clustering.Trainers.FlashKMeans(numberOfClusters: 3).Fit(failing));
        StringAssert.Contains(e.Message, "row 400");
        Assert.AreEqual(0, failing.OpenCursors);
    }

    [TestMethod]
    public void ProgressAndLogLinesReportIterations()
    {
        var (rows, _) = Blobs.Make(500, D, 3, 6, seed: 61);
        var ml = new MLContext();
        var logs = new List<string>();
        ml.Log += (_, e) => logs.Add(e.Message);
        var reports = new List<KMeansProgress>();
        var options = new GpuKMeansTrainer.Options
        {
            NumberOfClusters = 3,
            MaximumNumberOfIterations = 4,
            OptimizationTolerance = 0,
            Device = ComputeDevice.Cpu,
            Progress = new SyncProgress(reports.Add),
        };
        var model = ml.Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, D));
        Assert.IsNotEmpty(reports);
        Assert.AreEqual(model.EngineModel.Inertia, reports[^1].Inertia, 1e-9 * model.EngineModel.Inertia);
        Assert.IsTrue(logs.Any(l => l.Contains("iteration") && l.Contains("inertia")), string.Join("\n", logs));
        Assert.IsTrue(logs.Any(l => l.Contains("trained on 500 rows")), string.Join("\n", logs));
        Assert.AreEqual(KMeansPhase.Validation, reports[0].Phase);
        Assert.AreEqual(500L, reports.Last(r => r.Phase == KMeansPhase.Validation).RowsRead);
        Assert.AreEqual(KMeansPhase.Seeding, reports.First(r => r.Phase != KMeansPhase.Validation).Phase);
        Assert.IsTrue(logs.Any(l => l.Contains("validation pass") && l.Contains("500 rows")), string.Join("\n", logs));
        Assert.IsTrue(logs.Any(l => l.Contains("seeding") && l.Contains("100%")), string.Join("\n", logs));
    }

    [TestMethod]
    public void WorksInsideAPipelineBuiltGenerically()
    {
        var (rows, truth) = Blobs.Make(800, D, 4, 8, seed: 71);
        var ml = new MLContext();
        // Split the features into two columns and let Concatenate rebuild them, as real pipelines do.
        var view = new TestDataView(rows, D, featureName: "Raw");
        IEstimator<ITransformer> pipeline = ml.Transforms.Concatenate("Features", "Raw");
        pipeline = pipeline.Append(ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 4));
        var model = pipeline.Fit(view);
        var keys = Read.Keys(model.Transform(view));
        Assert.AreEqual(800, keys.Length);
        for (int blob = 0; blob < 4; blob++)
            Assert.AreEqual(1, keys.Where((_, i) => truth[i] == blob).Distinct().Count());
    }

    private sealed class SyncProgress(Action<KMeansProgress> report) : IProgress<KMeansProgress>
    {
        public void Report(KMeansProgress value) => report(value);
    }
}
