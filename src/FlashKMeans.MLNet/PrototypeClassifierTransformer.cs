using Microsoft.ML;
using FlashKMeans.Prototypes;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// A fitted <see cref="PrototypeClassifierTrainer"/>: appends <c>Score</c> (one value per class, summing to 1) and
/// <c>PredictedLabel</c> (the label's key type), as ML.NET's multiclass trainers do, so that
/// <c>MulticlassClassification.Evaluate</c> and <c>PredictionEngine</c> work. To save it as an ML.NET zip, convert it with
/// <c>ToPortableModel(mlContext)</c> (FlashKMeans.MLNet.Onnx) and save that.
/// </summary>
public sealed class PrototypeClassifierTransformer : BlockScoringTransformer
{
    internal PrototypeClassifierTransformer(PrototypeClassifierModel model, string featureColumnName, KeyDataViewType labelType,
        DataViewSchema.Annotations labelAnnotations, int blockRows)
        : base(new PrototypeBlockScorer(model, labelType, labelAnnotations), featureColumnName, blockRows)
    {
        Model = model;
        LabelType = labelType;
        LabelAnnotations = labelAnnotations;
    }

    /// <summary>The label's key type, which <c>PredictedLabel</c> has.</summary>
    internal KeyDataViewType LabelType { get; }

    /// <summary>The label's annotations (its key values), which <c>PredictedLabel</c> carries.</summary>
    internal DataViewSchema.Annotations LabelAnnotations { get; }

    /// <summary>The engine's model: prototypes, their classes, and scoring on raw arrays.</summary>
    public PrototypeClassifierModel Model { get; }
}
