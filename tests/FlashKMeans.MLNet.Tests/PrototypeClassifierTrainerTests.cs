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
