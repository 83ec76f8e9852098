using FlashKMeans.MLNet.Onnx;
using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// Prototype models as portable ML.NET models: saved with <c>mlContext.Model.Save</c> and loaded with
/// <c>mlContext.Model.Load</c>, they append the columns the fitted transformers append, with the same values up to
/// float32 rounding, for every routing, distance and threshold rule; rows with a NaN feature stay unscored.
/// </summary>
[TestClass]
public sealed class PortableModelTests
{
    private const int D = 6;

    public sealed class Example
    {
        public string Label { get; set; } = "";

        public float Target { get; set; }

        [VectorType(2)]
        public float[] Targets { get; set; } = [];

        [VectorType(3)]
        public bool[] Tags { get; set; } = [];

        [VectorType(D)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>Four classes of two blobs each; targets and tags derived from the blob; the last row has a NaN feature.</summary>
    internal static List<Example> Make(int n, int seed, double offset = 0)
    {
        var names = new[] { "ant", "bee", "cat", "dog" };
        var (rows, truth) = Blobs.Make(n, D, centers: 8, spread: 4, seed: 42);
        var random = new Random(seed);
        var examples = Enumerable.Range(0, n).Select(r => new Example
        {
            Label = names[truth[r] % 4],
            Target = truth[r] + (float)(0.3 * Blobs.Normal(random)),
            Targets = [truth[r], -2f * truth[r]],
            Tags = [truth[r] % 2 == 0, truth[r] % 3 == 0, truth[r] >= 4],
            Features = rows.Skip(r * D).Take(D).Select(v => (float)(offset + v + 0.5 * Blobs.Normal(random))).ToArray(),
        }).ToList();
        examples[^1].Features[2] = float.NaN;
        return examples;
    }

    /// <summary>Saves to a zip and loads it in a fresh context, as another application would.</summary>
    private static ITransformer RoundTrip(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(model, schema, zip);
        zip.Position = 0;
        return new MLContext(seed: 9).Model.Load(zip, out _);
    }

    private static float[][] Vectors(IDataView view, string column) =>
        view.GetColumn<VBuffer<float>>(column).Select(v => v.DenseValues().ToArray()).ToArray();

    private static void AssertClose(float[][] expected, float[][] actual, double tolerance, string what)
    {
        Assert.AreEqual(expected.Length, actual.Length, what);
        for (int r = 0; r < expected.Length; r++)
        {
            Assert.AreEqual(expected[r].Length, actual[r].Length, $"{what}, row {r}");
            for (int j = 0; j < expected[r].Length; j++)
            {
                if (float.IsNaN(expected[r][j]))
                    Assert.IsTrue(float.IsNaN(actual[r][j]), $"{what}, row {r}, value {j}: {actual[r][j]} for NaN");
                else
                    Assert.AreEqual(expected[r][j], actual[r][j], tolerance * (1 + Math.Abs(expected[r][j])), $"{what}, row {r}, value {j}");
            }
        }
    }

    [TestMethod]
    [DataRow(PrototypeRouting.Scaled, KMeansDistance.SquaredEuclidean, false)]
    [DataRow(PrototypeRouting.Hard, KMeansDistance.SquaredEuclidean, true)]
    [DataRow(PrototypeRouting.Softmax, KMeansDistance.Cosine, false)]
    [DataRow(PrototypeRouting.Mean, KMeansDistance.Manhattan, false)]
    public void Classifier_saves_loads_and_scores_as_the_fitted_transformer(PrototypeRouting routing, KMeansDistance distance, bool featureWeights)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Make(1500, seed: 2));
        var test = ml.Data.LoadFromEnumerable(Make(600, seed: 3));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data);
        var trainer = ml.MulticlassClassification.Trainers.FlashKMeans(new PrototypeClassifierTrainer.Options
        {
            Classifier = new PrototypeClassifierOptions
            {
                PrototypesPerClass = 3, Routing = routing, Temperature = 0.2, Distance = distance, Seed = 4,
                FineTuning = { Epochs = featureWeights ? 3 : 0, LearnFeatureWeights = featureWeights },
            },
        });
        var fitted = trainer.Fit(keys.Transform(data));
        var expected = fitted.Transform(keys.Transform(test));
        var loaded = RoundTrip(ml, fitted.ToPortableModel(ml), keys.Transform(test).Schema);
        var actual = loaded.Transform(keys.Transform(test));

        AssertClose(Vectors(expected, "Score"), Vectors(actual, "Score"), 1e-4, "Score");
        var want = expected.GetColumn<uint>("PredictedLabel").ToArray();
        var got = actual.GetColumn<uint>("PredictedLabel").ToArray();
        Assert.AreEqual(0u, got[^1], "a row with a NaN feature gets the missing key");
        Assert.IsTrue(want.Zip(got).Count(p => p.First != p.Second) <= 2, $"{want.Zip(got).Count(p => p.First != p.Second)} labels differ");

        // The predicted key carries the label's values: Evaluate and MapKeyToValue work on the loaded model's output.
        var metrics = ml.MulticlassClassification.Evaluate(actual);
        Assert.AreEqual(ml.MulticlassClassification.Evaluate(expected).MicroAccuracy, metrics.MicroAccuracy, 0.005);
        string[] Text(IDataView view) => ml.Transforms.Conversion.MapKeyToValue("Text", "PredictedLabel").Fit(view).Transform(view)
            .GetColumn<ReadOnlyMemory<char>>("Text").Select(t => t.ToString()).ToArray();
        var (wantText, gotText) = (Text(expected), Text(actual));
        Assert.IsTrue(wantText.Zip(gotText).Count(p => p.First != p.Second) <= 2, "the predicted labels map back to the same values");
    }

    [TestMethod]
    [DataRow(false, PrototypeRouting.Scaled)]
    [DataRow(true, PrototypeRouting.Softmax)]
    public void Regressor_saves_loads_and_scores_as_the_fitted_transformer(bool vectorTargets, PrototypeRouting routing)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Make(1500, seed: 5));
        var test = ml.Data.LoadFromEnumerable(Make(600, seed: 6));
        var fitted = ml.Regression.Trainers.FlashKMeans(new PrototypeRegressionTrainer.Options
        {
            LabelColumnName = vectorTargets ? "Targets" : "Target",
            Regressor = new PrototypeRegressorOptions { TargetStrata = 4, PrototypesPerStratum = 3, Routing = routing, Temperature = 0.3, Seed = 2 },
        }).Fit(data);
        var loaded = RoundTrip(ml, fitted.ToPortableModel(ml), test.Schema);
        var expected = fitted.Transform(test);
        var actual = loaded.Transform(test);
        if (vectorTargets)
        {
            AssertClose(Vectors(expected, "Score"), Vectors(actual, "Score"), 1e-4, "Score");
            return;
        }
        var want = expected.GetColumn<float>("Score").Select(v => new[] { v }).ToArray();
        var got = actual.GetColumn<float>("Score").Select(v => new[] { v }).ToArray();
        AssertClose(want, got, 1e-4, "Score");
        var metrics = ml.Regression.Evaluate(actual, labelColumnName: "Target");
        Assert.AreEqual(ml.Regression.Evaluate(expected, labelColumnName: "Target").RSquared, metrics.RSquared, 1e-3);
    }

    [TestMethod]
    [DataRow(TagThreshold.Gap)]
    [DataRow(TagThreshold.Fixed)]
    public void Multi_label_saves_loads_and_tags_as_the_fitted_transformer(TagThreshold threshold)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Make(1500, seed: 7));
        var test = ml.Data.LoadFromEnumerable(Make(600, seed: 8));
        var fitted = new MultiLabelTrainer(new MultiLabelTrainer.Options
        {
            LabelColumnName = "Tags",
            Classifier = new MultiLabelOptions { PrototypesPerTag = 3, Threshold = threshold, FixedThreshold = 0.05, Seed = 3 },
        }).Fit(data);
        var loaded = RoundTrip(ml, fitted.ToPortableModel(ml), test.Schema);
        var expected = fitted.Transform(test);
        var actual = loaded.Transform(test);
        AssertClose(Vectors(expected, "Score"), Vectors(actual, "Score"), 1e-4, "Score");
        var want = expected.GetColumn<VBuffer<bool>>("PredictedLabel").Select(v => v.DenseValues().ToArray()).ToArray();
        var got = actual.GetColumn<VBuffer<bool>>("PredictedLabel").Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.IsTrue(got[^1].All(t => !t), "a row with a NaN feature gets no tag");
        var expectedScores = Vectors(expected, "Score");
        var actualScores = Vectors(actual, "Score");
        // Where a row's scores tie to float32 rounding (a blob that carries several tags gives each tag a prototype at
        // the same place), the order of the tied tags, and so the gap's cut, is the arithmetic's choice: compare the others.
        bool Tied(float[] row) => row.SelectMany((a, i) => row.Skip(i + 1).Select(b => Math.Abs(a - b) <= 1e-4 * Math.Abs(a))).Any(t => t);
        var compared = Enumerable.Range(0, want.Length).Where(r => threshold == TagThreshold.Fixed || !Tied(expectedScores[r])).ToList();
        Assert.IsTrue(compared.Count > 300, $"{compared.Count} rows without tied scores");
        var differing = compared.Where(r => !want[r].SequenceEqual(got[r])).ToList();
        Assert.IsTrue(differing.Count <= 2, $"{differing.Count} rows' tags differ, e.g. row {differing.FirstOrDefault()}: scores "
            + string.Join(" ", expectedScores[differing.FirstOrDefault()]) + " / " + string.Join(" ", actualScores[differing.FirstOrDefault()])
            + ", tags " + string.Join("", want[differing.FirstOrDefault()].Select(b => b ? 1 : 0)) + " / " + string.Join("", got[differing.FirstOrDefault()].Select(b => b ? 1 : 0)));
        Assert.IsTrue(got.Count(t => t.Any(x => x)) > 400, $"{got.Count(t => t.Any(x => x))} rows get tags, {want.Count(t => t.Any(x => x))} in memory");
    }
}
