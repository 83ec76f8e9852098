using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// The prototype classifier through ML.NET: text labels mapped to keys, the multiclass evaluator's accuracy equal to the
/// engine's on the same rows, PredictionEngine, labels mapped back to text, and a label column of the wrong type.
/// </summary>
[TestClass]
public sealed class PrototypeClassifierTrainerTests
{
    private const int D = 6;

    public sealed class Example
    {
        public string Label { get; set; } = "";

        [VectorType(D)]
        public float[] Features { get; set; } = [];
    }

    public sealed class Prediction
    {
        public string PredictedText { get; set; } = "";

        public float[] Score { get; set; } = [];
    }

    private static List<Example> Make(int n, int seed)
    {
        var names = new[] { "ant", "bee", "cat", "dog" };
        var (rows, truth) = Blobs.Make(n, D, centers: 8, spread: 6, seed: 42);
        var random = new Random(seed);
        // Eight blobs, two per class: each class is bimodal.
        return Enumerable.Range(0, n).Select(r => new Example
        {
            Label = names[truth[r] % 4],
            Features = rows.Skip(r * D).Take(D).Select(v => v + (float)(0.01 * Blobs.Normal(random))).ToArray(),
        }).ToList();
    }

    [TestMethod]
    public void Fit_with_a_previous_model_continues_its_fine_tuning()
    {
        var ml = new MLContext(seed: 1);
        var all = Make(3000, seed: 5);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(all)).Transform(ml.Data.LoadFromEnumerable(all));
        var options = new PrototypeClassifierTrainer.Options
        {
            Classifier = new PrototypeClassifierOptions { PrototypesPerClass = 2, Seed = 3, FineTuning = { Epochs = 2, LearningRate = 0.05 } },
        };
        var first = ml.MulticlassClassification.Trainers.FlashKMeans(options).Fit(data);
        var grid = ml.MulticlassClassification.Trainers.FlashKMeans(new PrototypeClassifierTrainer.Options
        {
            Classifier = new PrototypeClassifierOptions { PrototypesPerClass = 2, Seed = 3 },
        }).Fit(data);
        // Continued with a vanishing step, the prototypes stay where the first model left them, not where k-means put them.
        options.Classifier.FineTuning.LearningRate = 1e-9;
        var continued = ml.MulticlassClassification.Trainers.FlashKMeans(options).Fit(data, first);
        Assert.IsNotNull(continued.Model.FineTuning);
        var (a, b, g) = (first.Model.Prototypes.ToArray(), continued.Model.Prototypes.ToArray(), grid.Model.Prototypes.ToArray());
        double fromFirst = a.Zip(b).Max(p => Math.Abs(p.First - p.Second)), fromGrid = g.Zip(b).Max(p => Math.Abs(p.First - p.Second));
        Assert.IsTrue(fromFirst < 1e-4 && fromGrid > 100 * fromFirst, $"moved {fromFirst:G3} from the first model, {fromGrid:G3} from the grid");
        CollectionAssert.AreEqual(first.Model.PrototypeClasses.ToArray(), continued.Model.PrototypeClasses.ToArray());
        var metrics = ml.MulticlassClassification.Evaluate(continued.Transform(data));
        Assert.IsTrue(metrics.MicroAccuracy > 0.9, $"accuracy {metrics.MicroAccuracy}");
    }

    [TestMethod]
    public void Evaluate_and_PredictionEngine_work_and_agree_with_the_engine()
    {
        var ml = new MLContext(seed: 1);
        var all = Make(4000, seed: 2);
        var train = ml.Data.LoadFromEnumerable(all.Take(3000));
        var test = ml.Data.LoadFromEnumerable(all.Skip(3000));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.FlashKMeans(new PrototypeClassifierTrainer.Options
            {
                Classifier = new PrototypeClassifierOptions { PrototypesPerClass = 4, Seed = 3 },
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));
        var model = pipeline.Fit(train);
        var scored = model.Transform(test);
        var metrics = ml.MulticlassClassification.Evaluate(scored);

        // The engine on the same rows, with the same class indices (keys in order of first appearance).
        var classifier = model.OfType<PrototypeClassifierTransformer>().Single();
        var keyOrder = all.Take(3000).Select(e => e.Label).Distinct().ToList();
        var testRows = all.Skip(3000).SelectMany(e => e.Features).ToArray();
        var predicted = classifier.Model.Predict(testRows);
        double engineAccuracy = predicted.Select((p, i) => keyOrder[p] == all[3000 + i].Label ? 1 : 0).Average();
        Assert.AreEqual(engineAccuracy, metrics.MicroAccuracy, 1e-9);
        Assert.IsTrue(metrics.MicroAccuracy > 0.9, $"accuracy {metrics.MicroAccuracy}");

        var engine = ml.Model.CreatePredictionEngine<Example, Prediction>(model);
        for (int i = 0; i < 20; i++)
        {
            var p = engine.Predict(all[3000 + i]);
            Assert.AreEqual(keyOrder[predicted[i]], p.PredictedText);
            Assert.AreEqual(4, p.Score.Length);
            Assert.AreEqual(1.0, p.Score.Sum(), 1e-5);
        }
    }

    public sealed class Sample
    {
        public float Label { get; set; }

        [VectorType(3)]
        public float[] Features { get; set; } = [];
    }

    public sealed class Estimate
    {
        public float Score { get; set; }
    }

    [TestMethod]
    public void The_regressor_evaluates_and_predicts_as_the_engine_does()
    {
        var random = new Random(7);
        var samples = Enumerable.Range(0, 3000).Select(_ =>
        {
            var x = Enumerable.Range(0, 3).Select(_ => (float)(4 * random.NextDouble() - 2)).ToArray();
            return new Sample { Features = x, Label = (float)(Math.Sin(2 * x[0]) + x[1] * x[1] - 0.5 * x[2]) };
        }).ToList();
        samples[5].Label = float.NaN;  // skipped, not trained on
        var ml = new MLContext(seed: 1);
        var model = ml.Regression.Trainers.FlashKMeans(new PrototypeRegressionTrainer.Options
        {
            Regressor = new PrototypeRegressorOptions { TargetStrata = 10, PrototypesPerStratum = 20 },
        }).Fit(ml.Data.LoadFromEnumerable(samples.Take(2500)));
        var test = samples.Skip(2500).ToList();
        var metrics = ml.Regression.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(test)));
        var predicted = model.Model.Predict(test.SelectMany(s => s.Features).ToArray());
        double mean = test.Average(s => (double)s.Label);
        double r2 = 1 - test.Select((s, i) => Math.Pow(s.Label - predicted[i], 2)).Sum() / test.Sum(s => Math.Pow(s.Label - mean, 2));
        Assert.AreEqual(r2, metrics.RSquared, 1e-6);
        Assert.IsTrue(metrics.RSquared > 0.8, $"R² {metrics.RSquared}");
        var engine = ml.Model.CreatePredictionEngine<Sample, Estimate>(model);
        for (int i = 0; i < 10; i++)
            Assert.AreEqual(predicted[i], engine.Predict(test[i]).Score, 1e-6f);
    }

    public sealed class VectorSample
    {
        [VectorType(2)]
        public float[] Label { get; set; } = [];

        [VectorType(3)]
        public float[] Features { get; set; } = [];
    }

    public sealed class VectorEstimate
    {
        [VectorType(2)]
        public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void Vector_targets_give_a_vector_score_equal_to_the_engines()
    {
        var random = new Random(9);
        var samples = Enumerable.Range(0, 1200).Select(_ =>
        {
            var x = Enumerable.Range(0, 3).Select(_ => (float)(4 * random.NextDouble() - 2)).ToArray();
            float y = (float)(Math.Sin(2 * x[0]) + x[1]);
            return new VectorSample { Features = x, Label = [y, 3 - 2 * y] };
        }).ToList();
        var ml = new MLContext(seed: 1);
        var model = ml.Regression.Trainers.FlashKMeans(new PrototypeRegressionTrainer.Options
        {
            Regressor = new PrototypeRegressorOptions { TargetStrata = 6, PrototypesPerStratum = 10 },
        }).Fit(ml.Data.LoadFromEnumerable(samples.Take(1000)));
        Assert.AreEqual(2, model.Model.TargetDimension);
        var test = samples.Skip(1000).ToList();
        var scores = ml.Data.CreateEnumerable<VectorEstimate>(model.Transform(ml.Data.LoadFromEnumerable(test)), reuseRowObject: false).ToList();
        var expected = model.Model.Predict(test.SelectMany(s => s.Features).ToArray());
        for (int r = 0; r < test.Count; r++)
        {
            CollectionAssert.AreEqual(expected.AsSpan(2 * r, 2).ToArray(), scores[r].Score, $"row {r}");
            Assert.AreEqual(3 - 2 * scores[r].Score[0], scores[r].Score[1], 1e-4);
        }
    }

    [TestMethod]
    public void A_label_that_is_not_a_key_is_refused_by_name()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Make(100, seed: 1));
        var trainer = ml.MulticlassClassification.Trainers.FlashKMeans(new PrototypeClassifierTrainer.Options());
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        StringAssert.Contains(e.Message, "MapValueToKey");
    }
}
