namespace FlashKMeans.Prototypes;

/// <summary>The loss <see cref="PrototypeClassifier"/> fine-tunes its prototypes on (see <see cref="FineTuningOptions"/>).</summary>
public enum PrototypeLoss
{
    /// <summary>
    /// Cross-entropy over class logits from negative distances: zᶜ = log Σ exp(−dₚ / τ) over class c's prototypes (a soft
    /// minimum, as robust soft LVQ), τ a temperature learned with the prototypes, from the mean distance from a training
    /// row to its nearest prototype of its class after phase 1. With <see cref="PrototypeClassifierOptions.SampledNegativeClasses"/>, a sampled softmax.
    /// </summary>
    CrossEntropy = 0,

    /// <summary>
    /// Generalised LVQ: the relative distance μ = (d⁺ − d⁻) / (d⁺ + d⁻) of the nearest prototype of the row's class (d⁺)
    /// and of any other class (d⁻), negative when the row is classified right; the loss is (1 + μ) / 2, in [0, 1].
    /// </summary>
    Glvq = 1,
}
