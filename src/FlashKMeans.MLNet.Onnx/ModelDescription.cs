using System.Text.Json;
using FlashKMeans.Prototypes;

namespace FlashKMeans.MLNet.Onnx;

/// <summary>
/// Everything a prototype model predicts with, as JSON in the portable model's ONNX metadata (key
/// <see cref="MetadataKey"/>), so that <see cref="PortableModel.ToFlashKMeans"/> can rebuild the engine's model from a
/// loaded zip without guessing at the graph.
/// </summary>
internal sealed class ModelDescription
{
    public const string MetadataKey = "flashkmeans.model";

    public string Kind { get; set; } = "";

    public string FeatureColumn { get; set; } = "";

    public int Dimension { get; set; }

    public KMeansDistance Distance { get; set; }

    public float[] Prototypes { get; set; } = [];

    /// <summary>Each prototype's class or tag (empty for the regressor).</summary>
    public int[] Owners { get; set; } = [];

    /// <summary>Classes or tags.</summary>
    public int Groups { get; set; }

    public float[] Targets { get; set; } = [];

    public int TargetDimension { get; set; }

    public float[]? FeatureWeights { get; set; }

    public int TopK { get; set; }

    public PrototypeRouting Routing { get; set; }

    public double Temperature { get; set; }

    public TagThreshold Threshold { get; set; }

    public double FixedThreshold { get; set; }

    public MissingFeatures MissingFeatures { get; set; }

    public string ToJson() => JsonSerializer.Serialize(this);

    public static ModelDescription FromJson(string json) =>
        JsonSerializer.Deserialize<ModelDescription>(json) ?? throw new InvalidDataException("The portable model's description is empty.");

    public static ModelDescription Of(PrototypeClassifierModel model, string featureColumn) => new()
    {
        Kind = "classifier", MissingFeatures = model.Settings.MissingFeatures, FeatureColumn = featureColumn, Dimension = model.Dimension, Distance = model.Distance,
        Prototypes = model.Prototypes.ToArray(), Owners = model.PrototypeClasses.ToArray(), Groups = model.ClassCount,
        FeatureWeights = Weights(model.FeatureWeights), TopK = model.Settings.TopK, Routing = model.Settings.Routing,
        Temperature = model.Settings.Temperature,
    };

    public static ModelDescription Of(PrototypeRegressorModel model, string featureColumn) => new()
    {
        Kind = "regressor", MissingFeatures = model.Settings.MissingFeatures, FeatureColumn = featureColumn, Dimension = model.Dimension, Distance = model.Distance,
        Prototypes = model.Prototypes.ToArray(), Targets = model.PrototypeTargets.ToArray(), TargetDimension = model.TargetDimension,
        FeatureWeights = Weights(model.FeatureWeights), TopK = model.Settings.TopK, Routing = model.Settings.Routing,
        Temperature = model.Settings.Temperature,
    };

    public static ModelDescription Of(MultiLabelModel model, string featureColumn) => new()
    {
        Kind = "multi-label", MissingFeatures = model.Settings.MissingFeatures, FeatureColumn = featureColumn, Dimension = model.Dimension, Distance = model.Distance,
        Prototypes = model.Prototypes.ToArray(), Owners = model.PrototypeTags.ToArray(), Groups = model.TagCount,
        FeatureWeights = Weights(model.FeatureWeights), Threshold = model.Settings.Threshold, FixedThreshold = model.Settings.FixedThreshold,
    };

    public PrototypeClassifierModel ToClassifier() => new(Prototypes, Owners, Dimension, Groups, new PrototypeClassifierOptions
    {
        Distance = Distance, TopK = TopK, Routing = Routing, Temperature = Temperature, MissingFeatures = MissingFeatures,
    }, FeatureWeights);

    public PrototypeRegressorModel ToRegressor() => new(Prototypes, Targets, Dimension, TargetDimension, new PrototypeRegressorOptions
    {
        Distance = Distance, TopK = TopK, Routing = Routing, Temperature = Temperature, MissingFeatures = MissingFeatures,
    }, FeatureWeights);

    public MultiLabelModel ToMultiLabel() => new(Prototypes, Owners, Dimension, Groups, new MultiLabelOptions
    {
        Distance = Distance, Threshold = Threshold, FixedThreshold = FixedThreshold, MissingFeatures = MissingFeatures,
    }, FeatureWeights);

    private static float[]? Weights(ReadOnlyMemory<float> weights) => weights.IsEmpty ? null : weights.ToArray();
}
