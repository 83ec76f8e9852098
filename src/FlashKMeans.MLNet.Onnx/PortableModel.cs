using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Onnx;

/// <summary>
/// Turns fitted prototype models into portable ML.NET models: chains of ML.NET's own transformers (ONNX Runtime scoring of
/// the model as an ONNX graph; for the classifier and the scalar regressor, then ML.NET's linear prediction transformer
/// with identity weights, which returns the scores exactly and gives them ML.NET's <c>Score</c> and
/// <c>PredictedLabel</c> types). <c>mlContext.Model.Save</c> writes one to a zip, and <c>mlContext.Model.Load</c> reads it
/// back in an application that references Microsoft.ML, Microsoft.ML.OnnxTransformer and an ONNX Runtime build
/// (Microsoft.ML.OnnxRuntime), and not FlashKMeans. It appends the columns the fitted transformer appends, with the same
/// values up to float32 rounding: ONNX Runtime computes them.
/// </summary>
public static class PortableModel
{
    /// <summary>The column the ONNX graph writes its scores into, dropped once the prediction transformer has read them.</summary>
    private const string RawScore = "FlashKMeansRawScore";

    /// <summary>
    /// The classifier as a portable model: <c>Score</c> (one value per class) and <c>PredictedLabel</c> (the label's key
    /// type with its values, so <c>MulticlassClassification.Evaluate</c> and <c>MapKeyToValue</c> work).
    /// </summary>
    public static ITransformer ToPortableModel(this PrototypeClassifierTransformer transformer, MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(mlContext);
        var model = transformer.Model;
        var graph = PrototypeGraphs.Classifier(model, transformer.FeatureColumnName, RawScore);
        var (onnx, scored) = Onnx(mlContext, graph, [RawScore], transformer.FeatureColumnName, model.Dimension);
        // The prediction transformer takes PredictedLabel's key type and values from the label column of the schema it is given.
        const string label = "Label";
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(scored.Schema);
        builder.AddColumn(label, transformer.LabelType, transformer.LabelAnnotations);
        var predictor = MLNetInternals.CreatePassThroughMulticlass(mlContext, builder.ToSchema(), RawScore, label, model.ClassCount);
        return Chain(mlContext, onnx, predictor, scored);
    }

    /// <summary>The regressor as a portable model: <c>Score</c>, a Single (a vector of Single for vector targets).</summary>
    public static ITransformer ToPortableModel(this PrototypeRegressionTransformer transformer, MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(mlContext);
        var model = transformer.Model;
        if (model.TargetDimension > 1)
        {
            var vectorGraph = PrototypeGraphs.Regressor(model, transformer.FeatureColumnName, ClusteringColumns.Score);
            return Onnx(mlContext, vectorGraph, [ClusteringColumns.Score], transformer.FeatureColumnName, model.Dimension).Transformer;
        }
        var graph = PrototypeGraphs.Regressor(model, transformer.FeatureColumnName, RawScore);
        var (onnx, scored) = Onnx(mlContext, graph, [RawScore], transformer.FeatureColumnName, model.Dimension);
        return Chain(mlContext, onnx, MLNetInternals.CreatePassThroughRegression(mlContext, scored.Schema, RawScore), scored);
    }

    /// <summary>The multi-label classifier as a portable model: <c>Score</c> (one per tag) and <c>PredictedLabel</c> (one Boolean per tag).</summary>
    public static ITransformer ToPortableModel(this MultiLabelTransformer transformer, MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(mlContext);
        var graph = PrototypeGraphs.MultiLabel(transformer.Model, transformer.FeatureColumnName, ClusteringColumns.Score, ClusteringColumns.PredictedLabel);
        return Onnx(mlContext, graph, [ClusteringColumns.Score, ClusteringColumns.PredictedLabel], transformer.FeatureColumnName,
            transformer.Model.Dimension).Transformer;
    }

    /// <summary>ML.NET's ONNX scoring of <paramref name="graph"/>, and its output on an empty view of the feature column.</summary>
    private static (ITransformer Transformer, IDataView Scored) Onnx(MLContext mlContext, byte[] graph, string[] outputs, string featureColumnName, int dimension)
    {
        var definition = SchemaDefinition.Create(typeof(FeatureRow));
        definition[0].ColumnName = featureColumnName;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        var empty = mlContext.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), definition);
        var transformer = mlContext.Transforms.ApplyOnnxModel(outputs, [featureColumnName], new MemoryStream(graph)).Fit(empty);
        return (transformer, transformer.Transform(empty));
    }

    /// <summary>ONNX scoring, then the prediction transformer, then the raw scores dropped.</summary>
    private static ITransformer Chain(MLContext mlContext, ITransformer onnx, ITransformer predictor, IDataView scored)
    {
        var drop = mlContext.Transforms.DropColumns(RawScore).Fit(predictor.Transform(scored));
        return new TransformerChain<ITransformer>(onnx, predictor, drop);
    }

    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];
    }
}
