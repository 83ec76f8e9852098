using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace FlashKMeans.MLNet;

/// <summary>
/// The prototype regressor (<see cref="PrototypeRegressor"/>) as an ML.NET regression trainer: create it with
/// <c>mlContext.Regression.Trainers.FlashKMeans(...)</c>. The label is a scalar Single; rows with a NaN label or feature
/// are skipped and counted.
/// </summary>
public sealed class PrototypeRegressionTrainer : SupervisedTrainer<PrototypeRegressionTrainer.Options, PrototypeRegressionTransformer>
{

    /// <summary>Settings: the columns, plus every setting of <see cref="PrototypeRegressorOptions"/>.</summary>
    public sealed class Options : SupervisedTrainerOptions
    {
        /// <summary>The regressor's settings.</summary>
        public PrototypeRegressorOptions Regressor = new();

        internal override void Validate() => Regressor.Validate();

        internal override SupervisedTrainerOptions Copy()
        {
            var copy = (Options)MemberwiseClone();
            copy.Regressor = Regressor.Clone();
            return copy;
        }
    }

    /// <summary>Creates the trainer; prefer the catalog extension.</summary>
    public PrototypeRegressionTrainer(Options options, IHostEnvironment? environment = null)
        : base(options, environment)
    {
    }

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.CheckShape(inputSchema, Settings.FeatureColumnName, Settings.ExampleWeightColumnName, nameof(inputSchema));
        var label = inputSchema.FirstOrDefault(c => c.Name == Settings.LabelColumnName);
        if (label.Name is null || label.IsKey || label.Kind == SchemaShape.Column.VectorKind.VariableVector || label.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The label column '{Settings.LabelColumnName}' must exist and be a Single or a known-size vector of Single.");
        var columns = inputSchema.Where(c => c.Name != ClusteringColumns.Score).ToList();
        columns.Add(MLNetInternals.ShapeColumn(ClusteringColumns.Score, label.Kind, NumberDataViewType.Single, false));
        return new SchemaShape(columns);
    }

    /// <summary>Reads the input once into memory and builds the prototypes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type; the message names it.</exception>
    public override PrototypeRegressionTransformer Fit(IDataView input) => Train(input, null);

    /// <summary>
    /// Continues training from <paramref name="previous"/>: phase 2 (fine-tuning) resumes from its prototypes on
    /// <paramref name="input"/>, ML.NET's convention for trainers that can continue. The options'
    /// <c>FineTuning.Epochs</c> must be above 0; the previous model's classes (tags, target size) and feature size are kept.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type, or the options cannot continue the model.</exception>
    public PrototypeRegressionTransformer Fit(IDataView input, PrototypeRegressionTransformer previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        return Train(input, previous.Model);
    }

    private PrototypeRegressionTransformer Train(IDataView input, PrototypeRegressorModel? previous)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = Settings;
        var (features, label, weightColumn) = LabelledRows.Columns(input.Schema, o, nameof(input));
        int d = ((VectorDataViewType)features.Type).Size, t;
        float[] rows, targets;
        float[]? weights;
        long skipped;
        if (label.Type == NumberDataViewType.Single)
        {
            t = 1;
            (rows, targets, weights, skipped) = LabelledRows.Read<float>(input, features, label, weightColumn, float.IsFinite, o.Regressor.MissingFeatures);
        }
        else if (label.Type is VectorDataViewType { IsKnownSize: true, ItemType: var item } vector && item == NumberDataViewType.Single)
        {
            // Vector targets: every value of a row's target must be finite.
            t = vector.Size;
            var read = LabelledRows.Read<VBuffer<float>>(input, features, label, weightColumn, v => v.DenseValues().All(float.IsFinite), o.Regressor.MissingFeatures);
            (rows, weights, skipped) = (read.Rows, read.Weights, read.Skipped);
            targets = read.Labels.SelectMany(v => v.DenseValues()).ToArray();
        }
        else
        {
            throw new ArgumentOutOfRangeException(nameof(input),
                $"The label column '{o.LabelColumnName}' has type {label.Type}; it must be a Single or a known-size vector of Single.");
        }
        using var channel = Environment?.Start("FlashKMeans");
        if (skipped > 0)
            channel?.Warning(MessageSensitivity.None, $"FlashKMeans: {skipped} rows with a missing label or feature (or a bad weight) were skipped.");
        var regressor = new PrototypeRegressor(o.Regressor);
        var model = previous is null ? regressor.Fit(rows, d, targets, t, weights) : regressor.FineTune(previous, rows, targets, weights);
        return new PrototypeRegressionTransformer(model, o.FeatureColumnName, GpuKMeansTrainer.Defaults.BatchSize);
    }
}
