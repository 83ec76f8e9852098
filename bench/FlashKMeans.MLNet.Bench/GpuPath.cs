using System.Diagnostics;
using System.Runtime.InteropServices;
using FlashKMeans;
using FlashKMeans.Clustering;
using FlashKMeans.Data;
using FlashKMeans.MLNet;
using Microsoft.ML;

/// <summary>
/// The ML.NET path on the GPU against the engine on raw arrays, in one process on one GPU: default 1M × 128,
/// K = 1024, fp32, 20 fixed Lloyd iterations from k-means‖.
/// <list type="bullet">
/// <item>Fit: the engine's <c>KMeans.Fit(float[])</c>, the trainer with the default memory budget (the first cursor
/// pass also fills native memory, which the GPU then uploads from) and the trainer streaming every pass.</item>
/// <item>Where the time goes: "to the GPU" is the time from the call to the first seeding report, when the data is
/// validated and resident on the device; the rest is seeding and Lloyd, the same engine work for every path. The
/// bare cursor pass (read and copy each row) is timed on its own.</item>
/// <item>Transform: PredictedLabel alone and with Score (K distances a row) read through a cursor, against the
/// engine's streamed GPU prediction (labels).</item>
/// </list>
/// </summary>
internal static class GpuPath
{
    public static int Run(Settings settings, string[] args)
    {
        int n = settings.Rows, d = settings.Dim, k = settings.K;
        double gigabytes = (double)n * d * sizeof(float) / 1e9;
        Console.WriteLine($"GPU ML.NET path: N={n}, d={d}, K={k}, {settings.Iterations} iterations, {settings.Repeats} repeats, {gigabytes:F3} GB of features");
        var (rows, _) = Data.Make(settings);
        var view = new ArrayDataView(rows, d);
        var ml = new MLContext(seed: 1);

        KMeansOptions EngineOptions(Microsoft.Extensions.Logging.ILogger logger) => new()
        {
            NumberOfClusters = k, MaximumNumberOfIterations = settings.Iterations, OptimizationTolerance = 0, Device = ComputeDevice.Cuda, Seed = 5,
            Logger = logger,
        };
        GpuKMeansTrainer.Options TrainerOptions(int? budgetMb, IProgress<KMeansProgress> p) => new()
        {
            NumberOfClusters = k, MaximumNumberOfIterations = settings.Iterations, OptimizationTolerance = 0, Device = ComputeDevice.Cuda, Seed = 5,
            DeviceMemoryBudgetMb = budgetMb, Progress = p,
        };

        var split = UploadSplit.Run(rows, n, d, k);
        foreach (var (piece, seconds) in split)
            Console.WriteLine($"split: {piece}: {seconds:F3} s");
        var trainerSplit = TrainerSplit.Run(view, d, k);
        foreach (var (piece, seconds) in trainerSplit)
            Console.WriteLine($"trainer split: {piece}: {seconds:F3} s");
        var table = new List<string>();
        var rates = new List<(double Engine, double Cached, double Streamed)>();
        // The first fit loads the driver, JIT-compiles the PTX and warms the allocators: not timed.
        new KMeans(new KMeansOptions { NumberOfClusters = 8, MaximumNumberOfIterations = 2, Device = ComputeDevice.Cuda }).Fit(rows.AsMemory(0, 8192 * d), d);
        var warm = TrainerOptions(null, new Marker(Stopwatch.StartNew()));
        warm.NumberOfClusters = 8;
        warm.MaximumNumberOfIterations = 2;
        ml.Clustering.Trainers.FlashKMeans(warm).Fit(new ArrayDataView(rows.AsSpan(0, 8192 * d).ToArray(), d)).Dispose();
        for (int r = 0; r < settings.Repeats; r++)
        {
            var engineClock = Stopwatch.StartNew();
            var engineMark = new Marker(engineClock);
            var timeline = new Timeline(engineClock);
            var engine = new KMeans(EngineOptions(timeline)).Fit(rows, d, null, engineMark);
            double engineFit = engineClock.Elapsed.TotalSeconds;
            // The engine logs its backend once the data is validated and the GPU context is up, and its data placement as
            // the binding (upload) starts: the split of its time to the GPU.
            double started = timeline.At("FlashKMeans: using"), placing = timeline.At("FlashKMeans: GPU data placement");
            Console.WriteLine($"engine, repeat {r + 1}: validated and GPU started at {started:F3} s, binding from {placing:F3} s, seeding from {engineMark.ToDevice:F3} s");

            var cachedClock = Stopwatch.StartNew();
            var cachedMark = new Marker(cachedClock);
            using var cached = ml.Clustering.Trainers.FlashKMeans(TrainerOptions(GpuKMeansTrainer.Defaults.DeviceMemoryBudgetMb, cachedMark)).Fit(view);
            double cachedFit = cachedClock.Elapsed.TotalSeconds;

            var streamedClock = Stopwatch.StartNew();
            var streamedMark = new Marker(streamedClock);
            using var streamed = ml.Clustering.Trainers.FlashKMeans(TrainerOptions(null, streamedMark)).Fit(view);
            double streamedFit = streamedClock.Elapsed.TotalSeconds;

            if (!engine.Centroids.Span.SequenceEqual(cached.EngineModel.Centroids.Span) || !engine.Centroids.Span.SequenceEqual(streamed.EngineModel.Centroids.Span))
                throw new InvalidOperationException("The paths trained different centroids; the comparison would be meaningless.");

            var clock = Stopwatch.StartNew();
            Passes.CursorPass(view, d);
            double cursorPass = clock.Elapsed.TotalSeconds;

            var labels = new int[n];
            clock.Restart();
            engine.Predict(new InMemoryBatchSource(rows, d), labels, ComputeDevice.Cuda);
            double enginePredict = clock.Elapsed.TotalSeconds;
            clock.Restart();
            long labelSum = Passes.ReadLabels(cached.Transform(view));
            double viewLabels = clock.Elapsed.TotalSeconds;
            clock.Restart();
            long allSum = Passes.ReadAll(cached.Transform(view));
            double viewAll = clock.Elapsed.TotalSeconds;
            long engineSum = labels.Sum(l => (long)l + 1);
            if (labelSum != allSum)
                throw new InvalidOperationException("Transform gave other labels with Score than without.");

            rates.Add((gigabytes / engineMark.ToDevice, gigabytes / cachedMark.ToDevice, gigabytes / streamedMark.ToDevice));
            table.Add($"| {r + 1} | {engineFit:F3} | {started:F3} | {engineMark.ToDevice:F3} | {cachedFit:F3} | {cachedMark.ToDevice:F3} | {cached.TrainingSummary!.CursorPasses} | " +
                      $"{streamedFit:F3} | {streamedMark.ToDevice:F3} | {streamed.TrainingSummary!.CursorPasses} | {cursorPass:F3} | " +
                      $"{enginePredict:F3} | {viewLabels:F3} | {viewAll:F3} | {(engineSum == labelSum ? "same" : $"{Math.Abs(engineSum - labelSum)} off")} |");
            Console.WriteLine(table[^1]);
        }

        var report = new System.Text.StringBuilder();
        report.AppendLine($"# FlashKMeans.MLNet on the GPU: IDataView path vs engine on raw arrays ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        report.AppendLine();
        report.AppendLine($"- Command: `scripts/gpu-tests.sh publish`, then on the GPU machine `gpu-tests.sh mlnet-bench {string.Join(' ', args)}`");
        report.AppendLine($"- Machine: {Gpu()}; host {Machine.Cpu()}, {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.OSDescription}, .NET {Environment.Version}.");
        report.AppendLine($"- ML.NET: Microsoft.ML {Machine.MLNetRelease()}, an in-memory IDataView of VBuffer rows.");
        report.AppendLine($"- Data: {n} × {d} float32 Gaussian blobs ({gigabytes:F3} GB), K = {k}, fp32, k-means‖ seeding with one seed for every path, {settings.Iterations} Lloyd iterations (tolerance off). Centroids checked bit-identical across the three fits.");
        report.AppendLine("- \"validated, GPU up\" = when the engine logs its backend: the validation pass and the GPU context's start are done. \"to GPU\" = from the call to the first seeding report: validation pass, trainer's copies, GPU start, upload. Cached = default `DeviceMemoryBudgetMb` (first cursor pass fills native memory; the upload reads it); streamed = `DeviceMemoryBudgetMb = null` (every pass a cursor pass).");
        report.AppendLine();
        report.AppendLine("| repeat | engine fit (s) | engine validated, GPU up (s) | engine to GPU (s) | trainer fit, cached (s) | to GPU (s) | cursor passes | trainer fit, streamed (s) | to GPU (s) | cursor passes | bare cursor pass (s) | engine predict (s) | Transform, labels (s) | Transform, Score + labels (s) | labels |");
        report.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var line in table)
            report.AppendLine(line);
        report.AppendLine();
        report.AppendLine($"Features reach the GPU at (median): engine on arrays {Passes.Median(rates.Select(x => x.Engine)):F2} GB/s, trainer cached {Passes.Median(rates.Select(x => x.Cached)):F2} GB/s, " +
                          $"trainer streamed {Passes.Median(rates.Select(x => x.Streamed)):F2} GB/s.");
        void Pieces(string title, IReadOnlyList<(string Piece, double Seconds)> pieces)
        {
            report.AppendLine();
            report.AppendLine(title);
            report.AppendLine();
            report.AppendLine("| piece | s | GB/s |");
            report.AppendLine("| --- | --- | --- |");
            foreach (var (piece, seconds) in pieces)
                report.AppendLine($"| {piece} | {seconds:F3} | {gigabytes / seconds:F1} |");
        }
        Pieces("Upload from host arrays, piece by piece (each timed alone, after a warm-up of the whole):", split);
        Pieces("The trainer's way to the GPU, piece by piece (fresh sources, best of three after a warm-up):", trainerSplit);
        Console.WriteLine();
        Console.WriteLine(report);
        if (settings.Out is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Out))!);
            File.WriteAllText(settings.Out, report.ToString());
        }
        return 0;
    }

    private static string Gpu()
    {
        try
        {
            var info = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=name,driver_version --format=csv,noheader") { RedirectStandardOutput = true })!;
            string text = info.StandardOutput.ReadToEnd().Trim();
            info.WaitForExit();
            return text;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return "GPU (nvidia-smi unavailable)";
        }
    }

    /// <summary>When each engine log line came, by its start.</summary>
    private sealed class Timeline(Stopwatch clock) : Microsoft.Extensions.Logging.ILogger
    {
        private readonly List<(double At, string Message)> _lines = [];

        public double At(string start) => _lines.FirstOrDefault(l => l.Message.StartsWith(start, StringComparison.Ordinal)).At;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter) => _lines.Add((clock.Elapsed.TotalSeconds, formatter(state, exception)));
    }

    /// <summary>Notes the time of the first seeding report: the data is validated and bound to the device by then.</summary>
    private sealed class Marker(Stopwatch clock) : IProgress<KMeansProgress>
    {
        public double ToDevice { get; private set; } = double.NaN;

        public void Report(KMeansProgress value)
        {
            if (value.Phase == KMeansPhase.Seeding && double.IsNaN(ToDevice))
                ToDevice = clock.Elapsed.TotalSeconds;
        }
    }
}
