using System.CommandLine;
using System.Diagnostics;
using FlashKMeans;
using FlashKMeans.Cli;
using Spectre.Console;

// flashkmeans: cluster a file (CSV, .npy, raw float32) or generated Gaussian blobs, print progress and a summary.
var input = new Option<FileInfo?>("--input", "-i") { Description = "CSV, .npy (float32) or raw float32 file; omit to generate Gaussian blobs." };
var dimensionOption = new Option<int?>("--dimension", "-d") { Description = "Features per row (raw files; generated data, default 16)." };
var rowsOption = new Option<int>("--rows", "-n") { Description = "Rows of generated data.", DefaultValueFactory = _ => 100_000 };
var clustersOption = new Option<int>("--clusters", "-k") { Description = "K, the number of clusters.", DefaultValueFactory = _ => 8 };
var iterationsOption = new Option<int>("--iterations") { Description = "Maximum Lloyd iterations.", DefaultValueFactory = _ => KMeansOptions.Defaults.MaximumNumberOfIterations };
var toleranceOption = new Option<double>("--tolerance") { Description = "Relative inertia change that counts as converged; <= 0 runs every iteration.", DefaultValueFactory = _ => KMeansOptions.Defaults.OptimizationTolerance };
var initOption = new Option<KMeansInitialization>("--init") { Description = "KMeansPlusPlus, KMeansParallel or RandomRows.", DefaultValueFactory = _ => KMeansOptions.Defaults.Initialization };
var deviceOption = new Option<ComputeDevice>("--device") { Description = "Auto (GPU if present, else CPU), Cpu or Cuda.", DefaultValueFactory = _ => ComputeDevice.Auto };
var threadsOption = new Option<int?>("--threads") { Description = "CPU threads (default: all)." };
var seedOption = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0 };
var pruningOption = new Option<bool>("--pruning") { Description = "Skip provably useless distance work (CPU)." };
var cosineOption = new Option<bool>("--cosine") { Description = "Cluster by cosine distance (spherical k-means)." };
var saveOption = new Option<FileInfo?>("--save") { Description = "Write the model to this file." };
var centroidsOption = new Option<FileInfo?>("--centroids") { Description = "Start from these K centroids (a file in any input format); implies --init Explicit." };
var columnsOption = new Option<string?>("--columns") { Description = "CSV only: the columns to cluster on, comma-separated header names or 1-based numbers (default: every column)." };
var plotOption = new Option<DirectoryInfo?>("--plot") { Description = "Write pictures (PNG) to this folder: the data on two principal components, inertia per iteration, cluster sizes; the elbow with --choose-k." };
var chooseKOption = new Option<string?>("--choose-k") { Description = "MIN:MAX: instead of one fit, fit every K of the range and propose one (knee, Davies-Bouldin, Calinski-Harabasz, silhouette)." };

var root = new RootCommand("FlashKMeans: exact Lloyd k-means on the CPU or an NVIDIA GPU.")
{
    input, dimensionOption, rowsOption, clustersOption, iterationsOption, toleranceOption, initOption,
    deviceOption, threadsOption, seedOption, pruningOption, cosineOption, saveOption, centroidsOption, chooseKOption, plotOption, columnsOption,
};

root.SetAction(parse =>
{
    float[] data;
    int dimension;
    float[]? centroids = null;
    var file = parse.GetValue(input);
    try
    {
        if (file is not null)
        {
            var columns = parse.GetValue(columnsOption)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            (data, dimension) = DataFiles.Read(file.FullName, parse.GetValue(dimensionOption), columns);
            Console.WriteLine($"Read {data.Length / dimension:N0} rows × {dimension} from {file.Name}.");
        }
        else
        {
            dimension = parse.GetValue(dimensionOption) ?? 16;
            int rows = parse.GetValue(rowsOption);
            data = GeneratedBlobs(rows, dimension, centers: Math.Max(2, parse.GetValue(clustersOption)), seed: parse.GetValue(seedOption));
            Console.WriteLine($"Generated {rows:N0} rows × {dimension} of Gaussian blobs.");
        }
        if (parse.GetValue(centroidsOption) is { } centroidFile)
        {
            int centroidDimension;
            (centroids, centroidDimension) = DataFiles.Read(centroidFile.FullName, dimension);
            if (centroidDimension != dimension)
                throw new InvalidDataException($"{centroidFile.Name}: centroids have {centroidDimension} features, the data {dimension}.");
        }
        else if (parse.GetValue(initOption) == KMeansInitialization.Explicit)
        {
            throw new ArgumentException("--init Explicit needs the centroids: give them with --centroids FILE.");
        }
    }
    catch (Exception error) when (error is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException or FormatException)
    {
        // A bad argument or file: one line that names it, exit code 2.
        Console.Error.WriteLine($"error: {OneLine(error)}");
        return 2;
    }

    var options = new KMeansOptions
    {
        NumberOfClusters = centroids is null ? parse.GetValue(clustersOption) : centroids.Length / dimension,
        MaximumNumberOfIterations = parse.GetValue(iterationsOption),
        OptimizationTolerance = parse.GetValue(toleranceOption),
        Initialization = centroids is null ? parse.GetValue(initOption) : KMeansInitialization.Explicit,
        InitialCentroids = centroids,
        Device = parse.GetValue(deviceOption),
        NumberOfThreads = parse.GetValue(threadsOption),
        Seed = parse.GetValue(seedOption),
        UsePruning = parse.GetValue(pruningOption),
        Distance = parse.GetValue(cosineOption) ? KMeansDistance.Cosine : KMeansDistance.SquaredEuclidean,
        Logger = new ConsoleLogger(),
    };
    int seedingQuarter = -1;
    var progress = new SynchronousProgress<KMeansProgress>(p =>
    {
        if (p.Phase == KMeansPhase.Seeding)
        {
            // A line per quarter of the seeding, which reports every hundredth.
            int quarter = (int)Math.Floor(4 * p.Fraction);
            if (quarter > seedingQuarter)
            {
                seedingQuarter = quarter;
                Console.WriteLine($"  seeding {p.Fraction * 100,4:F0}%  {p.Elapsed.TotalMilliseconds,9:F0} ms");
            }
            return;
        }
        seedingQuarter = -1;
        // The inertia of the assignment this iteration made (before its update); the first has no change to report.
        string change = double.IsNaN(p.RelativeChange) ? "—" : p.RelativeChange.ToString("G3", System.Globalization.CultureInfo.InvariantCulture);
        Console.WriteLine($"  iteration {p.Iteration,4}  inertia {p.Inertia,16:G9}  change {change,10}  elapsed {p.Elapsed.TotalMilliseconds,9:F0} ms");
    });
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

    if (parse.GetValue(chooseKOption) is { } range)
        return ChooseK(data, dimension, range, options, parse.GetValue(plotOption)?.FullName, cancel.Token);

    // In a terminal, a live display (a bar per phase, then a table); otherwise, as when the output is piped or
    // redirected, plain lines.
    bool live = !Console.IsOutputRedirected && Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive;
    var clock = Stopwatch.StartNew();
    KMeansModel model = null!;
    try
    {
        if (live)
        {
            options.Logger = null;  // log lines would tear the live display; the table names the backend
            model = LiveFit(options, data, dimension, cancel.Token);
        }
        else
        {
            model = new KMeans(options).Fit(data, dimension, default, progress, cancel.Token);
        }
    }    catch (Exception error) when (error is ArgumentException or NotSupportedException or InvalidDataException or OperationCanceledException)
    {
        // Bad input, an unusable device or Ctrl+C: the message says which; a stack trace would not help.
        Console.Error.WriteLine($"error: {OneLine(error)}");
        return 2;
    }
    clock.Stop();

    var labels = model.Predict(data, dimension);
    var sizes = new long[model.NumberOfClusters];
    foreach (int label in labels)
        sizes[label]++;
    double stepMs = model.Statistics.Count > 0 ? model.Statistics.Average(s => s.StepTime.TotalMilliseconds) : double.NaN;
    var summary = new (string Name, string Value)[]
    {
        ("Backend", model.TrainedOn),
        ("Clusters", $"{model.NumberOfClusters} (sizes {sizes.Min():N0} to {sizes.Max():N0})"),
        ("Iterations", $"{model.Iterations} ({(model.Converged ? "converged" : "iteration limit")}), {stepMs:F1} ms per iteration"),
        ("Inertia", $"{model.Inertia:G9} (under the final centroids, after the last update)"),
        ("Re-seeded", $"{model.EmptyClustersReseeded} empty cluster(s)"),
        ("Total time", $"{clock.Elapsed.TotalSeconds:F2} s"),
    };
    if (live)
    {
        var table = new Spectre.Console.Table().AddColumn("").AddColumn("");
        table.HideHeaders();
        foreach (var (name, value) in summary)
            table.AddRow(Spectre.Console.Markup.Escape(name), Spectre.Console.Markup.Escape(value));
        Spectre.Console.AnsiConsole.Write(table);
    }
    else
    {
        Console.WriteLine();
        foreach (var (name, value) in summary)
            Console.WriteLine($"{name,-14} {value}");
    }
    if (parse.GetValue(plotOption) is { } plotFolder)
    {
        foreach (string picture in FlashKMeans.Cli.Plots.Fit(plotFolder.FullName, data, dimension, model, labels))
            Console.WriteLine($"Picture        {picture}");
    }
    if (parse.GetValue(saveOption) is { } save)
    {
        model.Save(save.FullName);
        Console.WriteLine($"Model written  {save.FullName}");
    }
    return 0;
});

return root.Parse(args).Invoke();

// The fit under a live display: a bar for the seeding, then one for the iterations with the inertia and its change.
static KMeansModel LiveFit(KMeansOptions options, float[] data, int dimension, CancellationToken cancellationToken)
{
    KMeansModel model = null!;
    Spectre.Console.AnsiConsole.Progress()
        .Columns(new Spectre.Console.TaskDescriptionColumn(), new Spectre.Console.ProgressBarColumn(), new Spectre.Console.PercentageColumn(),
            new Spectre.Console.ElapsedTimeColumn())
        .Start(context =>
        {
            var seeding = context.AddTask("Seeding", maxValue: 1);
            var iterations = context.AddTask("Iterations", autoStart: false, maxValue: options.MaximumNumberOfIterations);
            var progress = new SynchronousProgress<KMeansProgress>(p =>
            {
                if (p.Phase == KMeansPhase.Seeding)
                {
                    seeding.Value = p.Fraction;
                    return;
                }
                seeding.Value = 1;
                iterations.StartTask();
                iterations.Value = p.Iteration;
                string change = double.IsNaN(p.RelativeChange) ? "" : $", change {p.RelativeChange:G3}";
                iterations.Description = $"Iterations (inertia {p.Inertia:G6}{change})";
            });
            model = new KMeans(options).Fit(data, dimension, default, progress, cancellationToken);
            seeding.Value = 1;
            iterations.Value = iterations.MaxValue;
        });
    return model;
}

// An exception's message on one line (ArgumentOutOfRangeException appends the actual value on a second).
static string OneLine(Exception error) => string.Join(" ", error.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

static int ChooseK(float[] data, int dimension, string range, KMeansOptions options, string? plotFolder, CancellationToken cancellationToken)
{
    var bounds = range.Split(':');
    if (bounds.Length != 2 || !int.TryParse(bounds[0], out int minimum) || !int.TryParse(bounds[1], out int maximum))
    {
        Console.Error.WriteLine($"error: --choose-k takes MIN:MAX, such as 2:20, not '{range}'.");
        return 2;
    }
    options.Logger = null;
    FlashKMeans.Selection.ClusterCountReport report;
    try
    {
        var progress = new SynchronousProgress<FlashKMeans.Selection.ClusterCountScore>(s => Console.WriteLine(
            $"  K {s.NumberOfClusters,4}  inertia {s.Inertia,14:G6}  Davies-Bouldin {s.DaviesBouldin,7:F3}  Calinski-Harabasz {s.CalinskiHarabasz,12:G6}  silhouette {s.Silhouette,6:F3}"));
        report = FlashKMeans.Selection.ClusterCountSweep.Run(data, dimension, minimum, maximum, options, progress: progress, cancellationToken: cancellationToken);
    }
    catch (Exception error) when (error is ArgumentException or NotSupportedException or OperationCanceledException)
    {
        Console.Error.WriteLine($"error: {OneLine(error)}");
        return 2;
    }
    Console.WriteLine();
    Console.WriteLine($"Proposed K     {report.Proposed}");
    Console.WriteLine($"  knee of the inertia {report.Knee}, best Davies-Bouldin {report.BestDaviesBouldin}, best Calinski-Harabasz {report.BestCalinskiHarabasz}, best silhouette {report.BestSilhouette}");
    if (plotFolder is not null)
        Console.WriteLine($"Picture        {FlashKMeans.Cli.Plots.Elbow(plotFolder, report)}");
    return 0;
}

static float[] GeneratedBlobs(int rows, int dimension, int centers, int seed)
{
    var random = new Random(seed);
    var means = new float[centers * dimension];
    for (int i = 0; i < means.Length; i++)
        means[i] = (float)(4 * Gaussian(random));
    var data = new float[(long)rows * dimension];
    for (int r = 0; r < rows; r++)
    {
        int c = random.Next(centers);
        for (int f = 0; f < dimension; f++)
            data[(long)r * dimension + f] = means[c * dimension + f] + (float)Gaussian(random);
    }
    return data;

    static double Gaussian(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
