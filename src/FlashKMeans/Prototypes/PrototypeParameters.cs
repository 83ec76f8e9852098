namespace FlashKMeans.Prototypes;

/// <summary>
/// What phase 2 learns, in training coordinates: P × d prototypes, P × t prototype targets (the regressor's; empty
/// otherwise), d feature logits θ (empty unless feature weights are learned), with weights λⱼ = d·softmax(θ)ⱼ, so
/// λ ≥ 0 with mean 1, and log τ, the logarithm of the cross-entropy's temperature (empty for the other losses). Feature
/// weights that are used but not learned (<see cref="PrototypeGridOptions.AutomaticFeatureWeights"/> without
/// <see cref="FineTuningOptions.LearnFeatureWeights"/>) sit in <see cref="FixedFeatureWeights"/>, outside the optimiser's reach. A gradient has the same shape, with ∂/∂λ in <see cref="FeatureLogits"/> until
/// <see cref="ToLogitGradient"/> turns it into ∂/∂θ.
/// </summary>
internal sealed class PrototypeParameters
{
    public PrototypeParameters(double[] prototypes, double[] targets, double[] featureLogits, double[]? logTemperature = null,
        double[]? fixedFeatureWeights = null)
    {
        Prototypes = prototypes;
        Targets = targets;
        FeatureLogits = featureLogits;
        LogTemperature = logTemperature ?? [];
        FixedFeatureWeights = fixedFeatureWeights ?? [];
    }

    /// <summary>Feature weights the distance uses without learning them; empty when there are none or they are learned.</summary>
    public double[] FixedFeatureWeights { get; }

    public double[] Prototypes { get; }

    public double[] Targets { get; }

    public double[] FeatureLogits { get; }

    /// <summary>log τ of the cross-entropy's logits −d / τ, learned with the prototypes; empty where the loss has none.</summary>
    public double[] LogTemperature { get; }

    /// <summary>A zero-filled gradient of this shape.</summary>
    public PrototypeParameters ZeroLike() => new(new double[Prototypes.Length], new double[Targets.Length], new double[FeatureLogits.Length], new double[LogTemperature.Length]);

    public PrototypeParameters Clone() => new(Prototypes.ToArray(), Targets.ToArray(), FeatureLogits.ToArray(), LogTemperature.ToArray(), FixedFeatureWeights);

    /// <summary>Every value, in one order (prototypes, targets, feature logits, log τ): for the optimiser.</summary>
    public IEnumerable<double[]> Blocks() => [Prototypes, Targets, FeatureLogits, LogTemperature];

    public void CopyFrom(PrototypeParameters other)
    {
        other.Prototypes.CopyTo(Prototypes, 0);
        other.Targets.CopyTo(Targets, 0);
        other.FeatureLogits.CopyTo(FeatureLogits, 0);
        other.LogTemperature.CopyTo(LogTemperature, 0);
    }

    public void Clear()
    {
        Array.Clear(Prototypes);
        Array.Clear(Targets);
        Array.Clear(FeatureLogits);
        Array.Clear(LogTemperature);
    }

    /// <summary>Adds <paramref name="other"/> to this, block by block.</summary>
    public void Add(PrototypeParameters other)
    {
        Accumulate(Prototypes, other.Prototypes);
        Accumulate(Targets, other.Targets);
        Accumulate(FeatureLogits, other.FeatureLogits);
        Accumulate(LogTemperature, other.LogTemperature);
    }

    /// <summary>Multiplies every value by <paramref name="factor"/>.</summary>
    public void Scale(double factor)
    {
        foreach (var block in Blocks())
        {
            for (int i = 0; i < block.Length; i++)
                block[i] *= factor;
        }
    }

    /// <summary>λ = d·softmax(θ) when learned; else the fixed weights, or empty for none.</summary>
    public double[] FeatureWeights()
    {
        int d = FeatureLogits.Length;
        if (d == 0)
            return FixedFeatureWeights;
        double top = FeatureLogits.Max(), sum = 0;
        var weights = new double[d];
        for (int j = 0; j < d; j++)
            sum += weights[j] = Math.Exp(FeatureLogits[j] - top);
        for (int j = 0; j < d; j++)
            weights[j] *= d / sum;
        return weights;
    }

    /// <summary>
    /// Turns the accumulated ∂L/∂λ in <see cref="FeatureLogits"/> into ∂L/∂θ: ∂L/∂θₖ = λₖ(gₖ − Σⱼ λⱼgⱼ / d).
    /// </summary>
    public void ToLogitGradient(ReadOnlySpan<double> featureWeights)
    {
        int d = FeatureLogits.Length;
        double mean = 0;
        for (int j = 0; j < d; j++)
            mean += featureWeights[j] * FeatureLogits[j];
        mean /= Math.Max(d, 1);
        for (int k = 0; k < d; k++)
            FeatureLogits[k] = featureWeights[k] * (FeatureLogits[k] - mean);
    }

    private static void Accumulate(double[] into, double[] from)
    {
        for (int i = 0; i < into.Length; i++)
            into[i] += from[i];
    }
}
