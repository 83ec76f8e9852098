using FlashKMeans.Prototypes;

namespace FlashKMeans.MLNet;

/// <summary>
/// A fitted <see cref="PrototypeRegressionTrainer"/>: appends a scalar <c>Score</c>, as ML.NET's regression trainers do, so
/// that <c>Regression.Evaluate</c> and <c>PredictionEngine</c> work. To save it as an ML.NET zip, convert it with
/// <c>ToPortableModel(mlContext)</c> (FlashKMeans.MLNet.Onnx) and save that.
/// </summary>
public sealed class PrototypeRegressionTransformer : BlockScoringTransformer
{
    internal PrototypeRegressionTransformer(PrototypeRegressorModel model, string featureColumnName, int blockRows)
        : base(new PrototypeRegressionScorer(model), featureColumnName, blockRows)
    {
        Model = model;
    }

    /// <summary>The engine's model: prototypes, their targets, and prediction on raw arrays.</summary>
    public PrototypeRegressorModel Model { get; }
}
