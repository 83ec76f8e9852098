using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// The columns a multiclass scorer appends, as ML.NET's own multiclass trainers make them: <c>Score</c>, one value per
/// class (with the label's values as slot names where it has them), and <c>PredictedLabel</c> of the label's key type
/// (with its values), annotated so that <c>MulticlassClassification.Evaluate</c> finds them.
/// </summary>
internal static class ClassificationColumns
{
    private const string MulticlassKind = "MulticlassClassification";
    private const string RegressionKind = "Regression";

    /// <summary>
    /// A regression scorer's one column: <c>Score</c>, a scalar Single annotated as ML.NET's regression trainers do, or a
    /// vector of <paramref name="targets"/> Single values for vector targets.
    /// </summary>
    public static DataViewSchema AppendRegression(DataViewSchema input, int targets)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(ClusteringColumns.Score, targets == 1 ? NumberDataViewType.Single : new VectorDataViewType(NumberDataViewType.Single, targets),
            ClusteringColumns.Annotations(RegressionKind, "Score", ClusteringColumns.NextScoreColumnSetId(input), new DataViewSchema.Annotations.Builder()));
        return builder.ToSchema();
    }

    public static DataViewSchema AppendTo(DataViewSchema input, KeyDataViewType labelType, DataViewSchema.Annotations labelAnnotations)
    {
        int classes = (int)labelType.Count;
        uint setId = ClusteringColumns.NextScoreColumnSetId(input);
        var scoreAnnotations = new DataViewSchema.Annotations.Builder();
        var keyAnnotations = new DataViewSchema.Annotations.Builder();
        if (labelAnnotations.Schema.GetColumnOrNull("KeyValues") is { Type: VectorDataViewType { ItemType: TextDataViewType } valuesType }
            && valuesType.Size == classes)
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            labelAnnotations.GetValue("KeyValues", ref values);
            var copy = values;
            ValueGetter<VBuffer<ReadOnlyMemory<char>>> names = (ref VBuffer<ReadOnlyMemory<char>> v) => copy.CopyTo(ref v);
            scoreAnnotations.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, classes), names);
            keyAnnotations.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, classes), names);
        }
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(ClusteringColumns.Score, new VectorDataViewType(NumberDataViewType.Single, classes),
            ClusteringColumns.Annotations(MulticlassKind, "Score", setId, scoreAnnotations));
        builder.AddColumn(ClusteringColumns.PredictedLabel, labelType,
            ClusteringColumns.Annotations(MulticlassKind, "PredictedLabel", setId, keyAnnotations));
        return builder.ToSchema();
    }
}
