using FlashKMeans.Clustering;
using FlashKMeans.Selection;

namespace FlashKMeans.Tool;

/// <summary>
/// The pictures of <c>--plot DIR</c> (PNG, ScottPlot): the data projected to its first two principal components (a sample
/// of rows, coloured by cluster, centroids marked), the inertia per iteration, the cluster sizes, and with
/// <c>--choose-k</c> the elbow curve with the proposed K.
/// </summary>
internal static class Plots
{
    private const int Width = 900, Height = 600;

    /// <summary>Rows drawn for the projection (and its principal axes).</summary>
    public const int SampleRows = 5000;

    /// <summary>Writes projection.png, inertia.png and sizes.png; returns their paths.</summary>
    /// <param name="folder">Where the pictures go.</param>
    /// <param name="sample">A seeded sample of the rows (<see cref="SampleRows"/> at most), row-major.</param>
    /// <param name="sampleLabels">Their clusters.</param>
    /// <param name="rows">Rows in all.</param>
    /// <param name="dimension">d.</param>
    /// <param name="model">The model.</param>
    /// <param name="clusterSizes">Rows per cluster, over all rows.</param>
    public static string[] Fit(string folder, float[] sample, int[] sampleLabels, long rows, int dimension, KMeansModel model, long[] clusterSizes)
    {
        Directory.CreateDirectory(folder);
        int k = model.NumberOfClusters;
        var paths = new List<string>();

        // Projection: the sample onto the top two principal components of the sample.
        var (mean, axes) = PrincipalAxes(sample, dimension, 2);
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category20();
        foreach (var group in Enumerable.Range(0, sampleLabels.Length).GroupBy(r => sampleLabels[r]))
        {
            var xs = group.Select(r => Project(sample.AsSpan(r * dimension, dimension), mean, axes[0])).ToArray();
            var ys = group.Select(r => Project(sample.AsSpan(r * dimension, dimension), mean, axes[1])).ToArray();
            var points = plot.Add.ScatterPoints(xs, ys, palette.GetColor(group.Key));
            points.MarkerSize = 3;
        }
        var centroids = model.Centroids.ToArray();
        var cx = Enumerable.Range(0, k).Select(c => Project(centroids.AsSpan(c * dimension, dimension), mean, axes[0])).ToArray();
        var cy = Enumerable.Range(0, k).Select(c => Project(centroids.AsSpan(c * dimension, dimension), mean, axes[1])).ToArray();
        var marks = plot.Add.ScatterPoints(cx, cy, ScottPlot.Colors.Black);
        marks.MarkerShape = ScottPlot.MarkerShape.Cross;
        marks.MarkerSize = 12;
        plot.Title($"{rows:N0} rows × {dimension} on their first two principal components ({sampleLabels.Length:N0} shown), K = {k}");
        plot.XLabel("component 1");
        plot.YLabel("component 2");
        paths.Add(Save(plot, folder, "projection.png"));

        var inertia = new ScottPlot.Plot();
        var history = model.InertiaHistory.ToArray();
        inertia.Add.Scatter(Enumerable.Range(1, history.Length).Select(i => (double)i).ToArray(), history);
        inertia.Title("Inertia per iteration (under each iteration's assignment)");
        inertia.XLabel("iteration");
        inertia.YLabel("inertia");
        paths.Add(Save(inertia, folder, "inertia.png"));

        var sizes = new ScottPlot.Plot();
        sizes.Add.Bars(clusterSizes.Select(c => (double)c).ToArray());
        sizes.Title("Rows per cluster");
        sizes.XLabel("cluster");
        sizes.YLabel("rows");
        paths.Add(Save(sizes, folder, "sizes.png"));
        return paths.ToArray();
    }

    /// <summary>Writes elbow.png: inertia against K, the proposed K marked.</summary>
    public static string Elbow(string folder, ClusterCountReport report)
    {
        Directory.CreateDirectory(folder);
        var plot = new ScottPlot.Plot();
        plot.Add.Scatter(report.Scores.Select(s => (double)s.NumberOfClusters).ToArray(), report.Scores.Select(s => s.Inertia).ToArray());
        var line = plot.Add.VerticalLine(report.Proposed);
        line.LegendText = $"proposed K = {report.Proposed}";
        plot.ShowLegend();
        plot.Title("Inertia against K");
        plot.XLabel("K");
        plot.YLabel("inertia");
        return Save(plot, folder, "elbow.png");
    }

    private static string Save(ScottPlot.Plot plot, string folder, string name)
    {
        string path = Path.Combine(folder, name);
        plot.SavePng(path, Width, Height);
        return path;
    }

    private static double Project(ReadOnlySpan<float> row, double[] mean, double[] axis)
    {
        double sum = 0;
        for (int j = 0; j < row.Length; j++)
            sum += (row[j] - mean[j]) * axis[j];
        return sum;
    }

    /// <summary>The mean and the top <paramref name="count"/> principal axes (power iteration on the covariance, deflated).</summary>
    private static (double[] Mean, double[][] Axes) PrincipalAxes(float[] data, int d, int count)
    {
        int n = data.Length / d;
        var mean = new double[d];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++)
                mean[j] += data[r * d + j];
        for (int j = 0; j < d; j++)
            mean[j] /= n;
        var covariance = new double[d, d];
        var centred = new double[d];
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < d; j++)
                centred[j] = data[r * d + j] - mean[j];
            for (int a = 0; a < d; a++)
                for (int b = a; b < d; b++)
                    covariance[a, b] += centred[a] * centred[b];
        }
        for (int a = 0; a < d; a++)
            for (int b = 0; b < a; b++)
                covariance[a, b] = covariance[b, a];
        var axes = new double[Math.Min(count, d)][];
        var random = new Random(1);
        for (int c = 0; c < axes.Length; c++)
        {
            var v = Enumerable.Range(0, d).Select(_ => random.NextDouble() - 0.5).ToArray();
            for (int iteration = 0; iteration < 200; iteration++)
            {
                var next = new double[d];
                for (int a = 0; a < d; a++)
                    for (int b = 0; b < d; b++)
                        next[a] += covariance[a, b] * v[b];
                // Deflate: stay orthogonal to the axes already found.
                for (int p = 0; p < c; p++)
                {
                    double dot = next.Zip(axes[p]).Sum(z => z.First * z.Second);
                    for (int a = 0; a < d; a++)
                        next[a] -= dot * axes[p][a];
                }
                double norm = Math.Sqrt(next.Sum(x => x * x));
                if (!(norm > 0))
                    break;
                v = next.Select(x => x / norm).ToArray();
            }
            axes[c] = v;
        }
        if (axes.Length < count)
            axes = [.. axes, new double[d]];
        return (mean, axes);
    }
}
