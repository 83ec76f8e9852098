namespace FlashKMeans.Prototypes;

/// <summary>
/// The coordinates phase 2 trains in: x' = (x − μ) / σ, μ the rows' weighted mean and σ their root mean squared deviation
/// per feature, so that step sizes and penalties do not depend on where the data lies or on its units, and distances
/// far from the origin keep their digits. Cosine rows are unit vectors and stay as they are (a shift would change their
/// angles). Distances scale back by <see cref="DistanceScale"/>: σ² for squared Euclidean, σ for L1.
/// </summary>
internal sealed class TrainingSpace
{
    private TrainingSpace(double[] shift, double scale, KMeansDistance distance)
    {
        Shift = shift;
        Scale = scale;
        Distance = distance;
    }

    public double[] Shift { get; }

    public double Scale { get; }

    public KMeansDistance Distance { get; }

    /// <summary>Data distance = this × training distance.</summary>
    public double DistanceScale => Distance switch
    {
        KMeansDistance.SquaredEuclidean => Scale * Scale,
        KMeansDistance.Manhattan => Scale,
        _ => 1,
    };

    /// <summary>The space of <paramref name="rows"/> (n × d, weighted by <paramref name="weights"/> or alike).</summary>
    public static TrainingSpace Of(ReadOnlySpan<float> rows, int d, ReadOnlySpan<float> weights, KMeansDistance distance)
    {
        var shift = new double[d];
        if (distance == KMeansDistance.Cosine)
            return new TrainingSpace(shift, 1, distance);
        var (mean, scale) = Spread(rows, d, weights);
        return new TrainingSpace(mean, scale, distance);
    }

    /// <summary>
    /// The weighted mean of the given rows, per feature over the rows that have it (NaN is a missing feature; 0 where
    /// no row has it).
    /// </summary>
    public static double[] Mean(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, int[] members, int d)
    {
        var sum = new double[d];
        var total = new double[d];
        foreach (int r in members)
        {
            double w = weights.IsEmpty ? 1 : weights[r];
            var row = rows.Slice(r * d, d);
            for (int j = 0; j < d; j++)
            {
                if (float.IsNaN(row[j]))
                    continue;
                sum[j] += w * row[j];
                total[j] += w;
            }
        }
        for (int j = 0; j < d; j++)
            sum[j] = total[j] > 0 ? sum[j] / total[j] : 0;
        return sum;
    }

    /// <summary>
    /// The weighted mean of n × d values per coordinate (<see cref="Mean"/>), and their root mean squared deviation per
    /// coordinate (1 where they do not vary); NaN values (missing features) are left out of both.
    /// </summary>
    public static (double[] Mean, double Scale) Spread(ReadOnlySpan<float> values, int d, ReadOnlySpan<float> weights)
    {
        int n = values.Length / d;
        var mean = Mean(values, weights, Enumerable.Range(0, n).ToArray(), d);
        double squares = 0, weight = 0;
        for (int r = 0; r < n; r++)
        {
            double w = weights.IsEmpty ? 1 : weights[r];
            for (int j = 0; j < d; j++)
            {
                float v = values[r * d + j];
                if (float.IsNaN(v))
                    continue;
                double deviation = v - mean[j];
                squares += w * deviation * deviation;
                weight += w;
            }
        }
        double scale = weight > 0 ? Math.Sqrt(squares / weight) : 0;
        return (mean, scale > 0 && double.IsFinite(scale) ? scale : 1);
    }

    /// <summary>n × d values in training coordinates (cosine: scaled to unit length, as the distance reads them).</summary>
    public double[] ToTraining(ReadOnlySpan<float> values)
    {
        int d = Shift.Length;
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = (values[i] - Shift[i % d]) / Scale;
        if (Distance == KMeansDistance.Cosine)
            ToUnitLength(result, d);
        return result;
    }

    /// <summary>Scales each row of d values to unit length; a zero row keeps no direction and stays.</summary>
    public static void ToUnitLength(double[] rows, int d)
    {
        for (int at = 0; at < rows.Length; at += d)
        {
            var row = rows.AsSpan(at, d);
            double norm = Math.Sqrt(System.Numerics.Tensors.TensorPrimitives.Dot<double>(row, row));
            if (norm > 0)
                System.Numerics.Tensors.TensorPrimitives.Divide(row, norm, row);
        }
    }

    /// <summary>n × d training values back in the data's coordinates.</summary>
    public float[] ToData(ReadOnlySpan<double> values)
    {
        int d = Shift.Length;
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = (float)(values[i] * Scale + Shift[i % d]);
        return result;
    }
}
