namespace FlashKMeans.Tests;

/// <summary>
/// Straightforward float64 k-means written for the tests only: brute-force assignment with direct
/// differences (no ‖x‖² − 2x·c shortcut) and plain means.
/// </summary>
internal static class Reference
{
    public static double Distance(ReadOnlySpan<float> x, ReadOnlySpan<float> c)
    {
        double s = 0;
        for (int f = 0; f < x.Length; f++)
        {
            double diff = (double)x[f] - c[f];
            s += diff * diff;
        }
        return s;
    }

    /// <summary>Nearest centroid by float64 distance (lowest index on exact ties) and every distance.</summary>
    public static (int Label, double Best, double[] All) Nearest(ReadOnlySpan<float> x, ReadOnlySpan<float> centroids, int d)
    {
        int k = centroids.Length / d;
        var all = new double[k];
        int label = 0;
        for (int c = 0; c < k; c++)
        {
            all[c] = Distance(x, centroids.Slice(c * d, d));
            if (all[c] < all[label])
                label = c;
        }
        return (label, all[label], all);
    }

    /// <summary>
    /// Asserts that <paramref name="label"/> is the float64 nearest centroid or ties with it within the
    /// rounding a float32 ‖x‖² + ‖c‖² − 2x·c evaluation can incur (<paramref name="tolerance"/> of ‖x‖² + ‖c‖² + 1).
    /// </summary>
    public static void AssertNearest(ReadOnlySpan<float> x, ReadOnlySpan<float> centroids, int d, int label, string context, double tolerance = 1e-5)
    {
        var (best, bestDistance, all) = Nearest(x, centroids, d);
        if (label == best)
            return;
        double scale = Reference.Distance(x, new float[d]) + Reference.Distance(centroids.Slice(label * d, d), new float[d]) + 1;
        double gap = all[label] - bestDistance;
        if (gap > tolerance * scale)
            throw new AssertFailedException($"{context}: label {label} (distance {all[label]:G9}) but {best} is nearer ({bestDistance:G9}); gap {gap:G3} exceeds rounding tolerance {tolerance * scale:G3}.");
    }

    /// <summary>
    /// As <see cref="AssertNearest"/>, for data anywhere: the rounding allowed is <paramref name="tolerance"/> of
    /// ‖x − o‖² + ‖c − o‖² + spread², o the centroids' mean, which is what a computation centred on the data can
    /// incur (an uncentred float32 expansion incurs ‖x‖² + ‖c‖² and fails this far from the origin).
    /// </summary>
    public static void AssertNearestCentred(ReadOnlySpan<float> x, ReadOnlySpan<float> centroids, int d, int label, string context,
        double tolerance = 1e-5)
    {
        var (best, bestDistance, all) = Nearest(x, centroids, d);
        if (label == best)
            return;
        var origin = Mean(centroids, d);
        double scale = Distance(x, origin) + Distance(centroids.Slice(label * d, d), origin) + bestDistance;
        double gap = all[label] - bestDistance;
        if (gap > tolerance * scale)
            throw new AssertFailedException($"{context}: label {label} (distance {all[label]:G9}) but {best} is nearer ({bestDistance:G9}); gap {gap:G3} exceeds centred rounding tolerance {tolerance * scale:G3}.");
    }

    /// <summary>The mean of the rows of <paramref name="rows"/>, in float64, rounded to float32.</summary>
    public static float[] Mean(ReadOnlySpan<float> rows, int d)
    {
        int n = rows.Length / d;
        var sum = new double[d];
        for (int r = 0; r < n; r++)
            for (int f = 0; f < d; f++)
                sum[f] += rows[r * d + f];
        return sum.Select(v => (float)(v / n)).ToArray();
    }

    /// <summary>Σ w·min_c ‖x − c‖² in float64: the exact inertia of <paramref name="data"/> under the centroids.</summary>
    public static double Inertia(float[] data, int d, ReadOnlySpan<float> centroids)
    {
        double total = 0;
        for (int r = 0; r < data.Length / d; r++)
            total += Nearest(data.AsSpan(r * d, d), centroids, d).Best;
        return total;
    }

    /// <summary>Plain Lloyd in float64 from the given centroids; empty clusters keep their centroid.</summary>
    public static (double[] Centroids, int[] Labels, List<double> Inertia) Lloyd(float[] data, int d, float[] initial, int iterations)
    {
        int n = data.Length / d, k = initial.Length / d;
        var centroids = initial.Select(v => (double)v).ToArray();
        var labels = new int[n];
        var history = new List<double>();
        for (int it = 0; it < iterations; it++)
        {
            double inertia = 0;
            var asFloat = centroids.Select(v => (float)v).ToArray();
            for (int r = 0; r < n; r++)
            {
                var (label, best, _) = Nearest(data.AsSpan(r * d, d), asFloat, d);
                labels[r] = label;
                inertia += best;
            }
            history.Add(inertia);
            var sums = new double[k * d];
            var counts = new double[k];
            for (int r = 0; r < n; r++)
            {
                counts[labels[r]]++;
                for (int f = 0; f < d; f++)
                    sums[labels[r] * d + f] += data[r * d + f];
            }
            for (int c = 0; c < k; c++)
            {
                if (counts[c] == 0)
                    continue;
                for (int f = 0; f < d; f++)
                    centroids[c * d + f] = sums[c * d + f] / counts[c];
            }
        }
        return (centroids, labels, history);
    }
}
