namespace FlashKMeans.Prototypes;

/// <summary>A prototype model's task loss over training rows, and its gradient (see <see cref="PrototypeFineTuner"/>).</summary>
internal interface IPrototypeObjective
{
    /// <summary>Training rows.</summary>
    int RowCount { get; }

    /// <summary>Each prototype's group (class, tag; one group for the regressor): the diversity penalty pairs prototypes of a group.</summary>
    IReadOnlyList<int> Groups { get; }

    /// <summary>
    /// Adds up the weighted loss of <paramref name="rows"/> under <paramref name="parameters"/> (feature weights
    /// <paramref name="lambda"/>, empty for none), and when <paramref name="gradient"/> is given adds the weighted loss's
    /// gradient to it (∂/∂λ in its feature logits). Thread-safe. <paramref name="draws"/> seeds the step's random draws.
    /// </summary>
    /// <returns>
    /// Σ w·loss and Σ w over the rows; and, where no gradient is asked for (a held-out measurement) and the task has
    /// right and wrong answers (a classifier's class), Σ w over the rows the parameters get wrong, else NaN.
    /// </returns>
    (double Loss, double Weight, double Wrong) Accumulate(PrototypeParameters parameters, ReadOnlySpan<double> lambda, ReadOnlySpan<int> rows,
        PrototypeParameters? gradient, ulong draws);

    /// <summary>τ, the mean distance from a row to its nearest prototype (of its own class where rows have one) under <paramref name="parameters"/>.</summary>
    double NearestDistance(PrototypeParameters parameters);
}
