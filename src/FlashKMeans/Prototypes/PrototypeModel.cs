namespace FlashKMeans.Prototypes;

/// <summary>
/// What every fitted prototype model holds: the prototypes, the distance and feature weights they are measured with, and
/// how phase 2 went. <see cref="PrototypeClassifierModel"/>, <see cref="PrototypeRegressorModel"/> and
/// <see cref="MultiLabelModel"/> add what each predicts from them.
/// </summary>
public abstract class PrototypeModel
{
    private readonly float[] _prototypes;
    private readonly float[]? _featureWeights;

    private protected PrototypeModel(float[] prototypes, int dimension, PrototypeGridOptions options, float[]? featureWeights, FineTuningResult? fineTuning)
    {
        Data.HalfPrecisionConversion.RoundTo(prototypes, options.PrototypePrecision);  // the precision the model keeps them in
        _prototypes = prototypes;
        _featureWeights = featureWeights;
        Dimension = dimension;
        FineTuning = fineTuning;
        // Scoring rows against the prototypes is scoring against centroids: every scoring path of the engine serves it.
        Grid = new PrototypeGrid(prototypes, dimension, options.Distance, featureWeights, options.MissingFeatures, options.Device, options.GpuPrecision);
    }

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>P × d prototypes, row-major.</summary>
    public ReadOnlyMemory<float> Prototypes => _prototypes;

    /// <summary>The distance between rows and prototypes.</summary>
    public KMeansDistance Distance => Grid.Distance;

    /// <summary>
    /// The feature weights λ of the distance Σ λⱼ(xⱼ − pⱼ)², the features' relevances: automatic
    /// (<see cref="PrototypeGridOptions.AutomaticFeatureWeights"/>, in [0, 1]) or learned in phase 2
    /// (<see cref="FineTuningOptions.LearnFeatureWeights"/>, mean 1); empty when every feature weighs alike.
    /// </summary>
    public ReadOnlyMemory<float> FeatureWeights => _featureWeights;

    /// <summary>How phase 2 went; null when it did not run.</summary>
    public FineTuningResult? FineTuning { get; }

    /// <summary>The distances from rows to the prototypes.</summary>
    private protected PrototypeGrid Grid { get; }
}
