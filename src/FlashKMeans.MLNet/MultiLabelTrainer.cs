using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace FlashKMeans.MLNet;

/// <summary>
/// The multi-label prototype classifier (<see cref="MultiLabelClassifier"/>) for ML.NET. ML.NET has no multi-label catalog,
/// so it is created directly, <c>new MultiLabelTrainer(options, mlContext)</c>, and used like any estimator. The label is a
/// known-size vector of Boolean, or of Single where non-zero means the tag is on; rows with a NaN label or feature are
/// skipped and counted.
/// </summary>
public sealed class MultiLabelTrainer : SupervisedTrainer<MultiLabelTrainer.Options, MultiLabelTransformer>
{

    /// <summary>Settings: the columns, plus every setting of <see cref="MultiLabelOptions"/>.</summary>
    public sealed class Options : SupervisedTrainerOptions
    {
        /// <summary>The classifier's settings.</summary>
        public MultiLabelOptions Classifier = new();

        internal override void Validate() => Classifier.Validate();

        internal override SupervisedTrainerOptions Copy()
        {
            var copy = (Options)MemberwiseClone();
            copy.Classifier = Classifier.Clone();
            return copy;
        }
    }

    /// <summary>Creates the trainer.</summary>
    /// <param name="options">The settings; copied.</param>
    /// <param name="environment">Where log lines go (an <see cref="MLContext"/>); <c>null</c> logs nothing.</param>
    public MultiLabelTrainer(Options options, IHostEnvironment? environment = null)
        : base(options, environment)
    {
    }

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.CheckShape(inputSchema, Settings.FeatureColumnName, Settings.ExampleWeightColumnName, nameof(inputSchema));
        var label = inputSchema.FirstOrDefault(c => c.Name == Settings.LabelColumnName);
        if (label.Name is null || label.Kind != SchemaShape.Column.VectorKind.Vector
            || (label.ItemType != BooleanDataViewType.Instance && label.ItemType != NumberDataViewType.Single))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The label column '{Settings.LabelColumnName}' must be a known-size vector of Boolean or Single.");
        var columns = inputSchema.Where(c => c.Name is not (ClusteringColumns.Score or ClusteringColumns.PredictedLabel)).ToList();
        columns.Add(MLNetInternals.ShapeColumn(ClusteringColumns.Score, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false));
        columns.Add(MLNetInternals.ShapeColumn(ClusteringColumns.PredictedLabel, SchemaShape.Column.VectorKind.Vector, BooleanDataViewType.Instance, false));
        return new SchemaShape(columns);
    }

    /// <summary>Reads the input once into memory and builds each tag's prototypes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type; the message names it.</exception>
    public override MultiLabelTransformer Fit(IDataView input) => Train(input, null);

    /// <summary>
    /// Continues training from <paramref name="previous"/>: phase 2 (fine-tuning) resumes from its prototypes on
    /// <paramref name="input"/>, ML.NET's convention for trainers that can continue. The options'
    /// <c>FineTuning.Epochs</c> must be above 0; the previous model's classes (tags, target size) and feature size are kept.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type, or the options cannot continue the model.</exception>
    public MultiLabelTransformer Fit(IDataView input, MultiLabelTransformer previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        return Train(input, previous.Model);
    }

    private MultiLabelTransformer Train(IDataView input, MultiLabelModel? previous)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = Settings;
        var (features, label, weightColumn) = LabelledRows.Columns(input.Schema, o, nameof(input));
        if (label.Type is not VectorDataViewType { IsKnownSize: true } labelType
            || (labelType.ItemType != BooleanDataViewType.Instance && labelType.ItemType != NumberDataViewType.Single))
            throw new ArgumentOutOfRangeException(nameof(input),
                $"The label column '{o.LabelColumnName}' has type {label.Type}; it must be a known-size vector of Boolean or Single.");
        int d = ((VectorDataViewType)features.Type).Size, t = labelType.Size;
        float[] rows;
        bool[] tags;
        float[]? weights;
        long skipped;
        if (labelType.ItemType == BooleanDataViewType.Instance)
        {
            var read = LabelledRows.Read<VBuffer<bool>>(input, features, label, weightColumn, _ => true, o.Classifier.MissingFeatures);
            (rows, weights, skipped) = (read.Rows, read.Weights, read.Skipped);
            tags = read.Labels.SelectMany(v => v.DenseValues()).ToArray();
        }
        else
        {
            var read = LabelledRows.Read<VBuffer<float>>(input, features, label, weightColumn, v => v.DenseValues().All(float.IsFinite), o.Classifier.MissingFeatures);
            (rows, weights, skipped) = (read.Rows, read.Weights, read.Skipped);
            tags = read.Labels.SelectMany(v => v.DenseValues().Select(x => x != 0)).ToArray();
        }
        using var channel = Environment?.Start("FlashKMeans");
        if (skipped > 0)
            channel?.Warning(MessageSensitivity.None, $"FlashKMeans: {skipped} rows with a missing label or feature (or a bad weight) were skipped.");
        var classifier = new MultiLabelClassifier(o.Classifier);
        var model = previous is null ? classifier.Fit(rows, d, tags, t, weights) : classifier.FineTune(previous, rows, tags, weights);
        return new MultiLabelTransformer(model, o.FeatureColumnName, GpuKMeansTrainer.Defaults.BatchSize);
    }
}
