using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using FlashKMeans;
using FlashKMeans.Clustering;
using FlashKMeans.Tool;
using Spectre.Console;

// flashkmeans: fit, predict, choose K and report the devices, from CSV, .npy or raw float32 files (or generated blobs).
var input = new Option<FileInfo?>("--input", "-i") { Description = "CSV, Parquet, .npy (float32) or raw float32 file; omit to generate Gaussian blobs." };
var dimensionOption = new Option<int?>("--dimension", "-d") { Description = "Features per row (raw files; generated data, default 16)." };
var rowsOption = new Option<int>("--rows", "-n") { Description = "Rows of generated data.", DefaultValueFactory = _ => 100_000 };
var blobsOption = new Option<int?>("--blobs") { Description = "Centres of the generated Gaussian blobs (default: fit's K, else 8)." };
var columnsOption = new Option<string?>("--columns") { Description = "CSV and Parquet: the columns to use, comma-separated header names or 1-based numbers (default: every column)." };
var clustersOption = new Option<int>("--clusters", "-k") { Description = "K, the number of clusters.", DefaultValueFactory = _ => 8 };
var iterationsOption = new Option<int>("--iterations") { Description = "Maximum Lloyd iterations.", DefaultValueFactory = _ => KMeansOptions.Defaults.MaximumNumberOfIterations };
var toleranceOption = new Option<double>("--tolerance") { Description = "Relative inertia change that counts as converged; <= 0 runs every iteration.", DefaultValueFactory = _ => KMeansOptions.Defaults.OptimizationTolerance };
var initOption = new Option<KMeansInitialization>("--init") { Description = "KMeansPlusPlus, KMeansParallel or RandomRows.", DefaultValueFactory = _ => KMeansOptions.Defaults.Initialization };
var deviceOption = new Option<ComputeDevice>("--device") { Description = "Auto (GPU if present, else CPU), Cpu or Cuda.", DefaultValueFactory = _ => ComputeDevice.Auto };
var threadsOption = new Option<int?>("--threads") { Description = "CPU threads (default: all)." };
var seedOption = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0 };
var pruningOption = new Option<bool>("--pruning") { Description = "Skip provably useless distance work (CPU)." };
var cosineOption = new Option<bool>("--cosine") { Description = "Cluster by cosine distance (spherical k-means)." };
var hierarchicalOption = new Option<bool>("--hierarchical") { Description = "Balanced hierarchical k-means (for very large K): √K mesoclusters, then balancing rounds." };
var balanceOption = new Option<double>("--balance") { Description = "With --hierarchical: the largest cluster's weight allowed, relative to the mean.", DefaultValueFactory = _ => HierarchicalOptions.Defaults.BalanceTolerance };
var minSizeOption = new Option<int?>("--min-size") { Description = "Every cluster holds at least this many rows, exactly met (size-constrained k-means; rows in memory)." };
var maxSizeOption = new Option<int?>("--max-size") { Description = "Every cluster holds at most this many rows, exactly met (size-constrained k-means; rows in memory)." };
var saveOption = new Option<FileInfo?>("--save") { Description = "Write the model to this file." };
var centroidsOption = new Option<FileInfo?>("--centroids") { Description = "Start from these K centroids (a file in any input format); implies --init Explicit." };
var plotOption = new Option<DirectoryInfo?>("--plot") { Description = "Write pictures (PNG) to this folder: the data on two principal components, inertia per iteration, cluster sizes; for choose-k, the elbow." };
var labelsOption = new Option<FileInfo?>("--labels") { Description = "Write each row's cluster (0-based) and squared distance to this CSV file." };
var summaryOption = new Option<FileInfo?>("--summary") { Description = "Write a JSON summary of the run to this file." };
var rangeOption = new Option<string>("--range") { Description = "MIN:MAX, the range of K to sweep, such as 2:20.", Required = true };
var modelOption = new Option<FileInfo>("--model", "-m") { Description = "A model written by fit --save.", Required = true };
var outputOption = new Option<FileInfo?>("--output", "-o") { Description = "Where to write the labels and distances (CSV); default: standard output." };

Option[] dataOptions = [input, dimensionOption, rowsOption, blobsOption, columnsOption];
Option[] fitOptions = [clustersOption, iterationsOption, toleranceOption, initOption, deviceOption, threadsOption, seedOption, pruningOption, cosineOption];

var fit = new Command("fit", "Fit K clusters; print progress and a summary; optionally save the model, the labels, a JSON summary and pictures.");
foreach (var option in dataOptions.Concat(fitOptions).Concat([hierarchicalOption, balanceOption, minSizeOption, maxSizeOption, centroidsOption, saveOption, labelsOption, summaryOption, plotOption]))
    fit.Options.Add(option);
fit.SetAction(parse => Fit(parse));

var chooseK = new Command("choose-k", "Fit every K of a range and propose one (knee of the inertia, Davies-Bouldin, Calinski-Harabasz, silhouette).");
foreach (var option in dataOptions.Concat(fitOptions.Where(o => o != clustersOption)).Concat([rangeOption, plotOption, summaryOption]))
    chooseK.Options.Add(option);
chooseK.SetAction(parse => ChooseK(parse));

var predict = new Command("predict", "Label rows with a saved model: each row's cluster (0-based) and squared distance, as CSV.");
foreach (var option in new Option[] { modelOption, input, dimensionOption, columnsOption, deviceOption, outputOption })
    predict.Options.Add(option);
predict.SetAction(parse => Predict(parse));

var info = new Command("info", "The devices found, which one a fit would use and why, and the versions.");
info.SetAction(_ => Info());

var root = new RootCommand("flashkmeans: exact k-means on the CPU or an NVIDIA GPU.") { fit, predict, chooseK, info };

int Fit(ParseResult parse)
{
    if (!TryOpenData(parse, out var rowsIn) || !TryReadCentroids(parse, rowsIn.Dimension, out var centroids))
    {
        rowsIn?.Dispose();
        return 2;
    }
    using var data = rowsIn;
    int dimension = data.Dimension;
    var options = FitOptions(parse, centroids is null ? parse.GetValue(clustersOption) : centroids.Length / dimension);
    if (centroids is not null)
    {
        options.Initialization = KMeansInitialization.Explicit;
        options.InitialCentroids = centroids;
    }
    if (parse.GetValue(hierarchicalOption))
        options.Hierarchical = new HierarchicalOptions { BalanceTolerance = parse.GetValue(balanceOption) };
    using var cancel = CancelOnCtrlC();
    // In a terminal, a live display (a bar per phase, then a table); otherwise, as when the output is piped or
    // redirected, plain lines.
    bool live = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
    var clock = Stopwatch.StartNew();
    KMeansModel model;
    int[]? constrainedLabels = null;
    try
    {
        if (parse.GetValue(minSizeOption) is not null || parse.GetValue(maxSizeOption) is not null)
        {
            // Size limits: the labels of the fit meet them, so they are the ones reported and written.
            var limits = new FlashKMeans.Constrained.ClusterSizeLimits(parse.GetValue(minSizeOption) ?? 0, parse.GetValue(maxSizeOption) ?? int.MaxValue);
            var result = FlashKMeans.Constrained.SizeConstrainedKMeans.Fit(data.ToArray(), dimension, limits, options, default, cancel.Token);
            model = result.Model;
            constrainedLabels = result.Labels;
        }
        else if (live)
        {
            options.Logger = null;  // log lines would tear the live display; the table names the backend
            model = LiveFit(options, data.Source, cancel.Token);
        }
        else
        {
            model = new KMeans(options).Fit(data.Source, PlainProgress(), cancel.Token);
        }
    }
    catch (Exception error) when (error is ArgumentException or NotSupportedException or InvalidDataException or OperationCanceledException)
    {
        // Bad input, an unusable device or Ctrl+C: the message says which; a stack trace would not help.
        return Fail(error);
    }
    clock.Stop();

    int[] labels;
    var distances = new float[checked((int)data.Rows)];
    if (constrainedLabels is not null)
    {
        // Each row's cluster under the limits (not its nearest centroid), and its squared distance to that centroid.
        labels = constrainedLabels;
        var centroidValues = model.Centroids.Span;
        var values = data.ToArray();
        for (int r = 0; r < labels.Length; r++)
        {
            double sum = 0;
            for (int f = 0; f < dimension; f++)
            {
                double diff = (double)values[r * dimension + f] - centroidValues[labels[r] * dimension + f];
                sum += diff * diff;
            }
            distances[r] = (float)sum;
        }
    }
    else
    {
        labels = new int[distances.Length];
        model.Predict(data.Source, labels, distances, options.Device, cancel.Token);
    }
    var sizes = new long[model.NumberOfClusters];
    foreach (int label in labels)
        sizes[label]++;
    double stepMs = model.Statistics.Count > 0 ? model.Statistics.Average(s => s.StepTime.TotalMilliseconds) : double.NaN;
    var summary = new (string Name, string Value)[]
    {
        ("Backend", model.TrainedOn),
        ("Clusters", $"{model.NumberOfClusters} (sizes {sizes.Min():N0} to {sizes.Max():N0})"),
        ("Iterations", $"{model.Iterations} ({(model.Converged ? "converged" : "iteration limit")})" + (double.IsNaN(stepMs) ? "" : $", {stepMs:F1} ms per iteration")),
        ("Inertia", $"{model.Inertia:G9} (under the final centroids, after the last update)"),
        ("Re-seeded", $"{model.EmptyClustersReseeded} empty cluster(s)"),
        ("Balance", model.Balance is { } b
            ? $"largest / mean {b.ImbalanceAfterBalancing:F2} ({b.ImbalanceBeforeBalancing:F2} before {b.BalancingRounds} balancing rounds; {b.MesoClusters} mesoclusters)"
            : $"largest / mean {sizes.Max() / ((double)labels.Length / model.NumberOfClusters):F2}"),
        ("Total time", $"{clock.Elapsed.TotalSeconds:F2} s"),
    };
    PrintSummary(summary, live);
    try
    {
        if (parse.GetValue(plotOption) is { } plotFolder)
        {
            var (rows, sample) = data.Sample(Plots.SampleRows, seed: 0);
            foreach (string picture in Plots.Fit(plotFolder.FullName, sample, rows.Select(r => labels[r]).ToArray(), data.Rows, dimension, model, sizes))
                Console.WriteLine($"Picture        {picture}");
        }
        if (parse.GetValue(saveOption) is { } save)
        {
            model.Save(save.FullName);
            Console.WriteLine($"Model written  {save.FullName}");
        }
        if (parse.GetValue(labelsOption) is { } labelFile)
        {
            using (var writer = new StreamWriter(labelFile.FullName))
                WriteLabels(writer, labels, distances);
            Console.WriteLine($"Labels written {labelFile.FullName}");
        }
        if (parse.GetValue(summaryOption) is { } summaryFile)
        {
            var json = new FitSummary(
                Input: parse.GetValue(input)?.FullName, Rows: labels.Length, Dimension: dimension, Backend: model.TrainedOn,
                NumberOfClusters: model.NumberOfClusters, ClusterSizes: sizes, Iterations: model.Iterations, Converged: model.Converged,
                Inertia: model.Inertia, EmptyClustersReseeded: model.EmptyClustersReseeded, Seconds: clock.Elapsed.TotalSeconds,
                InertiaHistory: model.InertiaHistory.ToArray(), Model: parse.GetValue(saveOption)?.FullName,
                Imbalance: sizes.Max() / ((double)labels.Length / model.NumberOfClusters));
            File.WriteAllText(summaryFile.FullName, JsonSerializer.Serialize(json, SummaryJson.Default.FitSummary));
            Console.WriteLine($"Summary        {summaryFile.FullName}");
        }
    }
    catch (Exception error) when (error is IOException or UnauthorizedAccessException)
    {
        return Fail(error);
    }
    return 0;
}

int Predict(ParseResult parse)
{
    KMeansModel model;
    try
    {
        model = KMeansModel.Load(parse.GetValue(modelOption)!.FullName);
    }
    catch (Exception error) when (error is IOException or InvalidDataException or UnauthorizedAccessException)
    {
        return Fail(error);
    }
    if (parse.GetValue(input) is null)
    {
        Console.Error.WriteLine("error: predict needs the rows to label: give them with --input FILE.");
        return 2;
    }
    if (!TryOpenData(parse, out var rowsIn, quiet: parse.GetValue(outputOption) is null))
        return 2;
    using var data = rowsIn;
    int dimension = data.Dimension;
    if (dimension != model.Dimension)
    {
        Console.Error.WriteLine($"error: the model has {model.Dimension} features; the input has {dimension}.");
        return 2;
    }
    var labels = new int[checked((int)data.Rows)];
    var distances = new float[labels.Length];
    try
    {
        using var cancel = CancelOnCtrlC();
        model.Predict(data.Source, labels, distances, parse.GetValue(deviceOption), cancel.Token);
        if (parse.GetValue(outputOption) is { } output)
        {
            using (var writer = new StreamWriter(output.FullName))
                WriteLabels(writer, labels, distances);
            Console.WriteLine($"Labelled {labels.Length:N0} rows into {output.FullName}.");
        }
        else
        {
            WriteLabels(Console.Out, labels, distances);
        }
    }
    catch (Exception error) when (error is ArgumentException or NotSupportedException or IOException or UnauthorizedAccessException or OperationCanceledException)
    {
        return Fail(error);
    }
    return 0;
}

int ChooseK(ParseResult parse)
{
    string range = parse.GetValue(rangeOption)!;
    var bounds = range.Split(':');
    if (bounds.Length != 2 || !int.TryParse(bounds[0], out int minimum) || !int.TryParse(bounds[1], out int maximum))
    {
        Console.Error.WriteLine($"error: --range takes MIN:MAX, such as 2:20, not '{range}'.");
        return 2;
    }
    if (!TryOpenData(parse, out var opened))
        return 2;
    // The sweep scores every K on the rows in memory (its silhouette samples them): a mapped file is read in once.
    using var _ = opened;
    var data = opened.ToArray();
    int dimension = opened.Dimension;
    var options = FitOptions(parse, minimum);
    options.Logger = null;
    FlashKMeans.Selection.ClusterCountReport report;
    try
    {
        using var cancel = CancelOnCtrlC();
        var progress = new SynchronousProgress<FlashKMeans.Selection.ClusterCountScore>(s => Console.WriteLine(
            $"  K {s.NumberOfClusters,4}  inertia {s.Inertia,14:G6}  Davies-Bouldin {s.DaviesBouldin,7:F3}  Calinski-Harabasz {s.CalinskiHarabasz,12:G6}  silhouette {s.Silhouette,6:F3}"));
        report = FlashKMeans.Selection.ClusterCountSweep.Run(data, dimension, minimum, maximum, options, progress: progress, cancellationToken: cancel.Token);
    }
    catch (Exception error) when (error is ArgumentException or NotSupportedException or OperationCanceledException)
    {
        return Fail(error);
    }
    Console.WriteLine();
    Console.WriteLine($"Proposed K     {report.Proposed}");
    Console.WriteLine($"  knee of the inertia {report.Knee}, best Davies-Bouldin {report.BestDaviesBouldin}, best Calinski-Harabasz {report.BestCalinskiHarabasz}, best silhouette {report.BestSilhouette}");
    try
    {
        if (parse.GetValue(plotOption) is { } plotFolder)
            Console.WriteLine($"Picture        {Plots.Elbow(plotFolder.FullName, report)}");
        if (parse.GetValue(summaryOption) is { } summaryFile)
        {
            var json = new ChooseKSummary(report.Proposed, report.Knee, report.BestDaviesBouldin, report.BestCalinskiHarabasz, report.BestSilhouette,
                report.Scores.Select(s => new ChooseKScore(s.NumberOfClusters, s.Inertia, s.DaviesBouldin, s.CalinskiHarabasz, s.Silhouette)).ToArray());
            File.WriteAllText(summaryFile.FullName, JsonSerializer.Serialize(json, SummaryJson.Default.ChooseKSummary));
            Console.WriteLine($"Summary        {summaryFile.FullName}");
        }
    }
    catch (Exception error) when (error is IOException or UnauthorizedAccessException)
    {
        return Fail(error);
    }
    return 0;
}

int Info()
{
    Console.WriteLine($"flashkmeans    {Versions.Of(typeof(KMeans))}");
    Console.WriteLine($".NET           {Environment.Version} on {System.Runtime.InteropServices.RuntimeInformation.OSDescription} ({System.Runtime.InteropServices.RuntimeInformation.OSArchitecture})");
    Console.WriteLine($"CPU            {Environment.ProcessorCount} logical processors; SIMD {Versions.Simd()}");
    // The engine says which backend Device = Auto picks and why; a tiny fit asks it.
    var lines = new ListLogger();
    new KMeans(new KMeansOptions { NumberOfClusters = 2, MaximumNumberOfIterations = 1, Logger = lines }).Fit(new float[] { 0, 0, 1, 1, 5, 5, 6, 6 }, 2);
    string choice = lines.Lines.FirstOrDefault(l => l.StartsWith("FlashKMeans: using", StringComparison.Ordinal)) ?? "FlashKMeans: no backend reported";
    Console.WriteLine($"Device (Auto)  {choice["FlashKMeans: ".Length..]}");
    // The ILGPU backend (--device Ilgpu): the accelerator it would take, or why none.
    try
    {
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 2, MaximumNumberOfIterations = 1, Device = ComputeDevice.Ilgpu })
            .Fit(new float[] { 0, 0, 1, 1, 5, 5, 6, 6 }, 2);
        Console.WriteLine($"ILGPU          {model.TrainedOn}");
    }
    catch (NotSupportedException error)
    {
        Console.WriteLine($"ILGPU          unavailable: {OneLine(error)}");
    }
    return 0;
}

static KMeansOptions FitOptions(ParseResult parse, int clusters) => new()
{
    NumberOfClusters = clusters,
    MaximumNumberOfIterations = parse.GetValue<int>("--iterations"),
    OptimizationTolerance = parse.GetValue<double>("--tolerance"),
    Initialization = parse.GetValue<KMeansInitialization>("--init"),
    Device = parse.GetValue<ComputeDevice>("--device"),
    NumberOfThreads = parse.GetValue<int?>("--threads"),
    Seed = parse.GetValue<int>("--seed"),
    UsePruning = parse.GetValue<bool>("--pruning"),
    Distance = parse.GetValue<bool>("--cosine") ? KMeansDistance.Cosine : KMeansDistance.SquaredEuclidean,
    Logger = new ConsoleLogger(),
};

bool TryOpenData(ParseResult parse, out ToolInput data, bool quiet = false)
{
    try
    {
        if (parse.GetValue(input) is { } file)
        {
            var columns = parse.GetValue(columnsOption)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            data = DataFiles.Open(file.FullName, parse.GetValue(dimensionOption), columns);
            if (!quiet)
                Console.WriteLine($"Read {data.Rows:N0} rows × {data.Dimension} from {file.Name}.");
        }
        else
        {
            int dimension = parse.GetValue(dimensionOption) ?? 16;
            int rows = parse.GetValue(rowsOption);
            int centers = parse.GetValue(blobsOption) ?? (parse.CommandResult.Command.Options.Contains(clustersOption) ? Math.Max(2, parse.GetValue(clustersOption)) : 8);
            data = ToolInput.InMemory(GeneratedBlobs(rows, dimension, centers, seed: parse.GetValue(seedOption)), dimension);
            if (!quiet)
                Console.WriteLine($"Generated {rows:N0} rows × {dimension} of Gaussian blobs.");
        }
        return true;
    }
    catch (Exception error) when (error is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException or FormatException)
    {
        // A bad argument or file: one line that names it, exit code 2.
        Fail(error);
        data = null!;
        return false;
    }
}

bool TryReadCentroids(ParseResult parse, int dimension, out float[]? centroids)
{
    centroids = null;
    try
    {
        if (parse.GetValue(centroidsOption) is { } centroidFile)
        {
            using var file = DataFiles.Open(centroidFile.FullName, dimension);
            if (file.Dimension != dimension)
                throw new InvalidDataException($"{centroidFile.Name}: centroids have {file.Dimension} features, the data {dimension}.");
            centroids = file.ToArray();
        }
        else if (parse.GetValue(initOption) == KMeansInitialization.Explicit)
        {
            throw new ArgumentException("--init Explicit needs the centroids: give them with --centroids FILE.");
        }
        return true;
    }
    catch (Exception error) when (error is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException or FormatException)
    {
        Fail(error);
        return false;
    }
}

return root.Parse(args).Invoke();

// The fit under a live display: a bar for the validation pass (rows read and GB/s), one for the seeding, then one for
// the iterations with the inertia, its change and the features' rate through each pass, each with its time left.
static KMeansModel LiveFit(KMeansOptions options, FlashKMeans.Data.IBatchSource data, CancellationToken cancellationToken)
{
    KMeansModel model = null!;
    double bytesPerRow = 4.0 * data.Dimension;
    Spectre.Console.AnsiConsole.Progress()
        .Columns(new Spectre.Console.TaskDescriptionColumn(), new Spectre.Console.ProgressBarColumn { Width = 30 }, new Spectre.Console.PercentageColumn(),
            new Spectre.Console.ElapsedTimeColumn(), new Spectre.Console.RemainingTimeColumn())
        .Start(context =>
        {
            var validation = context.AddTask("Validation pass", maxValue: 1);
            var seeding = context.AddTask("Seeding", autoStart: false, maxValue: 1);
            var iterations = context.AddTask("Iterations", autoStart: false, maxValue: options.MaximumNumberOfIterations);
            TimeSpan lastIteration = TimeSpan.Zero;
            var progress = new SynchronousProgress<KMeansProgress>(p =>
            {
                if (p.Phase == KMeansPhase.Validation)
                {
                    validation.IsIndeterminate = double.IsNaN(p.Fraction);
                    if (!double.IsNaN(p.Fraction))
                        validation.Value = p.Fraction;
                    validation.Description = $"Validation pass ({p.RowsRead:N0} rows, {Rate(p.RowsRead * bytesPerRow, p.Elapsed)})";
                    return;
                }
                validation.IsIndeterminate = false;
                validation.Value = 1;
                if (p.Phase == KMeansPhase.Seeding)
                {
                    seeding.StartTask();
                    seeding.Value = p.Fraction;
                    lastIteration = p.Elapsed;
                    return;
                }
                seeding.Value = 1;
                iterations.StartTask();
                iterations.Value = p.Iteration;
                string change = double.IsNaN(p.RelativeChange) ? "" : $", change {p.RelativeChange:G3}";
                // Each iteration is one pass over the rows: their bytes over its time.
                string rate = data.RowCount is long rows ? $", {Rate(rows * bytesPerRow, p.Elapsed - lastIteration)} a pass" : "";
                lastIteration = p.Elapsed;
                iterations.Description = $"Iterations (inertia {p.Inertia:G6}{change}{rate})";
            });
            model = new KMeans(options).Fit(data, progress, cancellationToken);
            validation.Value = 1;
            seeding.Value = 1;
            iterations.Value = iterations.MaxValue;
        });
    return model;
}

// Bytes over a time, as GB/s.
static string Rate(double bytes, TimeSpan time) => time > TimeSpan.Zero ? $"{bytes / 1e9 / time.TotalSeconds:F2} GB/s" : "— GB/s";

// An exception's message on one line (ArgumentOutOfRangeException appends the actual value on a second).
static string OneLine(Exception error) => string.Join(" ", error.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

// Plain progress lines: one per quarter of the validation pass and of the seeding (which reports every hundredth), one per
// iteration.
static IProgress<KMeansProgress> PlainProgress()
{
    int seedingQuarter = -1, validationQuarter = -1;
    return new SynchronousProgress<KMeansProgress>(p =>
    {
        if (p.Phase == KMeansPhase.Validation)
        {
            // One line per quarter of the pass, or only the last where the row count is unknown.
            int quarter = double.IsNaN(p.Fraction) ? -1 : (int)Math.Floor(4 * p.Fraction);
            if (quarter > validationQuarter)
            {
                validationQuarter = quarter;
                Console.WriteLine($"  validation {p.RowsRead,12:N0} rows  {p.Elapsed.TotalMilliseconds,9:F0} ms");
            }
            return;
        }
        if (p.Phase == KMeansPhase.Seeding)
        {
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
}

static void PrintSummary((string Name, string Value)[] summary, bool live)
{
    if (live)
    {
        var table = new Table().AddColumn("").AddColumn("");
        table.HideHeaders();
        foreach (var (name, value) in summary)
            table.AddRow(Markup.Escape(name), Markup.Escape(value));
        AnsiConsole.Write(table);
        return;
    }
    Console.WriteLine();
    foreach (var (name, value) in summary)
        Console.WriteLine($"{name,-14} {value}");
}

static void WriteLabels(TextWriter writer, int[] labels, float[] distances)
{
    writer.WriteLine("label,distance");
    for (int r = 0; r < labels.Length; r++)
        writer.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{labels[r]},{distances[r]:R}"));
}

// A bad argument, file or device: one line that names it, exit code 2.
static int Fail(Exception error)
{
    Console.Error.WriteLine($"error: {OneLine(error)}");
    return 2;
}

static CancellationTokenSource CancelOnCtrlC()
{
    var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
    return cancel;
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
