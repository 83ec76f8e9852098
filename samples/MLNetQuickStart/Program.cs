// ML.NET quick start with FlashKMeans: load data, build a pipeline, fit, evaluate, save, load, predict.
//
//   dotnet run --project samples/MLNetQuickStart
//
// The only FlashKMeans-specific line is the trainer: ML.NET's
//     mlContext.Clustering.Trainers.KMeans("Features", numberOfClusters: 3)
// becomes
//     mlContext.Clustering.Trainers.FlashKMeans("Features", numberOfClusters: 3)
using FlashKMeans.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

var mlContext = new MLContext(seed: 0);
mlContext.Log += (_, e) =>
{
    if (e.Message.Contains("FlashKMeans: trained") || e.Message.Contains("iteration 1:"))
        Console.WriteLine($"  log: {e.Message}");
};

// 1. Load data. Here: 3 kinds of flowers, generated in memory. With a file, use
//    mlContext.Data.LoadFromTextFile<Flower>("iris.csv", separatorChar: ',', hasHeader: true) instead.
var flowers = Flower.Generate(count: 3000, seed: 1);
IDataView data = mlContext.Data.LoadFromEnumerable(flowers);

// 2. Build the pipeline: assemble the features into one vector, then cluster.
var pipeline = mlContext.Transforms.Concatenate("Features", nameof(Flower.SepalLength), nameof(Flower.SepalWidth),
        nameof(Flower.PetalLength), nameof(Flower.PetalWidth))
    .Append(mlContext.Clustering.Trainers.FlashKMeans("Features", numberOfClusters: 3));

// 3. Fit. Without a CUDA GPU this runs on the SIMD CPU backend; the log says which.
Console.WriteLine("Training...");
var model = pipeline.Fit(data);
var kmeans = model.LastTransformer;
Console.WriteLine($"Trained on {kmeans.TrainingSummary!.RowsUsed} rows with {kmeans.TrainingSummary.Backend}, " +
                  $"{kmeans.TrainingSummary.Iterations} iterations, inertia {kmeans.TrainingSummary.Inertia:F1}.");
var centroids = kmeans.GetCentroids();
for (int c = 0; c < centroids.Length; c++)
    Console.WriteLine($"  cluster {c + 1}: [{string.Join(", ", centroids[c].Select(v => v.ToString("F2")))}]");

// 4. Evaluate.
var scored = model.Transform(data);
var metrics = mlContext.Clustering.Evaluate(scored, labelColumnName: nameof(Flower.Species), featureColumnName: "Features");
Console.WriteLine($"Average distance {metrics.AverageDistance:F3}, NMI {metrics.NormalizedMutualInformation:F3}, " +
                  $"Davies-Bouldin {metrics.DaviesBouldinIndex:F3}");

// 5. Save and load. The zip holds ML.NET's own KMeans model, so an application without FlashKMeans can load it.
ITransformer servingModel = model;
var path = Path.Combine(Path.GetTempPath(), "flashkmeans-quickstart.zip");
mlContext.Model.Save(model, data.Schema, path);
var loaded = mlContext.Model.Load(path, out _);
Console.WriteLine($"Saved to {path} and loaded back as {loaded.GetType().Name}.");
// FlashKMeans scoring for the loaded pipeline (optional: ML.NET's own scorer gives the same columns).
servingModel = loaded.WithFlashKMeansScoring();

// 6. Predict single rows.
var engine = mlContext.Model.CreatePredictionEngine<Flower, ClusterPrediction>(servingModel);
foreach (var flower in flowers.Take(5))
{
    var p = engine.Predict(flower);
    Console.WriteLine($"  species {flower.Species} -> cluster {p.PredictedLabel}, distances [{string.Join(", ", p.Score.Select(s => s.ToString("F2")))}]");
}

/// <summary>One flower: four measurements and the species it was generated from.</summary>
public sealed class Flower
{
    public float SepalLength { get; set; }
    public float SepalWidth { get; set; }
    public float PetalLength { get; set; }
    public float PetalWidth { get; set; }

    /// <summary>1, 2 or 3; used only to evaluate the clustering.</summary>
    public float Species { get; set; }

    public static Flower[] Generate(int count, int seed)
    {
        // Mean measurements of three species (cm), roughly those of Fisher's iris data.
        float[][] means = [[5.0f, 3.4f, 1.5f, 0.2f], [5.9f, 2.8f, 4.3f, 1.3f], [6.6f, 3.0f, 5.6f, 2.0f]];
        var random = new Random(seed);
        float Noise(float scale) => scale * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return Enumerable.Range(0, count).Select(i =>
        {
            var m = means[i % 3];
            return new Flower
            {
                SepalLength = m[0] + Noise(0.3f),
                SepalWidth = m[1] + Noise(0.3f),
                PetalLength = m[2] + Noise(0.3f),
                PetalWidth = m[3] + Noise(0.15f),
                Species = i % 3 + 1,
            };
        }).ToArray();
    }
}

/// <summary>The two columns the clustering model appends.</summary>
public sealed class ClusterPrediction
{
    /// <summary>1-based cluster, 0 when the features were missing.</summary>
    public uint PredictedLabel { get; set; }

    /// <summary>Squared distance to each centroid.</summary>
    public float[] Score { get; set; } = [];
}
