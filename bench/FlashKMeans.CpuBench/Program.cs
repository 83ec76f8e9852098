using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FlashKMeans;
using FlashKMeans.Clustering;

// The engine's side of bench/cpu_vs_sklearn.sh: fits raw float32 files with explicit initial centroids and
// prints one "RESULT key=value ..." line, so the script can put it beside scikit-learn's numbers.
//   flashkmeans-cpubench fit --data X.f32 --init C.f32 --dimension 128 --iterations 10 [--pruning] [--threads T]
//   flashkmeans-cpubench peak [--threads T]      measured float32 FMA peak of this machine
//   flashkmeans-cpubench prototypes --data DIR [--threads T] [--sets A,B] [--budgets A=N,B=M] [--fine-tune-epochs E]
//                                   [--methods M1,M2] (as printed, e.g. flashkmeans-prototypes-hard-tuned-crossentropy)
//                                                 the prototype models on bench/prototypes_vs_sklearn.py's splits (PrototypeBench.cs)
//   flashkmeans-cpubench stream --data X.f32 --init C.f32 --dimension 128 --k K --batch B [--threads T]
//                                                 one mini-batch pass (MiniBatchKMeans.PartialFit per batch)
//   flashkmeans-cpubench assign [--rows N] [--k K] [--dimension D] [--threads T]
//                                                 the assignment kernel alone: the chain against the feature-quad layout
//   flashkmeans-cpubench hierarchical [--rows N] [--k K] [--dimension D] [--centers C] [--threads T]
//                                                 balanced hierarchical k-means against plain Lloyd on Zipf-sized blobs
//   flashkmeans-cpubench sweep [--rows N] [--dimension D] [--max-k K] [--threads T]
//                                                 choosing K: ClusterCountSweep.Run over K = 2 … max against a separate fit
//                                                 and score per K (the same indices), in the same process, sides alternating
var arguments = args.ToList();
string Value(string name, string? fallback = null)
{
    int i = arguments.IndexOf(name);
    return i >= 0 && i + 1 < arguments.Count ? arguments[i + 1] : fallback ?? throw new ArgumentException($"{name} is required.");
}
bool Flag(string name) => arguments.Contains(name);
int threads = int.Parse(Value("--threads", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

if (args.Length > 0 && args[0] == "peak")
{
    Console.WriteLine(FormattableString.Invariant($"RESULT method=fma-peak threads={threads} gflops={FmaPeak.Measure(threads):F1}"));
    return 0;
}

if (args.Length > 0 && args[0] == "sweep")
    return SweepBench.Run(int.Parse(Value("--rows", "1000000"), CultureInfo.InvariantCulture), int.Parse(Value("--dimension", "32"), CultureInfo.InvariantCulture),
        int.Parse(Value("--max-k", "64"), CultureInfo.InvariantCulture), ComputeDevice.Cpu, threads);


if (args.Length > 0 && args[0] == "assign")
{
    // The assignment kernel alone over uniform random rows, chunks of 2,048 rows on the threads: the one-feature chain against
    // a packing that asks for the feature-quad layout (the same kernel where that layout does not apply), best of 15 passes each.
    int rows = int.Parse(Value("--rows", "50000"), CultureInfo.InvariantCulture), kernelK = int.Parse(Value("--k", "16"), CultureInfo.InvariantCulture);
    int kernelD = int.Parse(Value("--dimension", "128"), CultureInfo.InvariantCulture);
    var random = new Random(1);
    var x = Enumerable.Range(0, rows * kernelD).Select(_ => (float)random.NextDouble()).ToArray();
    var c = x.AsSpan(0, kernelK * kernelD).ToArray();
    var labels = new int[rows];
    foreach (bool quads in new[] { false, true, false, true })
    {
        var packed = FlashKMeans.Cpu.PackedCentroids.Pack(c, kernelD, featureQuads: quads);
        double best = double.MaxValue;
        for (int pass = 0; pass < 15; pass++)
        {
            var passClock = Stopwatch.StartNew();
            Parallel.For(0, (rows + 2047) / 2048, new ParallelOptions { MaxDegreeOfParallelism = threads }, chunk =>
            {
                int first = chunk * 2048, count = Math.Min(2048, rows - first);
                FlashKMeans.Cpu.FusedAssignKernel.Assign(x.AsSpan(first * kernelD, count * kernelD), packed, labels.AsSpan(first, count), default);
            });
            best = Math.Min(best, passClock.Elapsed.TotalMilliseconds);
        }
        Console.WriteLine(FormattableString.Invariant(
            $"RESULT method=assign layout={(packed.FeatureQuads is null ? "chain" : "feature-quads")} threads={threads} k={kernelK} d={kernelD} ms={best:F3} gflops={2.0 * rows * kernelK * kernelD / best / 1e6:F0}"));
    }
    return 0;
}

if (args.Length > 0 && args[0] == "seeding")
{
    SeedingBench.Run(int.Parse(Value("--rows", "500000"), CultureInfo.InvariantCulture), int.Parse(Value("--dimension", "32"), CultureInfo.InvariantCulture),
        int.Parse(Value("--k", "256"), CultureInfo.InvariantCulture), int.Parse(Value("--blobs", "16"), CultureInfo.InvariantCulture),
        double.Parse(Value("--spread", "5"), CultureInfo.InvariantCulture), threads);
    return 0;
}

if (args.Length > 0 && args[0] == "hierarchical")
{
    HierarchicalBench.Run(int.Parse(Value("--rows", "200000"), CultureInfo.InvariantCulture), int.Parse(Value("--k", "2048"), CultureInfo.InvariantCulture),
        int.Parse(Value("--dimension", "128"), CultureInfo.InvariantCulture), int.Parse(Value("--centers", "512"), CultureInfo.InvariantCulture),
        ComputeDevice.Cpu, ComputePrecision.Float32, threads);
    return 0;
}

if (args.Length > 0 && args[0] == "prototypes")
{
    PrototypeBench.Run(Value("--data"), ComputeDevice.Cpu, threads, int.Parse(Value("--fine-tune-epochs", "50"), CultureInfo.InvariantCulture),
        PrototypeBench.ParseBudgets(Value("--budgets", "")), Value("--sets", "").Split(',', StringSplitOptions.RemoveEmptyEntries),
        Value("--methods", "").Split(',', StringSplitOptions.RemoveEmptyEntries));
    return 0;
}

if (args.Length > 0 && args[0] == "stream")
{
    // Mini-batch learning from the first K rows of --init, one pass over --data in batches of --batch rows, as
    // bench/sklearn_partial_fit.py does with MiniBatchKMeans.partial_fit (reassignment off in both: their draws differ).
    int dim = int.Parse(Value("--dimension"), CultureInfo.InvariantCulture);
    int batch = int.Parse(Value("--batch"), CultureInfo.InvariantCulture);
    int clusters = int.Parse(Value("--k"), CultureInfo.InvariantCulture);
    var rows = ReadFloats(Value("--data"));
    var start = ReadFloats(Value("--init")).AsMemory(0, clusters * dim).ToArray();
    MiniBatchKMeans Learner() => new(new KMeansOptions
    {
        NumberOfClusters = clusters, Initialization = KMeansInitialization.Explicit, InitialCentroids = start, NumberOfThreads = threads,
        Device = ComputeDevice.Cpu, MiniBatch = new MiniBatchOptions { ReassignmentRatio = 0 },
    }, dim);
    void Pass(MiniBatchKMeans learner, ReadOnlySpan<float> all)
    {
        for (int at = 0; at + batch * dim <= all.Length; at += batch * dim)
            learner.PartialFit(all.Slice(at, batch * dim));
    }
    var warm = Learner();
    Pass(warm, rows.AsSpan(0, Math.Min(rows.Length, 8 * batch * dim)));
    var learner = Learner();
    var streamClock = Stopwatch.StartNew();
    Pass(learner, rows);
    streamClock.Stop();
    long fed = rows.Length / dim / batch * batch;
    var snapshot = learner.Snapshot();
    double inertia = snapshot.Score(rows);
    Console.WriteLine(FormattableString.Invariant(
        $"RESULT method=flashkmeans-partial_fit threads={threads} k={clusters} batch={batch} rows={fed} seconds={streamClock.Elapsed.TotalSeconds:F3} rows_per_s={fed / streamClock.Elapsed.TotalSeconds:F0} inertia={inertia:R}"));
    return 0;
}

int d = int.Parse(Value("--dimension"), CultureInfo.InvariantCulture);
int iterations = int.Parse(Value("--iterations", "10"), CultureInfo.InvariantCulture);
bool pruning = Flag("--pruning");
var data = ReadFloats(Value("--data"));
var initial = ReadFloats(Value("--init"));
if (Value("--k", "0") is var first && int.Parse(first, CultureInfo.InvariantCulture) is > 0 and var kFirst)
    initial = initial.AsSpan(0, kFirst * d).ToArray();  // the first K rows of --init
int n = data.Length / d, k = initial.Length / d;

KMeansModel Fit(ReadOnlyMemory<float> rows, int maximumIterations) =>
    new KMeans(new KMeansOptions
    {
        NumberOfClusters = k,
        Initialization = KMeansInitialization.Explicit,
        InitialCentroids = initial,
        MaximumNumberOfIterations = maximumIterations,
        OptimizationTolerance = 0,
        NumberOfThreads = threads,
        Device = ComputeDevice.Cpu,
        UsePruning = pruning,
    }).Fit(rows, d);

// Warm-up on a slice, so that the timed fit runs optimised code: at least four chunks of rows, so that the parallel
// paths the timed fit takes are compiled too (a slice of one chunk runs them inline). Fits of the slice repeat for half a
// second and a pause follows, so that the runtime's background recompilation of hot methods (it starts after 30 calls
// and a 100 ms quiet period) is done before the timed fit instead of taking a core from it: the compiled Python side
// has no such phase. --no-warmup leaves it out, for a peak-memory figure of the fit alone.
if (!Flag("--no-warmup"))
{
    var warming = Stopwatch.StartNew();
    do
        Fit(data.AsMemory(0, Math.Min(n, Math.Max(20 * k, 4 * FlashKMeans.Threading.ChunkedParallel.ChunkRows)) * d), 3);
    while (warming.ElapsedMilliseconds < 500);
    GC.Collect();
    Thread.Sleep(300);
}

var clock = Stopwatch.StartNew();
var model = Fit(data, iterations);
clock.Stop();
double perIteration = clock.Elapsed.TotalMilliseconds / model.Iterations;
double stepOnly = model.Statistics.Average(s => s.StepTime.TotalMilliseconds);
double gflops = 2.0 * n * k * d / (stepOnly * 1e6);
Console.WriteLine(FormattableString.Invariant(
    $"RESULT method=flashkmeans-{(pruning ? "pruned" : "lloyd")} threads={threads} iterations={model.Iterations} ms_per_iter={perIteration:F1} step_ms={stepOnly:F1} first_step_ms={model.Statistics[0].StepTime.TotalMilliseconds:F1} inertia={model.Inertia:R} equivalent_gflops={gflops:F1}"));
var gcInfo = GC.GetGCMemoryInfo();
Console.WriteLine(FormattableString.Invariant(
    $"memory peak_working_set_mb={Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F1} data_mb={data.Length * 4L / 1e6:F1} gc_heap_mb={gcInfo.HeapSizeBytes / 1e6:F1} gc_committed_mb={gcInfo.TotalCommittedBytes / 1e6:F1} gc_fragmented_mb={gcInfo.FragmentedBytes / 1e6:F1} allocated_mb={GC.GetTotalAllocatedBytes(true) / 1e6:F1}"));
Console.WriteLine("steps_ms=" + string.Join(",", model.Statistics.Select(s => s.StepTime.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture))));
return 0;

static float[] ReadFloats(string path)
{
    // Straight into the final array: no second copy of the data counts against peak memory.
    using var stream = File.OpenRead(path);
    var values = new float[stream.Length / sizeof(float)];
    stream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
    // One read per page before any timing: here the first pass over freshly read rows ran at about 0.6 GB/s (page
    // mapping, gone once each page has been read), which charged a 50k x 128 fit's validation 20 ms of its 50. The fits
    // are timed on data already in memory, as scikit-learn's are.
    float touched = 0;
    for (int i = 0; i < values.Length; i += 1024)
        touched += values[i];
    GC.KeepAlive(touched);
    return values;
}

/// <summary>Float32 FMA throughput with enough independent chains to cover latency on every port.</summary>
internal static class FmaPeak
{
    public static double Measure(int threads)
    {
        const long Rounds = 20_000_000;
        Run(Rounds / 100);
        var clock = Stopwatch.StartNew();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Run(Rounds));
        clock.Stop();
        long flops = threads * Rounds * 12L * Vector512<float>.Count * 2;
        return flops / clock.Elapsed.TotalSeconds / 1e9;
    }

    private static float Run(long rounds)
    {
        if (!Avx512F.IsSupported)
            throw new PlatformNotSupportedException("The peak probe is written for AVX-512.");
        var m = Vector512.Create(0.999f);
        var b = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        Vector512<float> a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < rounds; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, m, b); a1 = Avx512F.FusedMultiplyAdd(a1, m, b);
            a2 = Avx512F.FusedMultiplyAdd(a2, m, b); a3 = Avx512F.FusedMultiplyAdd(a3, m, b);
            a4 = Avx512F.FusedMultiplyAdd(a4, m, b); a5 = Avx512F.FusedMultiplyAdd(a5, m, b);
            a6 = Avx512F.FusedMultiplyAdd(a6, m, b); a7 = Avx512F.FusedMultiplyAdd(a7, m, b);
            a8 = Avx512F.FusedMultiplyAdd(a8, m, b); a9 = Avx512F.FusedMultiplyAdd(a9, m, b);
            a10 = Avx512F.FusedMultiplyAdd(a10, m, b); a11 = Avx512F.FusedMultiplyAdd(a11, m, b);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
