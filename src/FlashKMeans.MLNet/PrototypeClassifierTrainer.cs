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
public sealed class PrototypeClassifierTrainer : SupervisedTrainer<PrototypeClassifierTrainer.Options, PrototypeClassifierTransformer>
{

    /// <summary>Settings: the columns, plus every setting of <see cref="PrototypeClassifierOptions"/>.</summary>
    public sealed class Options : SupervisedTrainerOptions
    {
        /// <summary>The classifier's settings.</summary>
        public PrototypeClassifierOptions Classifier = new();

        internal override void Validate() => Classifier.Validate();

        internal override SupervisedTrainerOptions Copy()
        {
            var copy = (Options)MemberwiseClone();
            copy.Classifier = Classifier.Clone();
            return copy;
        }
    }

    /// <summary>Creates the trainer; prefer the catalog extension.</summary>
    public PrototypeClassifierTrainer(Options options, IHostEnvironment? environment = null)
        : base(options, environment)
    {
    }

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.CheckShape(inputSchema, Settings.FeatureColumnName, Settings.ExampleWeightColumnName, nameof(inputSchema));
        var label = inputSchema.FirstOrDefault(c => c.Name == Settings.LabelColumnName);
        if (label.Name is null || !label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The label column '{Settings.LabelColumnName}' must exist and be a key type (use MapValueToKey).");
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
    public override PrototypeClassifierTransformer Fit(IDataView input) => Train(input, null);

    /// <summary>
    /// Continues training from <paramref name="previous"/>: phase 2 (fine-tuning) resumes from its prototypes on
    /// <paramref name="input"/>, ML.NET's convention for trainers that can continue. The options'
    /// <c>FineTuning.Epochs</c> must be above 0; the previous model's classes (tags, target size) and feature size are kept.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type, or the options cannot continue the model.</exception>
    public PrototypeClassifierTransformer Fit(IDataView input, PrototypeClassifierTransformer previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        return Train(input, previous.Model);
    }

    private PrototypeClassifierTransformer Train(IDataView input, PrototypeClassifierModel? previous)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = Settings;
        var (features, label, weightColumn) = LabelledRows.Columns(input.Schema, o, nameof(input));
        if (label.Type is not KeyDataViewType { Count: > 0 and <= int.MaxValue } keyType)
            throw new ArgumentOutOfRangeException(nameof(input),
                $"The label column '{o.LabelColumnName}' has type {label.Type}; it must be a key type of known cardinality (use MapValueToKey).");
        int d = ((VectorDataViewType)features.Type).Size;
        var (rows, keys, weights, skipped) = LabelledRows.Read<uint>(input, features, label, weightColumn, key => key != 0, o.Classifier.MissingFeatures);
        using var channel = Environment?.Start("FlashKMeans");
        if (skipped > 0)
            channel?.Warning(MessageSensitivity.None, $"FlashKMeans: {skipped} rows with a missing label or feature (or a bad weight) were skipped.");
        var labels = keys.Select(k => (int)k - 1).ToArray();
        var classifier = new PrototypeClassifier(o.Classifier);
        var model = previous is null ? classifier.Fit(rows, d, labels, (int)keyType.Count, weights) : classifier.FineTune(previous, rows, labels, weights);
        channel?.Info(MessageSensitivity.None, $"FlashKMeans: {model.PrototypeClasses.Count} prototypes for {model.ClassCount} classes from {keys.Length} rows.");
        return new PrototypeClassifierTransformer(model, o.FeatureColumnName, keyType, label.Annotations, GpuKMeansTrainer.Defaults.BatchSize);
    }
}
