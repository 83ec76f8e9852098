using System.Diagnostics;
using System.Globalization;
using FlashKMeans;
using FlashKMeans.Backends;
using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

// Times the CUDA backend on the reference shapes, following the benchmark protocol: standard normal data
// already on the GPU, fixed iterations after warm-up. "ms/iter" is the mean of the timed steps run as one block, as the
// engine drives them (each enqueued before the last returns, the last waited for): assign, label changes,
// sort-inverse update, inertia, read-back of the K cluster weights. "assign" is the fused kernel
// alone and "update" everything else of a step that sums every row (sort-inverse update, label changes,
// inertia, centroid packing, copies to pinned memory), both timed with CUDA events; "host" is what remains
// of ms/iter (graph launch, synchronisation, reading the results; negative once the steps are incremental,
// which the event-timed update, repeated on the same labels, cannot be); the kernels' times are medians. TFLOP/s
// counts 2·N·K·d per assignment. The share of labels moved per timed step goes to standard error.
//
// Usage: FlashKMeans.GpuBench [--iters N] [--only SUBSTRING] [--full-update] [--fit-steps N] [--fit-detail T1,T2,...]
//        [--no-step-ahead]
// --fit-steps N: steps of the whole fit timed after the per-step numbers (the table's last column; default 20).
// --no-step-ahead: each step waits for the host to read the last before it is enqueued (CudaBatch: stepping ahead, which the
// engine's loop asks for on every step but the last, is otherwise on in the timed steps and fits).
// --full-update: every step sums all rows again, instead of the incremental update (IncrementalUpdate), for comparison.
// --fit-detail T1,T2,...: instead of the table, each step of a fit (--fit-steps) of the single-problem shapes (wall ms, kind of
// update, labels moved), once per threshold of moved labels for the incremental update (CudaBatch.IncrementalThreshold;
// a negative one sums every row in every step). Each fit runs twice from the same start; the second is printed.
// --whole-fit anchors|large [--fit-steps N] [--kmeans-parallel-up-to K] [--max-k K]: instead, whole fits from rows on the device to
// centroids on the host (WholeFit.cs), from random rows, and from k-means‖ where K is at most the given bound; shapes with a K
// above --max-k are left out.
// --prototypes DIR [--sets A,B] [--budgets A=N,B=M] [--methods M1,M2]: instead, the prototype models on the GPU (PrototypeBench.cs) on the splits
// bench/prototypes_vs_sklearn.py wrote to DIR.
// --sweep N D MAXK: instead, choosing K over K = 2 … MAXK on N × D blobs against a fit and the same indices per K (SweepBench.cs).
// --topk: instead, the fused top-k kernel against FlashAssign at the same shapes (TopKBench.cs).
// --ilgpu N K D STEPS: instead, the ILGPU backend through ILGPU's CUDA accelerator against the PTX backend in float32 (IlgpuBench.cs).
// --stream-small ROWS BATCHES: instead, where the time of small stream-learning steps goes (SmallStepsBench.cs).
// --stream: instead, stream learning (MiniBatchKMeans.PartialFit) from host batches of 65,536 rows at d = 128, K = 1024: one
// pass from page-locked fp16 and fp32 rows, from a managed fp32 array, and per-call spans, stepped whole on the GPU; the host
// update (DeterministicUpdate) and every CPU core as the same run's baselines.
if (Array.IndexOf(args, "--whole-fit") is var wf and >= 0)
{
    // --whole-fit anchors|large [--fit-steps N] [--kmeans-parallel-up-to K]
    int limitAt = Array.IndexOf(args, "--kmeans-parallel-up-to");
    int stepsAt = Array.IndexOf(args, "--fit-steps");
    var set = args[wf + 1] == "large"
        ? new[] { (65536 * 100, 65536, 128, ComputePrecision.Float16), (131072 * 100, 131072, 128, ComputePrecision.Float16), (262144 * 100, 262144, 128, ComputePrecision.Float16) }
        : new[] { (1 << 20, 1024, 128, ComputePrecision.Float16), (1 << 23, 1024, 128, ComputePrecision.Float16), (1 << 20, 8192, 128, ComputePrecision.Float16),
                  (1 << 20, 256, 128, ComputePrecision.Float16), (1 << 20, 1024, 512, ComputePrecision.Float16), (1 << 20, 1024, 128, ComputePrecision.TensorFloat32) };
    int maxKAt = Array.IndexOf(args, "--max-k");
    if (maxKAt >= 0)
        set = set.Where(shape => shape.Item2 <= int.Parse(args[maxKAt + 1], CultureInfo.InvariantCulture)).ToArray();
    WholeFit.Run(set, stepsAt >= 0 ? int.Parse(args[stepsAt + 1], CultureInfo.InvariantCulture) : 10, limitAt >= 0,
        limitAt >= 0 ? int.Parse(args[limitAt + 1], CultureInfo.InvariantCulture) : 0);
    return;
}
if (Array.IndexOf(args, "--hierarchical") is var hi and >= 0)
{
    // --hierarchical N K: balanced hierarchical k-means against plain Lloyd (HierarchicalBench.cs), d = 128.
    HierarchicalBench.Run(int.Parse(args[hi + 1], CultureInfo.InvariantCulture), int.Parse(args[hi + 2], CultureInfo.InvariantCulture), 128, centers: 4096,
        ComputeDevice.Cuda, ComputePrecision.Float16, threads: null);
    return;
}
if (Array.IndexOf(args, "--prototypes") is var pr and >= 0)
{
    string Option(string name) => Array.IndexOf(args, name) is var at and >= 0 ? args[at + 1] : "";
    PrototypeBench.Run(args[pr + 1], ComputeDevice.Cuda, null, 50, PrototypeBench.ParseBudgets(Option("--budgets")),
        Option("--sets").Split(',', StringSplitOptions.RemoveEmptyEntries), Option("--methods").Split(',', StringSplitOptions.RemoveEmptyEntries));
    return;
}

if (Array.IndexOf(args, "--sweep") is var sw and >= 0)
{
    // --sweep N d maxK: choosing K on the GPU against a fit and the same indices per K (SweepBench.cs).
    SweepBench.Run(int.Parse(args[sw + 1], CultureInfo.InvariantCulture), int.Parse(args[sw + 2], CultureInfo.InvariantCulture),
        int.Parse(args[sw + 3], CultureInfo.InvariantCulture), ComputeDevice.Cuda, threads: null);
    return;
}
if (Array.IndexOf(args, "--ilgpu") is var il and >= 0)
{
    // --ilgpu N K d STEPS: the ILGPU backend through ILGPU's CUDA accelerator against the PTX backend, float32 (IlgpuBench.cs).
    IlgpuBench.Run(int.Parse(args[il + 1], CultureInfo.InvariantCulture), int.Parse(args[il + 2], CultureInfo.InvariantCulture),
        int.Parse(args[il + 3], CultureInfo.InvariantCulture), int.Parse(args[il + 4], CultureInfo.InvariantCulture));
    return;
}
if (args.Contains("--topk"))
{
    TopKBench.Run();
    return;
}
if (Array.IndexOf(args, "--stream-small") is var small and >= 0)
{
    // --stream-small ROWS BATCHES: where small steps' time goes (SmallStepsBench.cs).
    SmallStepsBench.Run(int.Parse(args[small + 1], CultureInfo.InvariantCulture), int.Parse(args[small + 2], CultureInfo.InvariantCulture));
    return;
}
if (args.Contains("--stream"))
{
    StreamLearning();
    return;
}
int iterations = 20;
string? only = null;
bool fullUpdate = false;
double[]? fitThresholds = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--iters") iterations = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--only") only = args[++i];
    else if (args[i] == "--full-update") fullUpdate = true;
    else if (args[i] == "--fit-steps") Fit.Steps = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--no-step-ahead") Fit.StepAhead = false;
    else if (args[i] == "--fit-detail") fitThresholds = args[++i].Split(',').Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
}


static unsafe void StreamLearning()
{
    // 128 batches of 65,536 × 128 (8.4M rows); the first 4 seed the model (3 batches of seeding rows) and warm up.
    const int d = 128, k = 1024, batch = 65536, batches = 128, warm = 4;
    long n = (long)batch * batches;
    var rows = new float[n * d];
    System.Threading.Tasks.Parallel.For(0, batches, b =>
    {
        var random = new Random(1 + b);
        for (long i = b * (long)batch * d; i < (b + 1) * (long)batch * d; i++)
            rows[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
    });
    long timedRows = (long)(batches - warm) * batch;
    // The same rows page-locked, as fp32 and as fp16 (the "pinned host batches" of the protocol).
    var pinned32 = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(n * d * 4), 4096);
    var pinned16 = (Half*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(n * d * 2), 4096);
    rows.AsSpan().CopyTo(new Span<float>(pinned32, checked((int)(n * d))));
    FlashKMeans.Data.HalfPrecisionConversion.ToHalf(rows, new Span<Half>(pinned16, checked((int)(n * d))));
    using var context = CudaContext.Open(0);
    using var registered32 = new FlashKMeans.Cuda.Native.HostRegistration(context, (nint)pinned32, n * d * 4);
    using var registered16 = new FlashKMeans.Cuda.Native.HostRegistration(context, (nint)pinned16, n * d * 2);
    Console.WriteLine($"# stream learning: {context.Name}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; batches of {batch} × {d}, K = {k}, {batches - warm} timed batches per pass, median of 3 passes");

    MiniBatchKMeans Seeded(ComputeDevice device, ComputePrecision precision, int stepRows = batch)
    {
        var learner = new MiniBatchKMeans(new KMeansOptions
        {
            NumberOfClusters = k, Device = device, Precision = precision, Seed = 1, Initialization = KMeansInitialization.RandomRows,
            MiniBatch = new MiniBatchOptions { BatchSize = stepRows, ReassignmentRatio = 0.01, InitializationSize = 3 * batch },
        }, d);
        for (int b = 0; b < warm; b++)
            learner.PartialFit(rows.AsSpan(b * batch * d, batch * d));
        return learner;
    }

    void Report(string what, ComputeDevice device, ComputePrecision precision, Func<MiniBatchKMeans, int, double> pass, int repeats = 3, int stepRows = batch)
    {
        using var learner = Seeded(device, precision, stepRows);
        var seconds = Enumerable.Range(0, repeats).Select(r => pass(learner, r)).OrderBy(t => t).ToArray();
        double median = seconds[seconds.Length / 2];
        Console.WriteLine(FormattableString.Invariant(
            $"RESULT stream what={what} device={device} precision={precision} batch={stepRows} d={d} k={k} rows={timedRows} seconds={median:F4} rows_per_s={timedRows / median:F0} runs={string.Join('/', seconds.Select(t => (timedRows / t / 1e6).ToString("F1", CultureInfo.InvariantCulture)))}M inertia={learner.Snapshot().Inertia:G6}"));
    }

    double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    var fp16Source = new FlashKMeans.Data.UnmanagedRowsBatchSource((nint)(pinned16 + (long)warm * batch * d), timedRows, d, FlashKMeans.Data.RowElementType.Float16, batch) { IsPageLocked = true };
    var fp32Source = new FlashKMeans.Data.UnmanagedRowsBatchSource((nint)(pinned32 + (long)warm * batch * d), timedRows, d, FlashKMeans.Data.RowElementType.Float32, batch) { IsPageLocked = true };
    var arraySource = new FlashKMeans.Data.InMemoryBatchSource(rows.AsMemory(warm * batch * d), d);
    Report("pass-pinned-fp16", ComputeDevice.Cuda, ComputePrecision.Float16, (m, _) => Time(() => m.PartialFit(fp16Source)));
    // Small steps: several go in one launch sequence between the host's waits (up to the reassignment's schedule).
    Report("pass-pinned-fp16", ComputeDevice.Cuda, ComputePrecision.Float16, (m, _) => Time(() => m.PartialFit(fp16Source)), stepRows: 4096);
    Report("pass-pinned-fp16", ComputeDevice.Cuda, ComputePrecision.Float16, (m, _) => Time(() => m.PartialFit(fp16Source)), stepRows: 1024);
    Report("pass-pinned-fp32", ComputeDevice.Cuda, ComputePrecision.Float32, (m, _) => Time(() => m.PartialFit(fp32Source)));
    Report("pass-pinned-fp32", ComputeDevice.Cuda, ComputePrecision.Float16, (m, _) => Time(() => m.PartialFit(fp32Source)));
    Report("pass-array-fp32", ComputeDevice.Cuda, ComputePrecision.Float16, (m, _) => Time(() => m.PartialFit(arraySource)));
    Report("pass-array-fp32", ComputeDevice.Cuda, ComputePrecision.Float32, (m, _) => Time(() => m.PartialFit(arraySource)));
    Report("per-call-span", ComputeDevice.Cuda, ComputePrecision.Float16, (m, _) => Time(() =>
    {
        for (int b = warm; b < batches; b++)
            m.PartialFit(rows.AsSpan(b * batch * d, batch * d));
    }), repeats: 1);
    // Where the per-call time goes: the deterministic update (GPU assigns, host sums) as before whole steps.
    using var hostUpdate = new MiniBatchKMeans(new KMeansOptions
    {
        NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float16, Seed = 1, Initialization = KMeansInitialization.RandomRows,
        DeterministicUpdate = true, MiniBatch = new MiniBatchOptions { BatchSize = batch },
    }, d);
    for (int b = 0; b < warm; b++)
        hostUpdate.PartialFit(rows.AsSpan(b * batch * d, batch * d));
    double hostSeconds = Time(() => hostUpdate.PartialFit(arraySource));
    Console.WriteLine(FormattableString.Invariant($"RESULT stream what=pass-array-fp32-host-update device=Cuda precision=Float16 rows={timedRows} seconds={hostSeconds:F4} rows_per_s={timedRows / hostSeconds:F0}"));
    // The host's own baseline in the same run: every core, one pass over the array (a quarter of it: it is slow).
    using var cpu = Seeded(ComputeDevice.Cpu, ComputePrecision.Float32);
    var quarter = new FlashKMeans.Data.InMemoryBatchSource(rows.AsMemory(warm * batch * d, (batches - warm) / 4 * batch * d), d);
    double cpuSeconds = Time(() => cpu.PartialFit(quarter));
    long cpuRows = (batches - warm) / 4 * (long)batch;
    Console.WriteLine(FormattableString.Invariant($"RESULT stream what=pass-array-fp32 device=Cpu threads={Environment.ProcessorCount} rows={cpuRows} seconds={cpuSeconds:F4} rows_per_s={cpuRows / cpuSeconds:F0}"));
}

var shapes = new (int B, int N, int K, int D, ComputePrecision P)[]
{
    (1, 1 << 20, 1024, 128, ComputePrecision.Float16),
    (1, 1 << 23, 1024, 128, ComputePrecision.Float16),
    (1, 1 << 20, 8192, 128, ComputePrecision.Float16),
    (1, 1 << 20, 256, 128, ComputePrecision.Float16),
    (1, 1 << 20, 1024, 512, ComputePrecision.Float16),
    (1, 1 << 20, 1024, 128, ComputePrecision.TensorFloat32),
    (1, 1 << 20, 8192, 128, ComputePrecision.TensorFloat32),
    (32, 131072, 1000, 128, ComputePrecision.Float16),
    (8, 16384, 100, 128, ComputePrecision.Float16),
    // Beyond the anchors: exact fp32. (Every resident step sums in fixed point, so the deterministic option no longer
    // changes a resident step and has no rows of its own.)
    (1, 1 << 20, 1024, 128, ComputePrecision.Float32),
};

using var context = CudaContext.Open(0);
Console.WriteLine($"# device: {context.Name}, sm_{context.ComputeCapability}, {context.MultiprocessorCount} SMs; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; iterations {iterations}; step ahead {(Fit.StepAhead ? "on" : "off")}");
if (fitThresholds is not null)
{
    foreach (var shape in shapes)
    {
        string name = $"B={shape.B} N={shape.N} K={shape.K} d={shape.D} {shape.P}";
        if (shape.B != 1 || (only is not null && !name.Contains(only, StringComparison.Ordinal)))
            continue;
        using var session = new CudaSession(context, new CudaPrecision(shape.P), ownsContext: false);
        FitDetail(session, name, shape.N, shape.K, shape.D, iterations, fitThresholds);
    }
    return;
}
Console.WriteLine($"| B | N | K | d | precision | update | ms/iter | assign ms | assign TFLOP/s | update ms | host ms | fit of {Fit.Steps}, ms/iter |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
foreach (var shape in shapes)
{
    string name = $"B={shape.B} N={shape.N} K={shape.K} d={shape.D} {shape.P}";
    if (only is not null && !name.Contains(only, StringComparison.Ordinal))
        continue;
    using var session = new CudaSession(context, new CudaPrecision(shape.P), ownsContext: false);
    var (iter, assign, update, fit) = shape.B == 1 ? Single(session, shape.N, shape.K, shape.D, iterations, fullUpdate) : Batched(session, shape.B, shape.N, shape.K, shape.D, iterations, fullUpdate);
    double tflops = 2.0 * shape.B * shape.N * shape.K * shape.D / (assign * 1e-3) / 1e12;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {shape.B} | {shape.N:N0} | {shape.K} | {shape.D} | {shape.P} ({session.AssignKernelName(shape.D, session.Precision.Pitch(shape.D), session.Precision.Pitch(shape.D))}) | {(fullUpdate ? "every row" : "default")} | {iter:F3} | {assign:F3} | {tflops:F0} | {update:F3} | {iter - assign - update:F3} | {fit:F3} |"));
}

static (double Iter, double Assign, double Update, double Fit) Single(CudaSession s, int n, int k, int d, int iterations, bool fullUpdate)
{
    using var rows = new DeviceBuffer<float>(s.Context, (long)n * d);
    s.FillNormal(rows.Pointer, (long)n * d, 42);
    using var binding = new CudaDataBinding(s, rows, n, d, k);
    binding.Batch.AllowIncremental = !fullUpdate;
    var initial = StartFromDataRows(binding, n, k, d);
    var moved = new List<double>();
    // The steps timed as one block, the last not stepping ahead: with the next step enqueued before a step returns, one
    // step's wall time is not that step's work, and a median of them came out below the assignment kernel alone.
    var clock = Stopwatch.StartNew();
    for (int i = 0; i < iterations; i++)
    {
        var step = binding.Step(false, Fit.StepAhead && i < iterations - 1, default);
        moved.Add(100.0 * step.LabelsChanged / n);
    }
    double perStep = clock.Elapsed.TotalMilliseconds / iterations;
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# N={n} K={k} d={d}: labels moved per timed step, median {Median(moved):F2}%"));
    double assign = EventTimer.Median(s, iterations, binding.EnqueueAssign);
    double update = EventTimer.Median(s, iterations, binding.EnqueueUpdate);
    // A whole fit from the same start, as flash-kmeans' reference numbers are timed: its first steps move most labels and sum every row.
    binding.SetCentroids(initial);
    var fit = Stopwatch.StartNew();
    for (int i = 0; i < Fit.Steps; i++)
        binding.Step(false, Fit.StepAhead && i < Fit.Steps - 1, default);
    return (perStep, assign, update, fit.Elapsed.TotalMilliseconds / Fit.Steps);
}

// Starts a fit from centroids at rows i·N/K of the data and runs the 3 warm-up steps; returns those centroids, from which
// the whole fits start again.
static float[] StartFromDataRows(CudaDataBinding binding, int n, int k, int d)
{
    var initial = new float[k * d];
    binding.GatherRows(Enumerable.Range(0, k).Select(i => (long)i * (n / k)).ToArray(), initial, default, default);
    binding.SetCentroids(initial);
    for (int i = 0; i < 3; i++)
        binding.Step(false, default);
    return initial;
}

static void FitDetail(CudaSession s, string name, int n, int k, int d, int iterations, double[] thresholds)
{
    using var rows = new DeviceBuffer<float>(s.Context, (long)n * d);
    s.FillNormal(rows.Pointer, (long)n * d, 42);
    using var binding = new CudaDataBinding(s, rows, n, d, k);
    var initial = StartFromDataRows(binding, n, k, d);
    double assign = EventTimer.Median(s, iterations, binding.EnqueueAssign);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"## {name}: assign {assign:F3} ms (events, median of {iterations})"));
    Console.WriteLine("| threshold | step | ms | update | moved % |");
    Console.WriteLine("| --- | --- | --- | --- | --- |");
    foreach (double threshold in thresholds)
    {
        binding.Batch.AllowIncremental = threshold >= 0;
        binding.Batch.IncrementalThreshold = threshold;
        var times = new double[Fit.Steps];
        var kinds = new CudaBatch.UpdateKind[Fit.Steps];
        var moved = new double[Fit.Steps];
        for (int pass = 0; pass < 2; pass++)
        {
            binding.SetCentroids(initial);
            for (int i = 0; i < Fit.Steps; i++)
            {
                var clock = Stopwatch.StartNew();
                var step = binding.Step(false, Fit.StepAhead && i < Fit.Steps - 1, default);
                times[i] = clock.Elapsed.TotalMilliseconds;
                kinds[i] = binding.Batch.LastUpdate;
                moved[i] = 100.0 * step.LabelsChanged / n;
            }
        }
        for (int i = 0; i < Fit.Steps; i++)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {threshold} | {i + 1} | {times[i]:F3} | {kinds[i]} | {moved[i]:F2} |"));
        double mean = times.Average();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {threshold} | mean | {mean:F3} | {100 * (mean / assign - 1):F1}% over assign | |"));
    }
}

static (double Iter, double Assign, double Update, double Fit) Batched(CudaSession s, int b, int n, int k, int d, int iterations, bool fullUpdate)
{
    // The batch that KMeans.FitBatched steps (CudaBatchBinding): B problems in one launch sequence, captured
    // into a graph. Rows and centroids are generated on the device, so only the step is timed.
    using var batch = new CudaBatch(s, b, n, d, k, hasWeights: false) { AllowIncremental = !fullUpdate };
    int ld = batch.Pitch;
    long rows = (long)b * n;
    using (var raw = new DeviceBuffer<float>(s.Context, rows * d))
    {
        s.FillNormal(raw.Pointer, rows * d, 42);
        s.PackRows(raw.Pointer, rows, d, d, batch.X.Pointer, ld, batch.XNorms.Pointer);
        batch.Scale = CudaDataBinding.FixedPointScale(s.MaxAbs(batch.X.Pointer, rows, d, ld), n);
    }
    void Start()
    {
        batch.WriteCentroids(centroids => s.FillNormal(centroids.Pointer, (long)b * k * d, 7));
    }
    Start();
    var results = new LloydStepResult[b];
    for (int i = 0; i < 3; i++)
        batch.Step(false, results, default);
    // One block of steps, as in Single.
    var clock = Stopwatch.StartNew();
    for (int i = 0; i < iterations; i++)
        batch.Step(false, results, Fit.StepAhead && i < iterations - 1, default);
    double perStep = clock.Elapsed.TotalMilliseconds / iterations;
    double assign = EventTimer.Median(s, iterations, batch.EnqueueAssign), update = EventTimer.Median(s, iterations, batch.EnqueueUpdate);
    Start();
    var fit = Stopwatch.StartNew();
    for (int i = 0; i < Fit.Steps; i++)
        batch.Step(false, results, Fit.StepAhead && i < Fit.Steps - 1, default);
    return (perStep, assign, update, fit.Elapsed.TotalMilliseconds / Fit.Steps);
}

static double Median(List<double> values)
{
    values.Sort();
    int m = values.Count / 2;
    return values.Count % 2 == 1 ? values[m] : 0.5 * (values[m - 1] + values[m]);
}

/// <summary>The length of the timed whole fits.</summary>
internal static class Fit
{
    /// <summary>Steps of each whole fit (--fit-steps).</summary>
    public static int Steps { get; set; } = 20;

    /// <summary>Whether the timed steps and fits enqueue each step ahead, as the engine's loop asks (off: --no-step-ahead).</summary>
    public static bool StepAhead { get; set; } = true;
}
