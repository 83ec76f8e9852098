using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// The two columns a clustering scorer appends, named and typed as ML.NET's KMeans scorer does, plus the
/// schema checks on the feature and weight columns. Every error names the column and the type found.
/// </summary>
internal static class ClusteringColumns
{
    /// <summary>Name of the vector of K squared distances.</summary>
    public const string Score = "Score";

    /// <summary>Name of the 1-based key of the nearest centroid (0 where the features are missing).</summary>
    public const string PredictedLabel = "PredictedLabel";

    // Annotation kinds and values that ML.NET's scorers attach (AnnotationUtils.Kinds / Const.ScoreValueKind),
    // so that downstream ML.NET components recognise the columns as a clustering score.
    private const string ScoreColumnKind = "ScoreColumnKind";
    private const string ScoreValueKind = "ScoreValueKind";
    private const string ScoreColumnSetId = "ScoreColumnSetId";
    private const string ClusteringKind = "Clustering";

    /// <summary>The type of <c>ScoreColumnSetId</c>, as ML.NET's scorers declare it.</summary>
    private static readonly KeyDataViewType s_setIdType = new(typeof(uint), int.MaxValue);

    /// <summary>Appends Score and PredictedLabel to <paramref name="input"/>; like ML.NET, same-named input columns become hidden.</summary>
    public static DataViewSchema AppendTo(DataViewSchema input, int numberOfClusters)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        uint setId = NextScoreColumnSetId(input);
        builder.AddColumn(Score, new VectorDataViewType(NumberDataViewType.Single, numberOfClusters), Annotations(Score, setId));
        builder.AddColumn(PredictedLabel, new KeyDataViewType(typeof(uint), numberOfClusters), Annotations(PredictedLabel, setId));
        return builder.ToSchema();
    }

    /// <summary>The schema-shape promise of <see cref="AppendTo(DataViewSchema, int)"/>, for <see cref="IEstimator{TTransformer}.GetOutputSchema"/>.</summary>
    public static SchemaShape AppendTo(SchemaShape input)
    {
        var text = TextDataViewType.Instance;
        var annotations = new SchemaShape(new[]
        {
            MLNetInternals.ShapeColumn(ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, text, false),
            MLNetInternals.ShapeColumn(ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, text, false),
            MLNetInternals.ShapeColumn(ScoreColumnSetId, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true),
        });
        var columns = input.Where(c => c.Name != Score && c.Name != PredictedLabel).ToList();
        columns.Add(MLNetInternals.ShapeColumn(Score, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, annotations));
        columns.Add(MLNetInternals.ShapeColumn(PredictedLabel, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, annotations));
        return new SchemaShape(columns);
    }

    private static DataViewSchema.Annotations Annotations(string valueKind, uint setId) =>
        Annotations(ClusteringKind, valueKind, setId, new DataViewSchema.Annotations.Builder());

    /// <summary>
    /// Adds the annotations ML.NET's scorers put on their columns (the task kind, the column's role, the set id) to
    /// <paramref name="builder"/>, which may already hold others (slot names, key values).
    /// </summary>
    internal static DataViewSchema.Annotations Annotations(string columnKind, string valueKind, uint setId, DataViewSchema.Annotations.Builder builder)
    {
        // Typed getters: the builder also has an Add(string, DataViewType, Delegate) overload.
        ValueGetter<ReadOnlyMemory<char>> kind = (ref ReadOnlyMemory<char> v) => v = columnKind.AsMemory();
        ValueGetter<ReadOnlyMemory<char>> value = (ref ReadOnlyMemory<char> v) => v = valueKind.AsMemory();
        ValueGetter<uint> set = (ref uint v) => v = setId;
        builder.Add(ScoreColumnKind, TextDataViewType.Instance, kind);
        builder.Add(ScoreColumnSetId, s_setIdType, set);
        builder.Add(ScoreValueKind, TextDataViewType.Instance, value);
        return builder.ToAnnotations();
    }

    /// <summary>
    /// One more than the largest <c>ScoreColumnSetId</c> in <paramref name="input"/> (1 where there is none): ML.NET's
    /// scorers number each set of score columns so that evaluators find the newest set.
    /// </summary>
    internal static uint NextScoreColumnSetId(DataViewSchema input)
    {
        uint largest = 0;
        foreach (var column in input)
        {
            var annotation = column.Annotations.Schema.GetColumnOrNull(ScoreColumnSetId);
            if (annotation?.Type is not KeyDataViewType { RawType: var raw } || raw != typeof(uint))
                continue;
            uint id = 0;
            column.Annotations.GetValue(ScoreColumnSetId, ref id);
            largest = Math.Max(largest, id);
        }
        return largest + 1;
    }

    /// <summary>The feature column: a known-size vector of Single, of <paramref name="expectedDimension"/> when given.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or of another type; the message names both.</exception>
    public static DataViewSchema.Column FindFeatures(DataViewSchema schema, string name, int? expectedDimension, string parameterName)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(parameterName,
                $"The feature column '{name}' was not found in the input, whose columns are: {Describe(schema)}.");
        if (column.Type is not VectorDataViewType { IsKnownSize: true } vector || vector.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(parameterName,
                $"The feature column '{name}' has type {column.Type}; FlashKMeans needs a known-size vector of Single " +
                "(use a Concatenate or conversion transform first).");
        if (expectedDimension is int d && vector.Size != d)
            throw new ArgumentOutOfRangeException(parameterName,
                $"The feature column '{name}' has type {column.Type} but the model was trained on vectors of {d} values.");
        return column;
    }

    /// <summary>The weight column: a scalar Single.</summary>
    public static DataViewSchema.Column FindWeights(DataViewSchema schema, string name, string parameterName)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(parameterName,
                $"The example weight column '{name}' was not found in the input, whose columns are: {Describe(schema)}.");
        if (column.Type != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(parameterName,
                $"The example weight column '{name}' has type {column.Type}; it must be a scalar Single.");
        return column;
    }

    /// <summary>The same checks on a schema shape, before any data exists.</summary>
    public static void CheckShape(SchemaShape shape, string features, string? weights, string parameterName)
    {
        var column = shape.FirstOrDefault(c => c.Name == features);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(parameterName,
                $"The feature column '{features}' was not found in the input, whose columns are: {string.Join(", ", shape.Select(c => c.Name))}.");
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.IsKey || column.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(parameterName,
                $"The feature column '{features}' has type {Describe(column)}; FlashKMeans needs a known-size vector of Single.");
        if (weights is null)
            return;
        var weight = shape.FirstOrDefault(c => c.Name == weights);
        if (weight.Name is null)
            throw new ArgumentOutOfRangeException(parameterName, $"The example weight column '{weights}' was not found in the input.");
        if (weight.Kind != SchemaShape.Column.VectorKind.Scalar || weight.IsKey || weight.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(parameterName,
                $"The example weight column '{weights}' has type {Describe(weight)}; it must be a scalar Single.");
    }

    private static string Describe(DataViewSchema schema)
        => string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"{c.Name} ({c.Type})"));

    private static string Describe(SchemaShape.Column column)
    {
        string item = column.IsKey ? $"Key<{column.ItemType}>" : $"{column.ItemType}";
        return column.Kind switch
        {
            SchemaShape.Column.VectorKind.Vector => $"Vector<{item}>",
            SchemaShape.Column.VectorKind.VariableVector => $"Vector<{item}> of unknown size",
            _ => item,
        };
    }
}
