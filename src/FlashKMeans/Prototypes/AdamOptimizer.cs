namespace FlashKMeans.Prototypes;

/// <summary>Adam (Kingma and Ba, 2015) with β₁ = 0.9, β₂ = 0.999, ε = 1e-8 and bias correction, over every block of the parameters.</summary>
internal sealed class AdamOptimizer
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
    private readonly double[][] _first;
    private readonly double[][] _second;
    private long _steps;

    public AdamOptimizer(PrototypeParameters shape)
    {
        _first = shape.Blocks().Select(b => new double[b.Length]).ToArray();
        _second = shape.Blocks().Select(b => new double[b.Length]).ToArray();
    }

    /// <summary>One step of size <paramref name="rate"/> against <paramref name="gradient"/>.</summary>
    public void Step(PrototypeParameters parameters, PrototypeParameters gradient, double rate)
    {
        _steps++;
        double correction1 = 1 - Math.Pow(Beta1, _steps), correction2 = 1 - Math.Pow(Beta2, _steps);
        int b = 0;
        foreach (var (values, grads) in parameters.Blocks().Zip(gradient.Blocks()))
        {
            var m = _first[b];
            var v = _second[b];
            for (int i = 0; i < values.Length; i++)
            {
                m[i] = Beta1 * m[i] + (1 - Beta1) * grads[i];
                v[i] = Beta2 * v[i] + (1 - Beta2) * grads[i] * grads[i];
                values[i] -= rate * (m[i] / correction1) / (Math.Sqrt(v[i] / correction2) + Epsilon);
            }
            b++;
        }
    }

    /// <summary>The moments and step count, to put back with <see cref="Restore"/>.</summary>
    public (double[][] First, double[][] Second, long Steps) Save() =>
        (_first.Select(a => a.ToArray()).ToArray(), _second.Select(a => a.ToArray()).ToArray(), _steps);

    public void Restore((double[][] First, double[][] Second, long Steps) saved)
    {
        for (int b = 0; b < _first.Length; b++)
        {
            saved.First[b].CopyTo(_first[b], 0);
            saved.Second[b].CopyTo(_second[b], 0);
        }
        _steps = saved.Steps;
    }
}
