using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace FlashKMeans.MLNet;

/// <summary>What the prototype trainers share: their settings, copied and checked when created, and where they log.</summary>
/// <typeparam name="TOptions">The trainer's settings.</typeparam>
/// <typeparam name="TTransformer">What it fits.</typeparam>
public abstract class SupervisedTrainer<TOptions, TTransformer> : IEstimator<TTransformer>
    where TOptions : SupervisedTrainerOptions
    where TTransformer : ITransformer
{
    private protected SupervisedTrainer(TOptions options, IHostEnvironment? environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Settings = (TOptions)options.Copy();
        Environment = environment;
    }

    /// <summary>The settings (a private copy).</summary>
    private protected TOptions Settings { get; }

    /// <summary>Where log lines go; null logs nothing.</summary>
    private protected IHostEnvironment? Environment { get; }

    /// <inheritdoc />
    public abstract TTransformer Fit(IDataView input);

    /// <inheritdoc />
    public abstract SchemaShape GetOutputSchema(SchemaShape inputSchema);
}
