using Microsoft.ML.Data;
using Microsoft.ML;

namespace FlashKMeans.MLNet;

/// <summary>
/// The ML.NET surface of a model that scores blocks of feature rows (<see cref="IBlockScorer"/>): lazy scoring views,
/// single-row mapping for <c>PredictionEngine</c>, and the output schema. The prototype models' transformers derive from it.
/// </summary>
public abstract class BlockScoringTransformer : ITransformer
{
    private readonly IBlockScorer _scorer;
    private readonly int _blockRows;

    private protected BlockScoringTransformer(IBlockScorer scorer, string featureColumnName, int blockRows)
    {
        _scorer = scorer;
        FeatureColumnName = featureColumnName;
        _blockRows = blockRows;
    }

    /// <summary>The feature column read by <see cref="Transform"/>.</summary>
    public string FeatureColumnName { get; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.FindFeatures(inputSchema, FeatureColumnName, _scorer.Dimension, nameof(inputSchema));
        return _scorer.AppendColumns(inputSchema);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var features = ClusteringColumns.FindFeatures(input.Schema, FeatureColumnName, _scorer.Dimension, nameof(input));
        return new ScoredDataView(input, features, _scorer, _blockRows);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var features = ClusteringColumns.FindFeatures(inputSchema, FeatureColumnName, _scorer.Dimension, nameof(inputSchema));
        return new ScoringRowMapper(inputSchema, features, _scorer);
    }

    /// <summary>
    /// Not supported: ML.NET's public API cannot save a new transformer type. <c>ToPortableModel(mlContext)</c>
    /// (FlashKMeans.MLNet.Onnx) makes a model of ML.NET's own transformers that saves and loads without FlashKMeans.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException($"{GetType().Name} cannot be saved as an ML.NET zip itself: save transformer.ToPortableModel(mlContext) " +
            "(package FlashKMeans.MLNet.Onnx), which plain ML.NET loads, and turn it back with ToFlashKMeans(mlContext).");
}
