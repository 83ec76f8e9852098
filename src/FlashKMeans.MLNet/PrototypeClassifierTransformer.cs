using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// A fitted <see cref="PrototypeClassifierTrainer"/>: appends <c>Score</c> (one value per class, summing to 1) and
/// <c>PredictedLabel</c> (the label's key type), as ML.NET's multiclass trainers do, so that
/// <c>MulticlassClassification.Evaluate</c> and <c>PredictionEngine</c> work. Not yet savable as an ML.NET zip.
/// </summary>
public sealed class PrototypeClassifierTransformer : ITransformer
{
    private readonly PrototypeBlockScorer _scorer;
    private readonly int _blockRows;

    internal PrototypeClassifierTransformer(PrototypeClassifierModel model, string featureColumnName, KeyDataViewType labelType,
        DataViewSchema.Annotations labelAnnotations, int blockRows)
    {
        Model = model;
        FeatureColumnName = featureColumnName;
        _scorer = new PrototypeBlockScorer(model, labelType, labelAnnotations);
        _blockRows = blockRows;
    }

    /// <summary>The engine's model: prototypes, their classes, and scoring on raw arrays.</summary>
    public PrototypeClassifierModel Model { get; }

    /// <summary>The feature column read by <see cref="Transform"/>.</summary>
    public string FeatureColumnName { get; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.FindFeatures(inputSchema, FeatureColumnName, Model.Dimension, nameof(inputSchema));
        return _scorer.AppendColumns(inputSchema);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var features = ClusteringColumns.FindFeatures(input.Schema, FeatureColumnName, Model.Dimension, nameof(input));
        return new ScoredDataView(input, features, _scorer, _blockRows);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var features = ClusteringColumns.FindFeatures(inputSchema, FeatureColumnName, Model.Dimension, nameof(inputSchema));
        return new ScoringRowMapper(inputSchema, features, _scorer);
    }

    /// <summary>Not supported yet: ML.NET's public API cannot save a new transformer type (a route through ONNX is planned).</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException("Prototype classifiers cannot be saved as ML.NET zips yet; keep the fitted transformer in memory.");
}
