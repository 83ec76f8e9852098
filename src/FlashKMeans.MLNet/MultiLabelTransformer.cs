using FlashKMeans.Prototypes;

namespace FlashKMeans.MLNet;

/// <summary>
/// A fitted <see cref="MultiLabelTrainer"/>: appends <c>Score</c> (one score per tag) and <c>PredictedLabel</c> (a vector of
/// Boolean, one per tag). To save it as an ML.NET zip, convert it with
/// <c>ToPortableModel(mlContext)</c> (FlashKMeans.MLNet.Onnx) and save that.
/// </summary>
public sealed class MultiLabelTransformer : BlockScoringTransformer
{
    internal MultiLabelTransformer(MultiLabelModel model, string featureColumnName, int blockRows)
        : base(new MultiLabelScorer(model), featureColumnName, blockRows)
    {
        Model = model;
    }

    /// <summary>The engine's model: each tag's prototypes, and scoring on raw arrays.</summary>
    public MultiLabelModel Model { get; }
}
