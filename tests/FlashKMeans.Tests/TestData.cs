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

    /// <summary>The data moved by <paramref name="offset"/> in every coordinate, rounded to float32 as a file of such values would be.</summary>
    public static float[] Offset(float[] data, double offset) => data.Select(v => (float)(offset + v)).ToArray();

    /// <summary>
    /// Latitude and longitude in degrees of points around <paramref name="places"/> spots within a few city blocks
    /// (±0.002°, about 200 m) of one corner of Manhattan: coordinates 40.75 and −73.99, differences 10⁻⁴.
    /// </summary>
    public static float[] CityBlocks(int n, int places, int seed)
    {
        var random = new Random(seed);
        var spots = new double[places * 2];
        for (int p = 0; p < places; p++)
        {
            spots[2 * p] = 40.75 + 0.002 * (2 * random.NextDouble() - 1);
            spots[2 * p + 1] = -73.99 + 0.002 * (2 * random.NextDouble() - 1);
        }
        var data = new float[n * 2];
        for (int r = 0; r < n; r++)
        {
            int p = random.Next(places);
            data[2 * r] = (float)(spots[2 * p] + 0.0001 * Normal(random));
            data[2 * r + 1] = (float)(spots[2 * p + 1] + 0.0001 * Normal(random));
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
