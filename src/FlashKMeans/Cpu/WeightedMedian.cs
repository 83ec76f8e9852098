namespace FlashKMeans.Cpu;

/// <summary>The weighted median of values: the point that minimises Σ wᵢ·|xᵢ − m|, the k-medians update.</summary>
internal static class WeightedMedian
{
    /// <summary>
    /// The lower weighted median: the smallest value at which the weight at or below it reaches half the total. Equal
    /// values are interchangeable, so the order the sort leaves them in does not change the result, which depends on the
    /// values and weights alone. Zero weights count for nothing; the values and weights are reordered in place.
    /// </summary>
    public static float Lower(Span<float> values, Span<float> weights)
    {
        if (values.IsEmpty)
            throw new ArgumentException("No values.", nameof(values));
        values.Sort(weights);
        double total = 0;
        foreach (float w in weights)
            total += w;
        double half = total / 2, running = 0;
        for (int i = 0; i < values.Length; i++)
        {
            running += weights[i];
            if (running >= half && weights[i] > 0)
                return values[i];
        }
        return values[^1];
    }

    /// <summary>
    /// Each feature's lower weighted median over the rows <paramref name="members"/> of <paramref name="rows"/> (row-major,
    /// <paramref name="result"/>.Length features), weighted by <paramref name="weights"/> (empty: unit weights).
    /// </summary>
    public static void OfRows(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, ReadOnlySpan<int> members, Span<float> result)
    {
        int d = result.Length;
        var values = new float[members.Length];
        var valueWeights = new float[members.Length];
        for (int j = 0; j < d; j++)
        {
            for (int i = 0; i < members.Length; i++)
            {
                values[i] = rows[members[i] * d + j];
                valueWeights[i] = weights.IsEmpty ? 1f : weights[members[i]];
            }
            result[j] = Lower(values, valueWeights);
        }
    }
}
