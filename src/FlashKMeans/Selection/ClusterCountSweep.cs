using FlashKMeans.Clustering;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;

namespace FlashKMeans.Selection;

/// <summary>
/// Helps choose K: fits every K of a range with the same options and seed (on the device the options choose), scores
/// each fit by inertia, Davies–Bouldin, Calinski–Harabasz and a sampled silhouette (unweighted, in float64 from the
/// differences), and proposes a K by each criterion and by their majority.
/// </summary>
public static class ClusterCountSweep
{
    /// <summary>Rows a silhouette is taken over by default: its cost grows with the square of the sample.</summary>
    public const int DefaultSilhouetteSample = 2000;

    /// <summary>Fits K = <paramref name="minimum"/> … <paramref name="maximum"/> on rows in memory and scores each.</summary>
    /// <param name="rows">n × d row-major values.</param>
    /// <param name="dimension">d.</param>
    /// <param name="minimum">The smallest K, at least 2 (the indices compare clusters).</param>
    /// <param name="maximum">The largest K, at most n − 1.</param>
    /// <param name="options">The fits' settings (K is set per fit; the distance must be squared Euclidean); defaults if null.</param>
    /// <param name="silhouetteSample">Rows the silhouette is taken over (all when n is smaller).</param>
    /// <param name="progress">Told after each K: the scores so far.</param>
    /// <param name="cancellationToken">Stops between and inside fits.</param>
    /// <exception cref="ArgumentOutOfRangeException">A bad range or sample size, a distance other than squared Euclidean, or explicit initial centroids.</exception>
    /// <exception cref="ArgumentException">Bad rows (NaN, infinite, ragged), named as a fit names them.</exception>
    public static ClusterCountReport Run(ReadOnlyMemory<float> rows, int dimension, int minimum, int maximum, KMeansOptions? options = null,
        int silhouetteSample = DefaultSilhouetteSample, IProgress<ClusterCountScore>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new KMeansOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (rows.IsEmpty || rows.Length % dimension != 0)
            throw new ArgumentException($"Expected n × {dimension} values with n ≥ 1, got {rows.Length}.", nameof(rows));
        int n = rows.Length / dimension;
        if (minimum < 2)
            throw new ArgumentOutOfRangeException(nameof(minimum), minimum, "Must be at least 2: the indices compare clusters.");
        if (maximum < minimum || maximum > n - 1)
            throw new ArgumentOutOfRangeException(nameof(maximum), maximum, $"Must lie in [{minimum}, {n - 1}] (n − 1 for {n} rows).");
        ArgumentOutOfRangeException.ThrowIfLessThan(silhouetteSample, 2);
        if (options.Distance != KMeansDistance.SquaredEuclidean)
            throw new ArgumentOutOfRangeException(nameof(options), options.Distance, "The indices are defined for squared Euclidean k-means.");
        if (options.Initialization == KMeansInitialization.Explicit)
            throw new ArgumentOutOfRangeException(nameof(options), options.Initialization,
                "Explicit initial centroids fix one K; the sweep seeds every K itself (k-means‖, k-means++ or random rows).");
        DataValidator.ThrowIfBadRows(rows.Span, dimension, 0, true, nameof(rows));

        var sample = Sample(n, Math.Min(silhouetteSample, n), CounterRandom.Derive((ulong)options.Seed, 0x5117));
        var scores = new List<ClusterCountScore>();
        var source = new InMemoryBatchSource(rows, dimension);
        var labels = new int[n];
        var sampleDistances = SampleDistances(rows, dimension, sample);
        // The rows are validated (and centred) once and every K runs on one backend, on the GPU on rows bound once; each K's
        // fit is still exactly the fit it would be alone. Its labels come from the same device.
        new KMeans(options).FitEach(source, Enumerable.Range(minimum, maximum - minimum + 1).ToArray(), model =>
        {
            var score = Score(rows, dimension, model, labels, sample, sampleDistances);
            scores.Add(score);
            progress?.Report(score);
        }, cancellationToken, labels);
        return Report(scores);
    }

    /// <summary>
    /// The indices of one fit, in float64 from the differences (exact for data far from the origin), its rows labelled on
    /// <paramref name="device"/>.
    /// </summary>
    internal static ClusterCountScore Score(ReadOnlyMemory<float> rows, int d, KMeansModel model, int[] sample, ComputeDevice device = ComputeDevice.Cpu)
    {
        var labels = new int[rows.Length / d];
        model.Predict(new InMemoryBatchSource(rows, d), labels, device);
        return Score(rows, d, model, labels, sample, SampleDistances(rows, d, sample));
    }

    /// <summary>The indices of one fit whose rows' <paramref name="labels"/> and sample's pairwise distances are known.</summary>
    private static ClusterCountScore Score(ReadOnlyMemory<float> rows, int d, KMeansModel model, int[] labels, int[] sample, double[] sampleDistances)
    {
        int n = rows.Length / d, k = model.NumberOfClusters;
        var centroids = model.Centroids.Span;
        var (inertia, spread, counts, mean) = Dispersion(rows, d, model.Centroids, labels);

        // Calinski–Harabasz: between-cluster dispersion against within, each per its degrees of freedom.
        double between = 0;
        for (int c = 0; c < k; c++)
        {
            double s = 0;
            for (int j = 0; j < d; j++)
            {
                double v = centroids[c * d + j] - mean[j];
                s += v * v;
            }
            between += counts[c] * s;
        }
        double calinski = inertia > 0 ? between / (k - 1) / (inertia / (n - k)) : double.PositiveInfinity;

        // Davies–Bouldin over the clusters that hold rows.
        var live = Enumerable.Range(0, k).Where(c => counts[c] > 0).ToArray();
        double davies = 0;
        foreach (int a in live)
        {
            double worst = 0;
            foreach (int b in live)
            {
                if (a == b)
                    continue;
                double separation = Math.Sqrt(VectorMath.SquaredDistanceDouble(centroids.Slice(a * d, d), centroids.Slice(b * d, d)));
                double ratio = separation > 0 ? (spread[a] / counts[a] + spread[b] / counts[b]) / separation : double.PositiveInfinity;
                worst = Math.Max(worst, ratio);
            }
            davies += worst;
        }
        davies = live.Length > 1 ? davies / live.Length : double.NaN;

        return new ClusterCountScore(k, inertia, davies, calinski, Silhouette(labels, k, sample, sampleDistances));
    }

    /// <summary>Rows per chunk of <see cref="Dispersion"/>: each chunk's sums are added in chunk order, at any thread count.</summary>
    private const int DispersionChunk = 1 << 14;

    /// <summary>
    /// The inertia, each cluster's sum of distances (not squared) and row count, and the mean row, in float64 from the
    /// differences: over fixed chunks of rows in parallel, added up in chunk order, so the same bits at any thread count.
    /// </summary>
    private static (double Inertia, double[] Spread, long[] Counts, double[] Mean) Dispersion(ReadOnlyMemory<float> rows, int d,
        ReadOnlyMemory<float> centroids, int[] labels)
    {
        int n = rows.Length / d, k = centroids.Length / d;
        int chunks = (n + DispersionChunk - 1) / DispersionChunk;
        var parts = new (double Inertia, double[] Spread, long[] Counts, double[] Sum)[chunks];
        Threading.ParallelWork.For(0, chunks, new ParallelOptions(), chunk =>
        {
            var all = rows.Span;
            var c = centroids.Span;
            double inertia = 0;
            var spread = new double[k];
            var counts = new long[k];
            var sum = new double[d];
            int end = Math.Min(n, (chunk + 1) * DispersionChunk);
            for (int r = chunk * DispersionChunk; r < end; r++)
            {
                var row = all.Slice(r * d, d);
                int label = labels[r];
                double squared = VectorMath.SquaredDistanceDouble(row, c.Slice(label * d, d));
                inertia += squared;
                spread[label] += Math.Sqrt(squared);
                counts[label]++;
                for (int j = 0; j < d; j++)
                    sum[j] += row[j];
            }
            parts[chunk] = (inertia, spread, counts, sum);
        });
        double total = 0;
        var spreads = new double[k];
        var sizes = new long[k];
        var mean = new double[d];
        foreach (var part in parts)
        {
            total += part.Inertia;
            for (int c = 0; c < k; c++)
            {
                spreads[c] += part.Spread[c];
                sizes[c] += part.Counts[c];
            }
            for (int j = 0; j < d; j++)
                mean[j] += part.Sum[j];
        }
        for (int j = 0; j < d; j++)
            mean[j] /= n;
        return (total, spreads, sizes, mean);
    }

    /// <summary>
    /// The distances (not squared, float64 from the differences) between every two rows of a sample, the lower triangle
    /// row by row: the same for every K, so a sweep computes them once.
    /// </summary>
    internal static double[] SampleDistances(ReadOnlyMemory<float> rows, int d, int[] sample)
    {
        int m = sample.Length;
        var distances = new double[(long)m * (m - 1) / 2];
        Threading.ParallelWork.For(1, m, new ParallelOptions(), i =>
        {
            var all = rows.Span;
            var row = all.Slice(sample[i] * d, d);
            long at = (long)i * (i - 1) / 2;
            for (int j = 0; j < i; j++)
                distances[at + j] = Math.Sqrt(VectorMath.SquaredDistanceDouble(row, all.Slice(sample[j] * d, d)));
        });
        return distances;
    }

    /// <summary>The mean silhouette over the sample whose pairwise <paramref name="distances"/> are given (<see cref="SampleDistances"/>).</summary>
    private static double Silhouette(int[] labels, int k, int[] sample, double[] distances)
    {
        int m = sample.Length;
        var sums = new double[(long)m * k];
        var sizes = new int[k];
        foreach (int r in sample)
            sizes[labels[r]]++;
        for (int i = 1; i < m; i++)
        {
            long at = (long)i * (i - 1) / 2;
            int li = labels[sample[i]];
            for (int j = 0; j < i; j++)
            {
                double v = distances[at + j];
                sums[(long)i * k + labels[sample[j]]] += v;
                sums[(long)j * k + li] += v;
            }
        }
        double total = 0;
        for (int i = 0; i < m; i++)
        {
            int own = labels[sample[i]];
            if (sizes[own] <= 1)
                continue;  // a row alone in its cluster scores 0, as scikit-learn scores it
            double a = sums[(long)i * k + own] / (sizes[own] - 1), b = double.PositiveInfinity;
            for (int c = 0; c < k; c++)
            {
                if (c != own && sizes[c] > 0)
                    b = Math.Min(b, sums[(long)i * k + c] / sizes[c]);
            }
            if (double.IsFinite(b) && Math.Max(a, b) > 0)
                total += (b - a) / Math.Max(a, b);
        }
        return total / m;
    }

    /// <summary>The K each criterion proposes, and their majority (ties to the silhouette's).</summary>
    internal static ClusterCountReport Report(List<ClusterCountScore> scores)
    {
        int knee = Knee(scores.Select(s => (double)s.NumberOfClusters).ToArray(), scores.Select(s => s.Inertia).ToArray());
        int davies = scores.Where(s => !double.IsNaN(s.DaviesBouldin)).MinBy(s => s.DaviesBouldin)?.NumberOfClusters ?? scores[0].NumberOfClusters;
        int calinski = scores.MaxBy(s => s.CalinskiHarabasz)!.NumberOfClusters;
        int silhouette = scores.MaxBy(s => s.Silhouette)!.NumberOfClusters;
        var votes = new[] { knee, davies, calinski, silhouette }.GroupBy(v => v).Select(g => (K: g.Key, Votes: g.Count())).ToList();
        int most = votes.Max(v => v.Votes);
        var leaders = votes.Where(v => v.Votes == most).Select(v => v.K).ToList();
        int proposed = leaders.Count == 1 ? leaders[0] : leaders.Contains(silhouette) ? silhouette : leaders.Min();
        return new ClusterCountReport(scores, knee, davies, calinski, silhouette, proposed);
    }

    /// <summary>
    /// Kneedle on a falling curve: the x farthest below the chord from the first point to the last, both axes scaled to
    /// [0, 1], the curve taken on a log scale when it is positive. Inertia falls by orders of magnitude until K reaches
    /// the data's clusters and slowly after; on a linear scale the first big drop would dwarf the knee.
    /// </summary>
    internal static int Knee(double[] x, double[] y)
    {
        int count = x.Length;
        if (y.All(v => v > 0))
            y = y.Select(v => Math.Log(v)).ToArray();
        if (count < 3)
            return (int)x[0];
        double x0 = x[0], x1 = x[^1], yMax = y.Max(), yMin = y.Min();
        if (!(yMax > yMin))
            return (int)x[0];
        int best = 0;
        double farthest = double.NegativeInfinity;
        for (int i = 0; i < count; i++)
        {
            double xs = (x[i] - x0) / (x1 - x0), ys = (y[i] - yMin) / (yMax - yMin);
            // The chord runs from (0, 1) to (1, 0): a falling convex curve lies below it by 1 − xs − ys.
            double below = 1 - xs - ys;
            if (below > farthest)
                (farthest, best) = (below, i);
        }
        return (int)x[best];
    }

    /// <summary>A seeded sample of <paramref name="size"/> distinct row indices, in increasing order.</summary>
    private static int[] Sample(int n, int size, ulong seed)
    {
        if (size >= n)
            return Enumerable.Range(0, n).ToArray();
        var order = Enumerable.Range(0, n).ToArray();
        for (int i = 0; i < size; i++)
        {
            int j = i + (int)(CounterRandom.Uniform(seed, (ulong)i) * (n - i));
            (order[i], order[j]) = (order[j], order[i]);
        }
        var chosen = order.AsSpan(0, size).ToArray();
        Array.Sort(chosen);
        return chosen;
    }
}
