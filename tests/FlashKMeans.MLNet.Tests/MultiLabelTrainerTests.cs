using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// The multi-label trainer through ML.NET: Boolean and 0/1 Single label vectors, the predicted tag vector equal to the
/// engine's on the same rows (through a data view and a PredictionEngine), and a label of the wrong type refused.
/// </summary>
[TestClass]
public sealed class MultiLabelTrainerTests
{
    private const int D = 4, Tags = 3;

    public sealed class Tagged
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];

        [VectorType(Tags)]
        public bool[] Label { get; set; } = [];
    }

    public sealed class Weighted01
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];

        [VectorType(Tags)]
        public float[] Label { get; set; } = [];
    }

    public sealed class Scalar
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    public sealed class Output
    {
        [VectorType(Tags)]
        public bool[] PredictedLabel { get; set; } = [];

        [VectorType(Tags)]
        public float[] Score { get; set; } = [];
    }

    private static List<Tagged> Make(int n, int seed)
    {
        var centres = new[] { new[] { 0f, 0, 0, 0 }, new[] { 20f, 0, 0, 0 }, new[] { 0f, 20, 0, 0 } };
        var sets = new[] { new[] { true, false, false }, new[] { false, true, false }, new[] { true, false, true } };
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            int c = random.Next(3);
            return new Tagged { Features = centres[c].Select(v => (float)(v + Blobs.Normal(random))).ToArray(), Label = sets[c].ToArray() };
        }).ToList();
    }

    [TestMethod]
    public void Predicted_tags_are_the_engines_through_a_view_and_a_prediction_engine()
    {
        var ml = new MLContext(seed: 1);
        var train = Make(1500, seed: 2);
        var test = Make(300, seed: 3);
        var trainer = new MultiLabelTrainer(new MultiLabelTrainer.Options { Classifier = new MultiLabelOptions { PrototypesPerTag = 4 } }, ml);
        var model = trainer.Fit(ml.Data.LoadFromEnumerable(train));
        var outputs = ml.Data.CreateEnumerable<Output>(model.Transform(ml.Data.LoadFromEnumerable(test)), reuseRowObject: false).ToList();
        var expected = model.Model.Predict(test.SelectMany(t => t.Features).ToArray());
        for (int r = 0; r < 300; r++)
            CollectionAssert.AreEqual(expected.AsSpan(r * Tags, Tags).ToArray(), outputs[r].PredictedLabel, $"row {r}");
        Assert.IsTrue(Enumerable.Range(0, 300).Count(r => outputs[r].PredictedLabel.SequenceEqual(test[r].Label)) >= 295);
        var engine = ml.Model.CreatePredictionEngine<Tagged, Output>(model);
        for (int r = 0; r < 10; r++)
            CollectionAssert.AreEqual(outputs[r].PredictedLabel, engine.Predict(test[r]).PredictedLabel);

        // 0/1 Single labels train the same model.
        var asFloats = train.Select(t => new Weighted01 { Features = t.Features, Label = t.Label.Select(b => b ? 1f : 0f).ToArray() });
        var fromFloats = trainer.Fit(ml.Data.LoadFromEnumerable(asFloats));
        CollectionAssert.AreEqual(model.Model.Prototypes.ToArray(), fromFloats.Model.Prototypes.ToArray());
    }

    [TestMethod]
    public void A_scalar_label_is_refused_by_name()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 10).Select(i => new Scalar { Features = [i, 0, 0, 0], Label = i }));
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MultiLabelTrainer(new MultiLabelTrainer.Options()).Fit(data));
        StringAssert.Contains(e.Message, "'Label'");
    }
}
