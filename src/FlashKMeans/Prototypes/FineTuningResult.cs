namespace FlashKMeans.Prototypes;

/// <summary>The fit of phase 2 (<see cref="FineTuningOptions"/>), for inspection.</summary>
/// <param name="LearningRate">The step size used (given, or found).</param>
/// <param name="TrainingLoss">Mean task loss of each epoch's rows, each taken before the step that read it.</param>
/// <param name="ValidationLoss">Held-out task loss before training and after each epoch; empty without held-out rows.</param>
/// <param name="BestEpoch">The epoch whose parameters the model kept (0: phase 1's).</param>
/// <param name="ValidationError">
/// A classifier's held-out error (the weighted share of held-out rows it gets wrong) before training and after each
/// epoch, which early stopping reads first; empty for the other models and without held-out rows.
/// </param>
public sealed record FineTuningResult(double LearningRate, IReadOnlyList<double> TrainingLoss, IReadOnlyList<double> ValidationLoss, int BestEpoch,
    IReadOnlyList<double> ValidationError);
