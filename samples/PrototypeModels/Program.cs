// The three prototype models through ML.NET: a classifier, a regressor and a multi-label classifier, each condensing
// the training rows into a few prototypes and predicting from the nearest ones.
//
//   dotnet run -c Release --project samples/PrototypeModels
//
// 1. Classifier: grid (k-means per class), then fine-tuning (phase 2), evaluated; saved as a portable zip that plain
//    ML.NET loads, and loaded back.
// 2. Regressor: target strata, prototypes per stratum, each carrying a target; evaluated.
// 3. Multi-label classifier: prototypes per tag; tags chosen at the largest gap in the scores.
using FlashKMeans.MLNet;
using FlashKMeans.MLNet.Onnx;
using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;

var mlContext = new MLContext(seed: 0);
var train = mlContext.Data.LoadFromEnumerable(Sample.Generate(6000, seed: 1));
var test = mlContext.Data.LoadFromEnumerable(Sample.Generate(2000, seed: 2));

// 1. Classifier.
Console.WriteLine("Classifier (4 species, each two clusters in 2 of 8 features):");
var keys = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(Sample.Species)).Fit(train);
foreach (int epochs in new[] { 0, 30 })
{
    var classifier = mlContext.MulticlassClassification.Trainers.FlashKMeans(new PrototypeClassifierTrainer.Options
    {
        Classifier = new PrototypeClassifierOptions
        {
            PrototypesPerClass = 4,
            Routing = PrototypeRouting.Hard,
            FineTuning = new FineTuningOptions { Epochs = epochs },
        },
    }).Fit(keys.Transform(train));
    var metrics = mlContext.MulticlassClassification.Evaluate(classifier.Transform(keys.Transform(test)));
    Console.WriteLine($"  {(epochs == 0 ? "grid only " : $"fine-tuned")}: accuracy {metrics.MicroAccuracy:P1} with {classifier.Model.PrototypeClasses.Count} prototypes" +
                      (classifier.Model.FineTuning is { } tuning ? $" (learning rate {tuning.LearningRate:G3}, kept epoch {tuning.BestEpoch})" : ""));
    if (epochs == 0)
        continue;
    // Portable: a zip of ML.NET's own transformers, loadable where FlashKMeans is not referenced.
    string path = Path.Combine(Path.GetTempPath(), "flashkmeans-classifier.zip");
    mlContext.Model.Save(classifier.ToPortableModel(mlContext), keys.Transform(train).Schema, path);
    var loaded = mlContext.Model.Load(path, out _);
    var loadedMetrics = mlContext.MulticlassClassification.Evaluate(loaded.Transform(keys.Transform(test)));
    Console.WriteLine($"  saved to {path} ({new FileInfo(path).Length / 1024} KiB), loaded: accuracy {loadedMetrics.MicroAccuracy:P1}");
    var back = (PrototypeClassifierTransformer)loaded.ToFlashKMeans(mlContext);
    Console.WriteLine($"  back to FlashKMeans: {back.Model.PrototypeClasses.Count} prototypes");
    File.Delete(path);
}

// 2. Regressor.
Console.WriteLine("Regressor (a smooth function of the features):");
var regressor = mlContext.Regression.Trainers.FlashKMeans(new PrototypeRegressionTrainer.Options
{
    LabelColumnName = nameof(Sample.Height),
    Regressor = new PrototypeRegressorOptions { TargetStrata = 8, PrototypesPerStratum = 8, Routing = PrototypeRouting.Scaled },
}).Fit(train);
var regression = mlContext.Regression.Evaluate(regressor.Transform(test), labelColumnName: nameof(Sample.Height));
Console.WriteLine($"  R² {regression.RSquared:F3}, RMS error {regression.RootMeanSquaredError:F3} with {regressor.Model.PrototypeTargets.Length} prototypes");

// 3. Multi-label classifier.
Console.WriteLine("Multi-label classifier (3 tags per row, any subset):");
// ML.NET has no multi-label catalog: the trainer is created directly.
var tagger = new MultiLabelTrainer(new MultiLabelTrainer.Options
{
    LabelColumnName = nameof(Sample.Tags),
    Classifier = new MultiLabelOptions { PrototypesPerTag = 4 },
}).Fit(train);
var truth = test.GetColumn<bool[]>(nameof(Sample.Tags)).ToArray();
var predicted = tagger.Transform(test).GetColumn<VBuffer<bool>>("PredictedLabel").Select(v => v.DenseValues().ToArray()).ToArray();
double exact = truth.Zip(predicted).Count(p => p.First.SequenceEqual(p.Second)) / (double)truth.Length;
Console.WriteLine($"  rows whose tags are all right: {exact:P1}");

/// <summary>A synthetic row: 8 features, 2 of them around one of 8 centres; species, height and tags follow from the centre.</summary>
internal sealed class Sample
{
    public string Species { get; set; } = "";

    public float Height { get; set; }

    [VectorType(3)]
    public bool[] Tags { get; set; } = [];

    [VectorType(8)]
    public float[] Features { get; set; } = [];

    public static IEnumerable<Sample> Generate(int count, int seed)
    {
        var centres = new Random(42);
        var means = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 8).Select(_ => 6 * centres.NextDouble() - 3).ToArray()).ToArray();
        string[] species = ["ash", "birch", "cedar", "dogwood"];
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            int c = random.Next(8);
            // Two features carry the centre; six are wide noise, which k-means weighs as much as the signal and
            // fine-tuning learns to discount.
            var features = means[c].Select((m, j) => (float)(j < 2 ? m + 0.5 * Normal(random) : 2.5 * Normal(random))).ToArray();
            yield return new Sample
            {
                Species = species[c % 4],
                Height = (float)(Math.Sin(features[0]) + 0.5 * features[1] * features[1]),
                Tags = [c % 2 == 0, c % 3 == 0, c >= 5],
                Features = features,
            };
        }
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
