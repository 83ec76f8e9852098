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
public sealed class PrototypeRegressionTrainer : IEstimator<PrototypeRegressionTransformer>
{
    private readonly Options _options;
    private readonly IHostEnvironment? _env;

    /// <summary>Settings: the columns, plus every setting of <see cref="PrototypeRegressorOptions"/>.</summary>
    public sealed class Options : SupervisedTrainerOptions
    {
        /// <summary>The regressor's settings.</summary>
        public PrototypeRegressorOptions Regressor = new();

        internal Options Clone()
        {
            var copy = (Options)MemberwiseClone();
            copy.Regressor = Regressor.Clone();
            return copy;
        }
    }

    /// <summary>Creates the trainer; prefer the catalog extension.</summary>
    public PrototypeRegressionTrainer(Options options, IHostEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Regressor.Validate();
        _options = options.Clone();
        _env = environment;
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.CheckShape(inputSchema, _options.FeatureColumnName, _options.ExampleWeightColumnName, nameof(inputSchema));
        var label = inputSchema.FirstOrDefault(c => c.Name == _options.LabelColumnName);
        if (label.Name is null || label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar || label.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The label column '{_options.LabelColumnName}' must exist and be a scalar Single.");
        var columns = inputSchema.Where(c => c.Name != ClusteringColumns.Score).ToList();
        columns.Add(MLNetInternals.ShapeColumn(ClusteringColumns.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false));
        return new SchemaShape(columns);
    }

    /// <summary>Reads the input once into memory and builds the prototypes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type; the message names it.</exception>
    public PrototypeRegressionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var (features, label, weightColumn) = LabelledRows.Columns(input.Schema, o, nameof(input));
        if (label.Type != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(input), $"The label column '{o.LabelColumnName}' has type {label.Type}; it must be a scalar Single.");
        int d = ((VectorDataViewType)features.Type).Size;
        var (rows, targets, weights, skipped) = LabelledRows.Read<float>(input, features, label, weightColumn, float.IsFinite);
        using var channel = _env?.Start("FlashKMeans");
        if (skipped > 0)
            channel?.Warning(MessageSensitivity.None, $"FlashKMeans: {skipped} rows with a missing label or feature (or a bad weight) were skipped.");
        var model = new PrototypeRegressor(o.Regressor).Fit(rows, d, targets, 1, weights);
        return new PrototypeRegressionTransformer(model, o.FeatureColumnName, GpuKMeansTrainer.Defaults.BatchSize);
    }
}
