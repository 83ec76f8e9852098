using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace FlashKMeans.MLNet;

/// <summary>
/// The prototype classifier (<see cref="PrototypeClassifier"/>) as an ML.NET multiclass trainer: create it with
/// <c>mlContext.MulticlassClassification.Trainers.FlashKMeans(...)</c>. The label is a key column (map text or numbers with
/// <c>MapValueToKey</c> first); rows with a missing label or a NaN or infinite feature are skipped and counted.
/// </summary>
public sealed class PrototypeClassifierTrainer : IEstimator<PrototypeClassifierTransformer>
{
    private readonly Options _options;
    private readonly IHostEnvironment? _env;

    /// <summary>Settings: the columns, plus every setting of <see cref="PrototypeClassifierOptions"/>.</summary>
    public sealed class Options
    {
        /// <summary>The feature column: a known-size vector of Single.</summary>
        public string FeatureColumnName = "Features";

        /// <summary>The label column: a key type.</summary>
        public string LabelColumnName = "Label";

        /// <summary>An optional scalar Single column of non-negative row weights.</summary>
        public string? ExampleWeightColumnName;

        /// <summary>The classifier's settings.</summary>
        public PrototypeClassifierOptions Classifier = new();

        internal Options Clone()
        {
            var copy = (Options)MemberwiseClone();
            copy.Classifier = Classifier.Clone();
            return copy;
        }
    }

    /// <summary>Creates the trainer; prefer the catalog extension.</summary>
    public PrototypeClassifierTrainer(Options options, IHostEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Classifier.Validate();
        _options = options.Clone();
        _env = environment;
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.CheckShape(inputSchema, _options.FeatureColumnName, _options.ExampleWeightColumnName, nameof(inputSchema));
        var label = inputSchema.FirstOrDefault(c => c.Name == _options.LabelColumnName);
        if (label.Name is null || !label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The label column '{_options.LabelColumnName}' must exist and be a key type (use MapValueToKey).");
        var columns = inputSchema.Where(c => c.Name is not (ClusteringColumns.Score or ClusteringColumns.PredictedLabel)).ToList();
        // The predicted key carries the label's values, as ML.NET's multiclass trainers promise (MapKeyToValue needs them).
        var keyValues = label.Annotations.Where(a => a.Name == "KeyValues").ToList();
        var slotNames = keyValues.Select(a => MLNetInternals.ShapeColumn("SlotNames", a.Kind, a.ItemType, a.IsKey)).ToList();
        columns.Add(MLNetInternals.ShapeColumn(ClusteringColumns.Score, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false,
            new SchemaShape(slotNames)));
        columns.Add(MLNetInternals.ShapeColumn(ClusteringColumns.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, label.ItemType, true,
            new SchemaShape(keyValues)));
        return new SchemaShape(columns);
    }

    /// <summary>Reads the input once into memory, grouped by class, and builds the prototype grid.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type; the message names it.</exception>
    public PrototypeClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var features = ClusteringColumns.FindFeatures(input.Schema, o.FeatureColumnName, null, nameof(input));
        var label = input.Schema.GetColumnOrNull(o.LabelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(input), $"The label column '{o.LabelColumnName}' was not found in the input.");
        if (label.Type is not KeyDataViewType { Count: > 0 and <= int.MaxValue } keyType)
            throw new ArgumentOutOfRangeException(nameof(input),
                $"The label column '{o.LabelColumnName}' has type {label.Type}; it must be a key type of known cardinality (use MapValueToKey).");
        var weightColumn = o.ExampleWeightColumnName is null ? (DataViewSchema.Column?)null : ClusteringColumns.FindWeights(input.Schema, o.ExampleWeightColumnName, nameof(input));
        int d = ((VectorDataViewType)features.Type).Size;
        var rows = new List<float>();
        var labels = new List<int>();
        var weights = weightColumn is null ? null : new List<float>();
        long skipped = 0;
        var needed = new List<DataViewSchema.Column> { features, label };
        if (weightColumn is { } wc)
            needed.Add(wc);
        using (var cursor = input.GetRowCursor(needed))
        {
            var getFeatures = cursor.GetGetter<VBuffer<float>>(features);
            var getLabel = cursor.GetGetter<uint>(label);
            var getWeight = weightColumn is { } w ? cursor.GetGetter<float>(w) : null;
            VBuffer<float> buffer = default;
            var dense = new float[d];
            while (cursor.MoveNext())
            {
                getFeatures(ref buffer);
                uint key = 0;
                getLabel(ref key);
                float weight = 1;
                getWeight?.Invoke(ref weight);
                buffer.CopyTo(dense);
                if (key == 0 || !FlashKMeans.Data.DataValidator.AllFinite(dense) || !(weight >= 0) || float.IsInfinity(weight))
                {
                    skipped++;
                    continue;
                }
                rows.AddRange(dense);
                labels.Add((int)key - 1);
                weights?.Add(weight);
            }
        }
        if (labels.Count == 0)
            throw new InvalidOperationException($"No usable rows: all {skipped} rows had a missing label or feature (or a bad weight).");
        using var channel = _env?.Start("FlashKMeans");
        if (skipped > 0)
            channel?.Warning(MessageSensitivity.None, $"FlashKMeans: {skipped} rows with a missing label or feature (or a bad weight) were skipped.");
        var model = new PrototypeClassifier(o.Classifier).Fit(rows.ToArray(), d, labels.ToArray(), (int)keyType.Count, weights?.ToArray() ?? default);
        channel?.Info(MessageSensitivity.None, $"FlashKMeans: {model.PrototypeClasses.Count} prototypes for {model.ClassCount} classes from {labels.Count} rows.");
        return new PrototypeClassifierTransformer(model, o.FeatureColumnName, keyType, label.Annotations, GpuKMeansTrainer.Defaults.BatchSize);
    }
}
