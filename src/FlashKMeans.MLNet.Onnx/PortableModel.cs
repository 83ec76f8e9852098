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

    /// <summary>
    /// Turns a portable model back into FlashKMeans' own transformer (the classifier's, the regressor's or the multi-label
    /// classifier's, with the same prototypes and settings), for the engine's faster scoring and its model API: for
    /// example a zip that <c>mlContext.Model.Load</c> returned.
    /// </summary>
    /// <exception cref="ArgumentException">The transformer is not a portable FlashKMeans model.</exception>
    public static BlockScoringTransformer ToFlashKMeans(this ITransformer portable, MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(portable);
        ArgumentNullException.ThrowIfNull(mlContext);
        var onnx = Flatten(portable).OfType<Microsoft.ML.Transforms.Onnx.OnnxTransformer>().FirstOrDefault()
            ?? throw new ArgumentException("The model holds no ONNX scoring, so it is not a portable FlashKMeans model.", nameof(portable));
        // ML.NET keeps the ONNX bytes to itself; its zip of the ONNX transformer holds them, and they hold the description.
        using var zip = new MemoryStream();
        mlContext.Model.Save(onnx, null, zip);
        var description = ModelDescription.FromJson(FindDescription(zip.ToArray())
            ?? throw new ArgumentException("The model's ONNX graph was not written by FlashKMeans.", nameof(portable)));
        int blockRows = GpuKMeansTrainer.Defaults.BatchSize;
        switch (description.Kind)
        {
            case "classifier":
            {
                var label = portable.GetOutputSchema(Empty(mlContext, description.FeatureColumn, description.Dimension).Schema)[ClusteringColumns.PredictedLabel];
                return new PrototypeClassifierTransformer(description.ToClassifier(), description.FeatureColumn, (KeyDataViewType)label.Type,
                    label.Annotations, blockRows);
            }
            case "regressor":
                return new PrototypeRegressionTransformer(description.ToRegressor(), description.FeatureColumn, blockRows);
            case "multi-label":
                return new MultiLabelTransformer(description.ToMultiLabel(), description.FeatureColumn, blockRows);
            default:
                throw new ArgumentException($"The model describes a '{description.Kind}', which this version of FlashKMeans does not know.", nameof(portable));
        }
    }

    /// <summary>Every transformer of a chain, nested chains opened.</summary>
    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    /// <summary>
    /// The description's JSON in a zip's entries: the ONNX metadata entry (StringStringEntryProto) whose key is
    /// <see cref="ModelDescription.MetadataKey"/>, read as protocol buffers write it: key (field 1), then value (field 2).
    /// </summary>
    private static string? FindDescription(byte[] zipBytes)
    {
        var key = System.Text.Encoding.UTF8.GetBytes(ModelDescription.MetadataKey);
        byte[] marker = [0x0A, (byte)key.Length, .. key, 0x12];
        using var archive = new System.IO.Compression.ZipArchive(new MemoryStream(zipBytes));
        foreach (var entry in archive.Entries)
        {
            using var content = new MemoryStream();
            using (var stream = entry.Open())
                stream.CopyTo(content);
            var bytes = content.ToArray();
            int at = bytes.AsSpan().IndexOf(marker);
            if (at < 0)
                continue;
            int position = at + marker.Length;
            ulong length = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = bytes[position++];
                length |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                    break;
            }
            return System.Text.Encoding.UTF8.GetString(bytes, position, (int)length);
        }
        return null;
    }

    /// <summary>ML.NET's ONNX scoring of <paramref name="graph"/>, and its output on an empty view of the feature column.</summary>
    private static (ITransformer Transformer, IDataView Scored) Onnx(MLContext mlContext, byte[] graph, string[] outputs, string featureColumnName,
        int dimension)
    {
        var empty = Empty(mlContext, featureColumnName, dimension);
        var transformer = mlContext.Transforms.ApplyOnnxModel(outputs, [featureColumnName], new MemoryStream(graph)).Fit(empty);
        return (transformer, transformer.Transform(empty));
    }

    /// <summary>An empty data view of the feature column alone: what the chains are fitted on (none of their parts learns).</summary>
    private static IDataView Empty(MLContext mlContext, string featureColumnName, int dimension)
    {
        var definition = SchemaDefinition.Create(typeof(FeatureRow));
        definition[0].ColumnName = featureColumnName;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        return mlContext.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), definition);
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
