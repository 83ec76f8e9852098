using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// The plugin inside ML.NET's own machinery: model zips written and read by ML.NET, ML.NET's scorer,
/// evaluator, PredictionEngine, normalisers and caching.
/// </summary>
[TestClass]
public sealed class RealMLNetTests
{
    private const int D = 10;

    public sealed class Row
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];

        // Clustering.Evaluate accepts a Single or key label.
        public float Truth { get; set; }
    }

    public sealed class Prediction
    {
        public uint PredictedLabel { get; set; }

        public float[] Score { get; set; } = [];
    }

    private static (MLContext Ml, IDataView Data, Row[] Rows) Data(int n = 2000, int k = 6)
    {
        var (rows, truth) = Blobs.Make(n, D, k, 6, seed: 99);
        var list = Enumerable.Range(0, n).Select(i => new Row { Features = rows.AsSpan(i * D, D).ToArray(), Truth = truth[i] }).ToArray();
        var ml = new MLContext(seed: 1);
        return (ml, ml.Data.LoadFromEnumerable(list), list);
    }

    private static void AssertSameScoring(IDataView expected, IDataView actual)
    {
        var keysA = Read.Keys(expected);
        var keysB = Read.Keys(actual);
        var scoresA = Read.Scores(expected);
        var scoresB = Read.Scores(actual);
        Assert.HasCount(keysA.Length, keysB);
        for (int i = 0; i < keysA.Length; i++)
        {
            // ML.NET computes |x|² + |c|² − 2x·c; the engine may sum in another order: equal up to float rounding.
            for (int c = 0; c < scoresA[i].Length; c++)
                Assert.AreEqual(scoresA[i][c], scoresB[i][c], 1e-4f * Math.Max(1f, scoresA[i][c]), $"row {i}, cluster {c}");
            if (keysA[i] != keysB[i])
            {
                // Only a tie within rounding may pick a different centroid.
                Assert.AreEqual(scoresA[i][keysA[i] - 1], scoresA[i][keysB[i] - 1], 1e-4f * Math.Max(1f, scoresA[i][keysA[i] - 1]), $"row {i}");
            }
        }
    }

    /// <summary>Each annotation of a column as "name: type = value".</summary>
    private static string[] AnnotationsOf(DataViewSchema.Column column) => column.Annotations.Schema.Select(a =>
    {
        string value = a.Type switch
        {
            TextDataViewType => Get<ReadOnlyMemory<char>>(column, a.Name).ToString(),
            KeyDataViewType => Get<uint>(column, a.Name).ToString(),
            _ => "?",
        };
        return $"{a.Name}: {a.Type} = {value}";
    }).OrderBy(x => x, StringComparer.Ordinal).ToArray();

    private static T Get<T>(DataViewSchema.Column column, string name)
    {
        T value = default!;
        column.Annotations.GetValue(name, ref value);
        return value;
    }

    [TestMethod]
    public void ScoreColumnsCarryTheAnnotationsOfMLNetsOwnScorer()
    {
        var (ml, data, _) = Data(600, 4);
        var ours = ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 4).Fit(data);
        var theirs = ml.Clustering.Trainers.KMeans(numberOfClusters: 4).Fit(data);
        foreach (var name in new[] { "Score", "PredictedLabel" })
        {
            CollectionAssert.AreEqual(AnnotationsOf(theirs.Transform(data).Schema[name]), AnnotationsOf(ours.Transform(data).Schema[name]), name);
            CollectionAssert.AreEqual(AnnotationsOf(theirs.GetOutputSchema(data.Schema)[name]), AnnotationsOf(ours.GetOutputSchema(data.Schema)[name]), $"{name}, output schema");
            // A second scorer over scored data opens set 2, as ML.NET's does.
            var twiceTheirs = theirs.Transform(theirs.Transform(data)).Schema[name];
            var twiceOurs = ours.Transform(theirs.Transform(data)).Schema[name];
            CollectionAssert.AreEqual(AnnotationsOf(twiceTheirs), AnnotationsOf(twiceOurs), $"{name}, scored twice");
        }
        // The estimators promise the same annotations.
        var shape = new SchemaShape(new[] { MLNetInternals.ShapeColumn("Features", SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
        var promisedTheirs = ml.Clustering.Trainers.KMeans(numberOfClusters: 4).GetOutputSchema(shape);
        var promisedOurs = ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 4).GetOutputSchema(shape);
        foreach (var name in new[] { "Score", "PredictedLabel" })
        {
            var expected = promisedTheirs.Single(c => c.Name == name).Annotations.Select(a => $"{a.Name}:{a.Kind}:{a.ItemType}:{a.IsKey}").Order().ToArray();
            var actual = promisedOurs.Single(c => c.Name == name).Annotations.Select(a => $"{a.Name}:{a.Kind}:{a.ItemType}:{a.IsKey}").Order().ToArray();
            CollectionAssert.AreEqual(expected, actual, $"{name}, promised: {string.Join(", ", actual)}");
        }
    }

    [TestMethod]
    public void ZipLoadsAsMLNetsOwnKMeansAndScoresTheSame()
    {
        var (ml, data, _) = Data();
        var model = ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 6).Fit(data);
        var path = Path.Combine(Path.GetTempPath(), $"flashkmeans-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            // A fresh context, as in an application that never saw FlashKMeans's types.
            var other = new MLContext();
            var loadedModel = other.Model.Load(path, out var schema);
            // A single saved transformer may come back bare or as a one-element chain.
            var loaded = loadedModel is IEnumerable<ITransformer> chain ? chain.Single() : loadedModel;
            Assert.IsNotInstanceOfType<GpuKMeansTransformer>(loaded);
            Assert.IsInstanceOfType<ISingleFeaturePredictionTransformer<object>>(loaded);
            Assert.IsInstanceOfType<KMeansModelParameters>(((ISingleFeaturePredictionTransformer<object>)loaded).Model);
            Assert.AreEqual(data.Schema["Features"].Type, schema["Features"].Type);
            AssertSameScoring(model.Transform(data), loaded.Transform(data));

            // And back to FlashKMeans scoring.
            var again = loaded.ToFlashKMeans();
            CollectionAssert.AreEqual(model.EngineModel.Centroids.ToArray(), again.EngineModel.Centroids.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void PipelineZipWithNormaliserAndCacheRoundTrips()
    {
        var (ml, data, _) = Data();
        var pipeline = ml.Transforms.NormalizeMinMax("Features")
            .AppendCacheCheckpoint(ml)
            .Append(ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 6));
        var model = pipeline.Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = ml.Model.Load(stream, out _);
        AssertSameScoring(model.Transform(data), loaded.Transform(data));
        var fast = loaded.WithFlashKMeansScoring();
        AssertSameScoring(loaded.Transform(data), fast.Transform(data));
    }

    [TestMethod]
    public void EvaluateWorksOnOurOutputAndOnTheLoadedModel()
    {
        var (ml, data, _) = Data();
        var model = ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 6).Fit(data);
        var ours = ml.Clustering.Evaluate(model.Transform(data), labelColumnName: "Truth", featureColumnName: "Features");
        var theirs = ml.Clustering.Evaluate(model.ToMLNetTransformer().Transform(data), labelColumnName: "Truth", featureColumnName: "Features");
        Assert.AreEqual(theirs.AverageDistance, ours.AverageDistance, 1e-4 * theirs.AverageDistance);
        Assert.AreEqual(theirs.NormalizedMutualInformation, ours.NormalizedMutualInformation, 1e-6);
        Assert.IsGreaterThan(0.95, ours.NormalizedMutualInformation, "well-separated blobs are recovered");
    }

    [TestMethod]
    public void CrossValidationTrainsAndEvaluatesEveryFold()
    {
        var (ml, data, _) = Data();
        IEstimator<ITransformer> estimator = ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 6);
        var folds = ml.Clustering.CrossValidate(data, estimator, numberOfFolds: 3, labelColumnName: "Truth");
        Assert.HasCount(3, folds);
        foreach (var fold in folds)
        {
            Assert.IsNotNull(fold.Model);
            Assert.IsGreaterThan(0.9, fold.Metrics.NormalizedMutualInformation);
        }
    }

    [TestMethod]
    public void PredictionEngineScoresSingleRowsLikeTransform()
    {
        var (ml, data, rows) = Data(n: 500);
        var model = ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 6).Fit(data);
        var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
        var keys = Read.Keys(model.Transform(data));
        var scores = Read.Scores(model.Transform(data));
        for (int i = 0; i < rows.Length; i += 37)
        {
            var p = engine.Predict(rows[i]);
            Assert.AreEqual(keys[i], p.PredictedLabel, $"row {i}");
            CollectionAssert.AreEqual(scores[i], p.Score, $"row {i}");
        }
    }

    [TestMethod]
    public void MatchesMLNetKMeansQualityFromTheSameCatalogCall()
    {
        var (ml, data, _) = Data();
        var theirs = ml.Clustering.Trainers.KMeans(numberOfClusters: 6).Fit(data);
        var ours = ml.Clustering.Trainers.FlashKMeans(numberOfClusters: 6).Fit(data);
        var a = ml.Clustering.Evaluate(theirs.Transform(data), labelColumnName: "Truth");
        var b = ml.Clustering.Evaluate(ours.Transform(data), labelColumnName: "Truth");
        // Both should find the blobs; ours must be no worse than ML.NET's (small slack for local optima).
        Assert.IsLessThanOrEqualTo(a.AverageDistance * 1.02, b.AverageDistance);
    }
}
