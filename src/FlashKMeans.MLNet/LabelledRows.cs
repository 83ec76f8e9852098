using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// One cursor pass reading a supervised trainer's input into memory: the feature vectors, the labels and the weights of
/// the usable rows. A row the model cannot use (a NaN or infinite feature; with missing features allowed, an infinite
/// feature or none at all), a bad weight, or a label the caller refuses is skipped and counted.
/// </summary>
internal static class LabelledRows
{
    /// <summary>The feature, label and weight columns <paramref name="options"/> names, checked as far as every task checks them.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type; the message names it.</exception>
    public static (DataViewSchema.Column Features, DataViewSchema.Column Label, DataViewSchema.Column? Weight) Columns(DataViewSchema schema,
        SupervisedTrainerOptions options, string parameterName)
    {
        var features = ClusteringColumns.FindFeatures(schema, options.FeatureColumnName, null, parameterName);
        var label = schema.GetColumnOrNull(options.LabelColumnName)
            ?? throw new ArgumentOutOfRangeException(parameterName, $"The label column '{options.LabelColumnName}' was not found in the input.");
        var weight = options.ExampleWeightColumnName is null ? (DataViewSchema.Column?)null
            : ClusteringColumns.FindWeights(schema, options.ExampleWeightColumnName, parameterName);
        return (features, label, weight);
    }

    public static (float[] Rows, TLabel[] Labels, float[]? Weights, long Skipped) Read<TLabel>(IDataView input, DataViewSchema.Column features,
        DataViewSchema.Column label, DataViewSchema.Column? weight, Func<TLabel, bool> usable, MissingFeatures missing = MissingFeatures.Reject)
    {
        int d = ((VectorDataViewType)features.Type).Size;
        var rows = new List<float>();
        var labels = new List<TLabel>();
        var weights = weight is null ? null : new List<float>();
        long skipped = 0;
        var needed = new List<DataViewSchema.Column> { features, label };
        if (weight is { } w)
            needed.Add(w);
        using var cursor = input.GetRowCursor(needed);
        var getFeatures = cursor.GetGetter<VBuffer<float>>(features);
        var getLabel = cursor.GetGetter<TLabel>(label);
        var getWeight = weight is { } column ? cursor.GetGetter<float>(column) : null;
        VBuffer<float> buffer = default;
        var dense = new float[d];
        while (cursor.MoveNext())
        {
            getFeatures(ref buffer);
            TLabel value = default!;
            getLabel(ref value);
            float rowWeight = 1;
            getWeight?.Invoke(ref rowWeight);
            buffer.CopyTo(dense);
            if (!usable(value) || !MissingRows.Scorable(dense, missing) || !(rowWeight >= 0) || float.IsInfinity(rowWeight))
            {
                skipped++;
                continue;
            }
            rows.AddRange(dense);
            labels.Add(value);
            weights?.Add(rowWeight);
        }
        if (labels.Count == 0)
            throw new InvalidOperationException($"No usable rows: all {skipped} rows had a missing label or feature (or a bad weight).");
        return (rows.ToArray(), labels.ToArray(), weights?.ToArray(), skipped);
    }
}
