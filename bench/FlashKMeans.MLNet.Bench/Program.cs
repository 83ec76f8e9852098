using System.Diagnostics;
using System.Runtime.InteropServices;
using FlashKMeans;
using FlashKMeans.Clustering;
using FlashKMeans.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

// Cost of the ML.NET path over the engine on raw arrays, on the CPU protocol of bench/cpu_vs_sklearn.sh:
// 200,000 × 128 float32 Gaussian blobs (256 centres from N(0, 16), unit noise), K = 1024, 10 fixed
// iterations from the same 1024 initial centroids drawn from the data.
//
//   dotnet run -c Release --project bench/FlashKMeans.MLNet.Bench -- [--rows N] [--dim D] [--k K] [--iterations I] [--repeats R] [--out FILE]
//   ... -- --device cuda [...]   the GPU comparison of GpuPath.cs instead (the GPU machine runs it from the bundle
//                                that scripts/gpu-tests.sh publish makes: gpu-tests.sh mlnet-bench)
//
// Each repeat runs the engine and the IDataView path back to back, so that the ratios compare runs taken under
// the same load (the CPU is shared). Reported: fit seconds, scoring seconds, and IDataView/engine ratios.

var settings = Settings.Parse(args);
if (settings.Device == ComputeDevice.Cuda)
    return GpuPath.Run(settings, args);
Console.WriteLine($"FlashKMeans.MLNet benchmark: N={settings.Rows}, d={settings.Dim}, K={settings.K}, {settings.Iterations} iterations, {settings.Repeats} repeats");
var (rows, initial) = Data.Make(settings);
var view = new ArrayDataView(rows, settings.Dim);
var ml = new MLContext(seed: 1);

var engineOptions = new KMeansOptions
{
    NumberOfClusters = settings.K,
    Initialization = KMeansInitialization.Explicit,
    InitialCentroids = initial,
    MaximumNumberOfIterations = settings.Iterations,
    OptimizationTolerance = 0,
    Device = ComputeDevice.Cpu,
};
var trainerOptions = new GpuKMeansTrainer.Options
{
    NumberOfClusters = settings.K,
    InitializationAlgorithm = KMeansInitialization.Explicit,
    InitialCentroids = initial,
    MaximumNumberOfIterations = settings.Iterations,
    OptimizationTolerance = 0,
    Device = ComputeDevice.Cpu,
    UsePruning = false, // like for like with the engine options above: this measures the IDataView path's cost
    DeviceMemoryBudgetMb = null, // stream: every pass is a cursor pass
};

// The same trainer with a memory budget that holds the data: one cursor pass, then the native cache.
var cachedOptions = new GpuKMeansTrainer.Options
{
    NumberOfClusters = settings.K,
    InitializationAlgorithm = KMeansInitialization.Explicit,
    InitialCentroids = initial,
    MaximumNumberOfIterations = settings.Iterations,
    OptimizationTolerance = 0,
    Device = ComputeDevice.Cpu,
    UsePruning = false,
    DeviceMemoryBudgetMb = GpuKMeansTrainer.Defaults.DeviceMemoryBudgetMb,
};
var results = new List<(double EngineFit, double ViewFit, double EngineScore, double ViewScore, int Iterations, int Passes, double CachedFit, double ViewLabels)>();
for (int r = 0; r < settings.Repeats; r++)
{
    // Alternate which path runs first, so that a load change on the shared CPU does not always hit the same one.
    bool engineFirst = r % 2 == 0;
    double engineFit = 0, viewFit = 0;
    KMeansModel? engine = null;
    GpuKMeansTransformer? transformer = null;
    for (int turn = 0; turn < 2; turn++)
    {
        var clock = Stopwatch.StartNew();
        if ((turn == 0) == engineFirst)
        {
            engine = new KMeans(engineOptions).Fit(rows, settings.Dim);
            engineFit = clock.Elapsed.TotalSeconds;
        }
        else
        {
            transformer = ml.Clustering.Trainers.FlashKMeans(trainerOptions).Fit(view);
            viewFit = clock.Elapsed.TotalSeconds;
        }
    }
    if (!engine!.Centroids.Span.SequenceEqual(transformer!.EngineModel.Centroids.Span))
        throw new InvalidOperationException("The two paths trained different centroids; the comparison would be meaningless.");
    var cachedClock = Stopwatch.StartNew();
    var cachedModel = ml.Clustering.Trainers.FlashKMeans(cachedOptions).Fit(view);
    double cachedFit = cachedClock.Elapsed.TotalSeconds;
    if (!engine.Centroids.Span.SequenceEqual(cachedModel.EngineModel.Centroids.Span))
        throw new InvalidOperationException("The cached path trained different centroids.");

    // Engine on raw arrays, scored in the same blocks the transformer uses, with a reused buffer.
    var sw = Stopwatch.StartNew();
    const int block = 16384;
    var distances = new float[block * settings.K];
    long labelSum = 0;
    for (int start = 0; start < settings.Rows; start += block)
    {
        int count = Math.Min(block, settings.Rows - start);
        var slice = distances.AsSpan(0, count * settings.K);
        engine.Transform(rows.AsSpan(start * settings.Dim, count * settings.Dim), slice);
        for (int i = 0; i < count; i++)
            labelSum += Passes.ArgMin(slice.Slice(i * settings.K, settings.K)) + 1;
    }
    double engineScore = sw.Elapsed.TotalSeconds;

    sw.Restart();
    long checksum = Passes.ReadAll(transformer.Transform(view));
    double viewScore = sw.Elapsed.TotalSeconds;
    if (checksum != labelSum)
        throw new InvalidOperationException("The two paths scored different labels.");

    // The common case of reading only the cluster: no per-row copy of the K distances into the consumer's buffer.
    sw.Restart();
    long labelsOnly = Passes.ReadLabels(transformer.Transform(view));
    double viewLabels = sw.Elapsed.TotalSeconds;
    if (labelsOnly != labelSum)
        throw new InvalidOperationException("The label-only read scored different labels.");

    results.Add((engineFit, viewFit, engineScore, viewScore, transformer.TrainingSummary!.Iterations, transformer.TrainingSummary.CursorPasses, cachedFit, viewLabels));
    Console.WriteLine($"repeat {r + 1}: fit engine {engineFit:F2} s, IDataView {viewFit:F2} s ({viewFit / engineFit:F3}x), cached {cachedFit:F2} s ({cachedFit / engineFit:F3}x, " +
                      $"{transformer.TrainingSummary.Iterations} iterations, {transformer.TrainingSummary.CursorPasses} cursor passes); " +
                      $"score engine {engineScore:F2} s, IDataView {viewScore:F2} s ({viewScore / engineScore:F3}x), labels only {viewLabels:F2} s ({viewLabels / engineScore:F3}x)");
}

// The part of the IDataView path's cost that does not depend on the engine: one cursor pass copying every row
// into a batch buffer, as the trainer's reader does. Multiplied by the passes, it bounds the overhead.
var passClock = Stopwatch.StartNew();
const int passes = 5;
for (int p = 0; p < passes; p++)
    Passes.CursorPass(view, settings.Dim);
double cursorPass = passClock.Elapsed.TotalSeconds / passes;
Console.WriteLine($"one cursor pass (read + copy + finiteness check): {cursorPass * 1000:F1} ms");

// What a user gets with the trainer's defaults (k-means|| seeding, pruning on), against the reference 94 s for
// ML.NET's own KMeansTrainer at the same size with its default seeding and 10 iterations.
var defaultFits = new List<double>();
for (int r = 0; r < Math.Max(1, Math.Min(3, settings.Repeats)); r++)
{
    var clock = Stopwatch.StartNew();
    using var fitted = ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options
    {
        NumberOfClusters = settings.K,
        MaximumNumberOfIterations = settings.Iterations,
        OptimizationTolerance = 0,
        Device = ComputeDevice.Cpu,
    }).Fit(view);
    defaultFits.Add(clock.Elapsed.TotalSeconds);
    Console.WriteLine($"default-options fit {r + 1}: {defaultFits[^1]:F2} s (k-means|| seeding, pruning on)");
}

var report = new System.Text.StringBuilder();
report.AppendLine($"# FlashKMeans.MLNet: IDataView path vs engine on raw arrays ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
report.AppendLine();
report.AppendLine($"- Command: `dotnet run -c Release --project bench/FlashKMeans.MLNet.Bench -- {string.Join(' ', args)}`");
report.AppendLine($"- Machine: {Machine.Cpu()}, {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; CPU shared with other builds (noisy), so compare ratios within a repeat.");
report.AppendLine($"- ML.NET: Microsoft.ML {Machine.MLNetRelease()}; backend: CPU.");
report.AppendLine($"- Data: {settings.Rows} × {settings.Dim} Gaussian blobs (256 centres, spread 4, unit noise), K={settings.K}, at most {settings.Iterations} iterations (the engine also stops when no label changes) from the same {settings.K} initial centroids drawn from the data, tolerance off.");
report.AppendLine("- Fit = engine `KMeans.Fit(float[])` vs `mlContext.Clustering.Trainers.FlashKMeans(options).Fit(IDataView)`, streamed (`DeviceMemoryBudgetMb = null`: every pass a cursor pass into double-buffered pinned batches) and cached (the default `DeviceMemoryBudgetMb = 2048`: the first cursor pass also fills native memory that later passes read). All include the engine's validation pass. Centroids checked bit-identical across the three.");
report.AppendLine("- Score = engine `KMeansModel.Transform` + argmin in blocks of 16,384 rows with a reused buffer vs `transformer.Transform(IDataView)` read through a cursor: Score and PredictedLabel of every row, and PredictedLabel alone. Labels checked equal.");
report.AppendLine();
report.AppendLine("| repeat | first | iterations | cursor passes | fit engine (s) | fit IDataView, streamed (s) | ratio | fit IDataView, cached (s) | ratio | score engine (s) | score IDataView (s) | ratio | labels only (s) | ratio |");
report.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (int r = 0; r < results.Count; r++)
{
    var x = results[r];
    report.AppendLine($"| {r + 1} | {(r % 2 == 0 ? "engine" : "IDataView")} | {x.Iterations} | {x.Passes} | {x.EngineFit:F2} | {x.ViewFit:F2} | {x.ViewFit / x.EngineFit:F3} | {x.CachedFit:F2} | {x.CachedFit / x.EngineFit:F3} | {x.EngineScore:F2} | {x.ViewScore:F2} | {x.ViewScore / x.EngineScore:F3} | {x.ViewLabels:F2} | {x.ViewLabels / x.EngineScore:F3} |");
}
double fitRatio = Passes.Median(results.Select(x => x.ViewFit / x.EngineFit));
double cachedRatio = Passes.Median(results.Select(x => x.CachedFit / x.EngineFit));
double scoreRatio = Passes.Median(results.Select(x => x.ViewScore / x.EngineScore));
double labelRatio = Passes.Median(results.Select(x => x.ViewLabels / x.EngineScore));
report.AppendLine();
report.AppendLine($"Median IDataView/engine ratio: fit streamed {fitRatio:F3} ({(fitRatio - 1) * 100:+0.0;-0.0}%), " +
    $"fit cached (default DeviceMemoryBudgetMb = 2048) {cachedRatio:F3} ({(cachedRatio - 1) * 100:+0.0;-0.0}%), score {scoreRatio:F3} ({(scoreRatio - 1) * 100:+0.0;-0.0}%), " +
    $"labels only {labelRatio:F3} ({(labelRatio - 1) * 100:+0.0;-0.0}%). Reading Score copies K = {settings.K} floats per row into the consumer's buffer, which the engine baseline does not do.");
double fitMs = Passes.Median(results.Select(x => x.ViewFit)) / settings.Iterations * 1000;
report.AppendLine($"IDataView fit: {Passes.Median(results.Select(x => x.ViewFit)):F2} s median ({fitMs:F0} ms per iteration including the validation pass), scoring {Passes.Median(results.Select(x => x.ViewScore)):F2} s;");
report.AppendLine($"One cursor pass over the data (read, copy into the pinned batch, finiteness check) took {cursorPass * 1000:F1} ms; " +
    $"× {results[^1].Passes} passes = {cursorPass * results[^1].Passes:F2} s, {cursorPass * results[^1].Passes / Passes.Median(results.Select(x => x.EngineFit)) * 100:F1}% of the median engine fit: the load-independent estimate of the fit overhead.");
report.AppendLine("Reference (same protocol and machine kind, ML.NET 5.0 KMeansTrainer, not rerun here): 94 s to fit, 11.3 s to score and evaluate.");
report.AppendLine($"Trainer with default options (k-means|| seeding instead of the shared initial centroids, pruning on), {settings.Iterations} iterations: " +
                  $"{string.Join(", ", defaultFits.Select(x => x.ToString("F2") + " s"))}; best {defaultFits.Min():F2} s = {94 / defaultFits.Min():F1}x faster than ML.NET's 94 s; " +
                  $"scoring (Score + PredictedLabel) {Passes.Median(results.Select(x => x.ViewScore)):F2} s = {11.3 / Passes.Median(results.Select(x => x.ViewScore)):F1}x faster than ML.NET's 11.3 s (which also includes Evaluate).");
Console.WriteLine();
Console.WriteLine(report);
if (settings.Out is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Out))!);
    File.WriteAllText(settings.Out, report.ToString());
    Console.WriteLine($"written to {settings.Out}");
}
return 0;

/// <summary>What both the CPU and the GPU comparison use: reads through ML.NET cursors, argmin and the median.</summary>
internal static class Passes
{
    public static void CursorPass(IDataView data, int d)
    {
        var features = data.Schema["Features"];
        var buffer = GC.AllocateUninitializedArray<float>(16384 * d, pinned: true);
        using var cursor = data.GetRowCursor(new[] { features });
        var getter = cursor.GetGetter<VBuffer<float>>(features);
        VBuffer<float> row = default;
        int at = 0;
        while (cursor.MoveNext())
        {
            getter(ref row);
            var target = buffer.AsSpan(at * d, d);
            row.CopyTo(target);
            if (!FlashKMeans.Data.DataValidator.AllFinite(target))  // the check the ML.NET path makes on every row
                throw new InvalidOperationException();
            at = at + 1 == 16384 ? 0 : at + 1;
        }
    }

    public static long ReadLabels(IDataView scored)
    {
        var key = scored.Schema["PredictedLabel"];
        using var cursor = scored.GetRowCursor(new[] { key });
        var getKey = cursor.GetGetter<uint>(key);
        uint k = 0;
        long sum = 0;
        while (cursor.MoveNext())
        {
            getKey(ref k);
            sum += k;
        }
        return sum;
    }

    public static long ReadAll(IDataView scored)
    {
        var score = scored.Schema["Score"];
        var key = scored.Schema["PredictedLabel"];
        using var cursor = scored.GetRowCursor(new[] { score, key });
        var getScore = cursor.GetGetter<VBuffer<float>>(score);
        var getKey = cursor.GetGetter<uint>(key);
        VBuffer<float> s = default;
        uint k = 0;
        long sum = 0;
        while (cursor.MoveNext())
        {
            getScore(ref s);
            getKey(ref k);
            sum += k;
        }
        return sum;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static int ArgMin(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] < values[best])
                best = i;
        return best;
    }
}

internal sealed record Settings(int Rows, int Dim, int K, int Iterations, int Repeats, string? Out, ComputeDevice Device = ComputeDevice.Cpu)
{
    public static Settings Parse(string[] args)
    {
        var s = new Settings(200_000, 128, 1024, 10, 3, null);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            s = args[i] switch
            {
                "--rows" => s with { Rows = int.Parse(args[i + 1]) },
                "--dim" => s with { Dim = int.Parse(args[i + 1]) },
                "--k" => s with { K = int.Parse(args[i + 1]) },
                "--iterations" => s with { Iterations = int.Parse(args[i + 1]) },
                "--repeats" => s with { Repeats = int.Parse(args[i + 1]) },
                "--out" => s with { Out = args[i + 1] },
                "--device" => s with { Device = Enum.Parse<ComputeDevice>(args[i + 1], ignoreCase: true) },
                _ => throw new ArgumentException($"Unknown option {args[i]}"),
            };
        }
        return s;
    }
}

internal static class Data
{
    public static (float[] Rows, float[] Initial) Make(Settings s)
    {
        var random = new Random(2026);
        const int centres = 256;
        var means = new float[centres * s.Dim];
        for (int i = 0; i < means.Length; i++)
            means[i] = 4f * Normal(random);
        var rows = new float[(long)s.Rows * s.Dim];
        for (int r = 0; r < s.Rows; r++)
        {
            int c = random.Next(centres);
            for (int f = 0; f < s.Dim; f++)
                rows[(long)r * s.Dim + f] = means[c * s.Dim + f] + Normal(random);
        }
        var picked = Enumerable.Range(0, s.Rows).OrderBy(_ => random.Next()).Take(s.K).ToArray();
        var initial = new float[s.K * s.Dim];
        for (int i = 0; i < s.K; i++)
            Array.Copy(rows, (long)picked[i] * s.Dim, initial, (long)i * s.Dim, s.Dim);
        return (rows, initial);
    }

    private static float Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}

internal static class Machine
{
    /// <summary>The Microsoft.ML release loaded ("5.0.1"; its assembly version is always 1.0.0.0).</summary>
    public static string MLNetRelease() =>
        (typeof(MLContext).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .FirstOrDefault() as System.Reflection.AssemblyInformationalVersionAttribute)?.InformationalVersion.Split('+')[0] ?? "unknown";

    public static string Cpu()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}

/// <summary>An efficient in-memory IDataView over row-major floats: a Features vector column.</summary>
internal sealed class ArrayDataView : IDataView
{
    private readonly float[] _rows;
    private readonly int _d;

    public ArrayDataView(float[] rows, int d)
    {
        _rows = rows;
        _d = d;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Features", new VectorDataViewType(NumberDataViewType.Single, d));
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => _rows.Length / _d;
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => new[] { GetRowCursor(columnsNeeded) };

    private sealed class Cursor(ArrayDataView view) : DataViewRowCursor
    {
        private long _position = -1;
        public override long Position => _position;
        public override long Batch => 0;
        public override DataViewSchema Schema => view.Schema;
        public override bool IsColumnActive(DataViewSchema.Column column) => true;
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override bool MoveNext()
        {
            if (_position + 1 < view._rows.Length / view._d)
            {
                _position++;
                return true;
            }
            return false;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                var editor = VBufferEditor.Create(ref value, view._d);
                view._rows.AsSpan((int)(_position * view._d), view._d).CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }
    }
}
