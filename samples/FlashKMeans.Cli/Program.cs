using System.CommandLine;
using System.Diagnostics;
using FlashKMeans;
using FlashKMeans.Cli;

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

var root = new RootCommand("FlashKMeans: exact Lloyd k-means on the CPU or an NVIDIA GPU.")
{
    input, dimensionOption, rowsOption, clustersOption, iterationsOption, toleranceOption, initOption,
    deviceOption, threadsOption, seedOption, pruningOption, cosineOption, saveOption,
};

root.SetAction(parse =>
{
    float[] data;
    int dimension;
    var file = parse.GetValue(input);
    if (file is not null)
    {
        (data, dimension) = DataFiles.Read(file.FullName, parse.GetValue(dimensionOption));
        Console.WriteLine($"Read {data.Length / dimension:N0} rows × {dimension} from {file.Name}.");
    }
    else
    {
        dimension = parse.GetValue(dimensionOption) ?? 16;
        int rows = parse.GetValue(rowsOption);
        data = GeneratedBlobs(rows, dimension, centers: Math.Max(2, parse.GetValue(clustersOption)), seed: parse.GetValue(seedOption));
        Console.WriteLine($"Generated {rows:N0} rows × {dimension} of Gaussian blobs.");
    }

    var options = new KMeansOptions
    {
        NumberOfClusters = parse.GetValue(clustersOption),
        MaximumNumberOfIterations = parse.GetValue(iterationsOption),
        OptimizationTolerance = parse.GetValue(toleranceOption),
        Initialization = parse.GetValue(initOption),
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
        Console.WriteLine($"  iteration {p.Iteration,4}  inertia {p.Inertia,16:G9}  change {p.RelativeChange,10:G3}  {p.Elapsed.TotalMilliseconds,9:F0} ms");
    });
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

    var clock = Stopwatch.StartNew();
    KMeansModel model;
    try
    {
        model = new KMeans(options).Fit(data, dimension, default, progress, cancel.Token);
    }
    catch (Exception error) when (error is ArgumentException or NotSupportedException or InvalidDataException or OperationCanceledException)
    {
        // Bad input, an unusable device or Ctrl+C: the message says which; a stack trace would not help.
        Console.Error.WriteLine($"error: {error.Message}");
        return 1;
    }
    clock.Stop();

    var labels = model.Predict(data, dimension);
    var sizes = new long[model.NumberOfClusters];
    foreach (int label in labels)
        sizes[label]++;
    double stepMs = model.Statistics.Count > 0 ? model.Statistics.Average(s => s.StepTime.TotalMilliseconds) : double.NaN;
    Console.WriteLine();
    Console.WriteLine($"Backend        {model.TrainedOn}");
    Console.WriteLine($"Clusters       {model.NumberOfClusters} (sizes {sizes.Min():N0} to {sizes.Max():N0})");
    Console.WriteLine($"Iterations     {model.Iterations} ({(model.Converged ? "converged" : "iteration limit")}), {stepMs:F1} ms per iteration");
    Console.WriteLine($"Inertia        {model.Inertia:G9}");
    Console.WriteLine($"Re-seeded      {model.EmptyClustersReseeded} empty cluster(s)");
    Console.WriteLine($"Total time     {clock.Elapsed.TotalSeconds:F2} s");
    if (parse.GetValue(saveOption) is { } save)
    {
        model.Save(save.FullName);
        Console.WriteLine($"Model written  {save.FullName}");
    }
    return 0;
});

return root.Parse(args).Invoke();

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
