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

    [TestMethod]
    public void Models_that_ignore_missing_features_score_the_same_after_loading()
    {
        // A tenth of the values missing; the last row lacks every feature and stays unscored.
        static List<Example> Holed(int n, int seed)
        {
            var examples = Make(n, seed);
            var random = new Random(seed + 100);
            foreach (var e in examples)
            {
                for (int j = 0; j < D; j++)
                {
                    if (random.NextDouble() < 0.1)
                        e.Features[j] = float.NaN;
                }
                if (e.Features.All(float.IsNaN))
                    e.Features[0] = 0;
            }
            Array.Fill(examples[^1].Features, float.NaN);
            return examples;
        }
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Holed(1500, seed: 15));
        var test = ml.Data.LoadFromEnumerable(Holed(400, seed: 16));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data);
        var classifier = ml.MulticlassClassification.Trainers.FlashKMeans(new PrototypeClassifierTrainer.Options
        {
            Classifier = new PrototypeClassifierOptions { PrototypesPerClass = 3, Seed = 4, MissingFeatures = MissingFeatures.Ignore, FineTuning = { Epochs = 3 } },
        }).Fit(keys.Transform(data));
        var expected = classifier.Transform(keys.Transform(test));
        var actual = RoundTrip(ml, classifier.ToPortableModel(ml), keys.Transform(test).Schema).Transform(keys.Transform(test));
        AssertClose(Vectors(expected, "Score"), Vectors(actual, "Score"), 1e-4, "classifier Score");
        var want = expected.GetColumn<uint>("PredictedLabel").ToArray();
        var got = actual.GetColumn<uint>("PredictedLabel").ToArray();
        Assert.IsTrue(want.Zip(got).Count(p => p.First != p.Second) <= 2, "labels");
        Assert.AreEqual(0u, want[^1]);
        Assert.AreEqual(0u, got[^1]);
        Assert.IsTrue(want.SkipLast(1).All(k => k > 0), "rows with some features are scored");

        var regressor = ml.Regression.Trainers.FlashKMeans(new PrototypeRegressionTrainer.Options
        {
            LabelColumnName = "Target",
            Regressor = new PrototypeRegressorOptions { TargetStrata = 4, PrototypesPerStratum = 3, Seed = 2, MissingFeatures = MissingFeatures.Ignore },
        }).Fit(data);
        var wantScores = regressor.Transform(test).GetColumn<float>("Score").Select(v => new[] { v }).ToArray();
        var gotScores = RoundTrip(ml, regressor.ToPortableModel(ml), test.Schema).Transform(test).GetColumn<float>("Score").Select(v => new[] { v }).ToArray();
        AssertClose(wantScores, gotScores, 1e-4, "regressor Score");
        Assert.IsTrue(float.IsNaN(gotScores[^1][0]));
    }

    [TestMethod]
    public void A_loaded_portable_model_turns_back_into_the_fitted_model()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Make(1200, seed: 13));
        var test = ml.Data.LoadFromEnumerable(Make(300, seed: 14));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data);
        var classifier = ml.MulticlassClassification.Trainers.FlashKMeans(new PrototypeClassifierTrainer.Options
        {
            Classifier = new PrototypeClassifierOptions { PrototypesPerClass = 3, Routing = PrototypeRouting.Softmax, Temperature = 0.2, Seed = 4 },
        }).Fit(keys.Transform(data));
        var back = (PrototypeClassifierTransformer)RoundTrip(ml, classifier.ToPortableModel(ml), keys.Transform(test).Schema).ToFlashKMeans(ml);
        CollectionAssert.AreEqual(classifier.Model.Prototypes.ToArray(), back.Model.Prototypes.ToArray());
        CollectionAssert.AreEqual(classifier.Model.PrototypeClasses.ToArray(), back.Model.PrototypeClasses.ToArray());
        // Bit for bit the same predictions, key values included.
        var (want, got) = (classifier.Transform(keys.Transform(test)), back.Transform(keys.Transform(test)));
        CollectionAssert.AreEqual(want.GetColumn<uint>("PredictedLabel").ToArray(), got.GetColumn<uint>("PredictedLabel").ToArray());
        CollectionAssert.AreEqual(Vectors(want, "Score").SelectMany(v => v).ToArray(), Vectors(got, "Score").SelectMany(v => v).ToArray());
        VBuffer<ReadOnlyMemory<char>> a = default, b = default;
        want.Schema["PredictedLabel"].GetKeyValues(ref a);
        got.Schema["PredictedLabel"].GetKeyValues(ref b);
        CollectionAssert.AreEqual(a.DenseValues().Select(v => v.ToString()).ToArray(), b.DenseValues().Select(v => v.ToString()).ToArray());

        var regressor = ml.Regression.Trainers.FlashKMeans(new PrototypeRegressionTrainer.Options
        {
            LabelColumnName = "Targets",
            Regressor = new PrototypeRegressorOptions { TargetStrata = 3, PrototypesPerStratum = 2, Seed = 2 },
        }).Fit(data);
        var regressorBack = (PrototypeRegressionTransformer)RoundTrip(ml, regressor.ToPortableModel(ml), test.Schema).ToFlashKMeans(ml);
        CollectionAssert.AreEqual(Vectors(regressor.Transform(test), "Score").SelectMany(v => v).ToArray(),
            Vectors(regressorBack.Transform(test), "Score").SelectMany(v => v).ToArray());

        var tagger = new MultiLabelTrainer(new MultiLabelTrainer.Options
        {
            LabelColumnName = "Tags", Classifier = new MultiLabelOptions { PrototypesPerTag = 2, Seed = 3 },
        }).Fit(data);
        var taggerBack = (MultiLabelTransformer)RoundTrip(ml, tagger.ToPortableModel(ml), test.Schema).ToFlashKMeans(ml);
        CollectionAssert.AreEqual(
            tagger.Transform(test).GetColumn<VBuffer<bool>>("PredictedLabel").SelectMany(v => v.DenseValues()).ToArray(),
            taggerBack.Transform(test).GetColumn<VBuffer<bool>>("PredictedLabel").SelectMany(v => v.DenseValues()).ToArray());

        // Any other model is refused with a reason.
        var plain = ml.Transforms.NormalizeMinMax("Features").Fit(data);
        Assert.ThrowsExactly<ArgumentException>(() => plain.ToFlashKMeans(ml));
    }

    /// <summary>
    /// The check application next to this test assembly's build: tests/FlashKMeans.PortableModelCheck, built with the
    /// same configuration and Microsoft.ML.
    /// </summary>
    private static string CheckApplication()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);  // tests/FlashKMeans.MLNet.Tests/bin/<configuration>/<framework>/
        string framework = here.Name, configuration = here.Parent!.Name;
        var testsFolder = here.Parent!.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(testsFolder, "FlashKMeans.PortableModelCheck", "bin", configuration, framework, "FlashKMeans.PortableModelCheck.dll");
        Assert.IsTrue(File.Exists(path), $"{path} is missing: build the solution.");
        return path;
    }

    /// <summary>Runs the check application on <paramref name="zip"/> and the rows; returns its lines (scores | label).</summary>
    private static string[] RunCheck(string zip, float[][] rows, string featureColumn)
    {
        string features = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(features, System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.SelectMany(r => r).ToArray().AsSpan()).ToArray());
            var start = new System.Diagnostics.ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var argument in new[] { CheckApplication(), zip, features, rows[0].Length.ToString(System.Globalization.CultureInfo.InvariantCulture), featureColumn })
                start.ArgumentList.Add(argument);
            using var process = System.Diagnostics.Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            Assert.IsTrue(process.WaitForExit(120_000), "the check application did not finish in 2 minutes");
            Assert.AreEqual(0, process.ExitCode, errors.Result);
            return output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        finally
        {
            File.Delete(features);
        }
    }

    [TestMethod]
    public void An_application_without_FlashKMeans_loads_and_scores_the_saved_models()
    {
        var deps = File.ReadAllText(Path.ChangeExtension(CheckApplication(), ".deps.json"));
        Assert.IsFalse(deps.Contains("\"FlashKMeans/", StringComparison.Ordinal) || deps.Contains("FlashKMeans.MLNet", StringComparison.Ordinal),
            "the check application must not reference FlashKMeans");
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Make(1500, seed: 11));
        var testRows = Make(300, seed: 12);
        var test = ml.Data.LoadFromEnumerable(testRows);
        var features = testRows.Select(e => e.Features).ToArray();
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data);
        var classifier = ml.MulticlassClassification.Trainers.FlashKMeans(new PrototypeClassifierTrainer.Options
        {
            Classifier = new PrototypeClassifierOptions { PrototypesPerClass = 3, Seed = 4 },
        }).Fit(keys.Transform(data));
        var regressor = ml.Regression.Trainers.FlashKMeans(new PrototypeRegressionTrainer.Options
        {
            LabelColumnName = "Target",
            Regressor = new PrototypeRegressorOptions { TargetStrata = 4, PrototypesPerStratum = 3, Seed = 2 },
        }).Fit(data);
        var tagger = new MultiLabelTrainer(new MultiLabelTrainer.Options
        {
            LabelColumnName = "Tags",
            Classifier = new MultiLabelOptions { PrototypesPerTag = 3, Threshold = TagThreshold.Fixed, FixedThreshold = 0.2, Seed = 3 },
        }).Fit(data);
        var cases = new (string Name, ITransformer Fitted, ITransformer Portable, IDataView Input)[]
        {
            ("classifier", classifier, classifier.ToPortableModel(ml), keys.Transform(test)),
            ("regressor", regressor, regressor.ToPortableModel(ml), test),
            ("multi-label", tagger, tagger.ToPortableModel(ml), test),
        };
        foreach (var (name, fitted, portable, input) in cases)
        {
            string zip = Path.GetTempFileName();
            try
            {
                ml.Model.Save(portable, input.Schema, zip);
                var lines = RunCheck(zip, features, "Features");
                Assert.AreEqual(features.Length, lines.Length, name);
                var expected = fitted.Transform(input);
                var scores = expected.Schema["Score"].Type is VectorDataViewType
                    ? Vectors(expected, "Score")
                    : expected.GetColumn<float>("Score").Select(v => new[] { v }).ToArray();
                var loadedScores = lines.Select(l => l.Split('|')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToArray();
                AssertClose(scores, loadedScores, 1e-4, name);
                string[] labels = name switch
                {
                    "classifier" => expected.GetColumn<uint>("PredictedLabel").Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
                    "multi-label" => expected.GetColumn<VBuffer<bool>>("PredictedLabel").Select(v => string.Join(" ", v.DenseValues().Select(b => b ? "1" : "0"))).ToArray(),
                    _ => lines.Select(_ => "").ToArray(),
                };
                int differ = labels.Zip(lines).Count(p => p.First != p.Second.Split('|')[1].Trim());
                Assert.IsTrue(differ <= 2, $"{name}: {differ} predicted labels differ");
            }
            finally
            {
                File.Delete(zip);
            }
        }
    }
}
