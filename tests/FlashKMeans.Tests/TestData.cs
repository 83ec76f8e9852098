namespace FlashKMeans.Tests;

/// <summary>Fresh random inputs for tests: Gaussian blobs and plain Gaussian noise.</summary>
internal static class TestData
{
    /// <summary>N × d standard normal values.</summary>
    public static float[] Gaussian(int n, int d, int seed)
    {
        var random = new Random(seed);
        var data = new float[n * d];
        for (int i = 0; i < data.Length; i++)
            data[i] = (float)Normal(random);
        return data;
    }

    /// <summary>N rows around <paramref name="centers"/> centres drawn from N(0, spread²), unit noise.</summary>
    public static float[] Blobs(int n, int d, int centers, double spread, int seed)
    {
        var random = new Random(seed);
        var means = new double[centers * d];
        for (int i = 0; i < means.Length; i++)
            means[i] = spread * Normal(random);
        var data = new float[n * d];
        for (int r = 0; r < n; r++)
        {
            int c = random.Next(centers);
            for (int f = 0; f < d; f++)
                data[r * d + f] = (float)(means[c * d + f] + Normal(random));
        }
        return data;
    }

    public static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>K rows picked from the data (distinct indices), as initial centroids.</summary>
    public static float[] PickRows(float[] data, int d, int k, int seed)
    {
        int n = data.Length / d;
        var random = new Random(seed);
        var indices = Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(k).ToArray();
        var result = new float[k * d];
        for (int i = 0; i < k; i++)
            Array.Copy(data, indices[i] * d, result, i * d, d);
        return result;
    }
}
