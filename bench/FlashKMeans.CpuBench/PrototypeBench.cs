using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using FlashKMeans;
using FlashKMeans.Prototypes;

/// <summary>
/// The prototype models on the splits bench/prototypes_vs_sklearn.py wrote (listed in DIR/sets.tsv): accuracy or R² on
/// the test split, the fit's time and the prediction's (mean of 20 passes after one untimed). Each model keeps at most
/// 5 % of the training rows as prototypes unless a budget is given for its set. Shared by the CPU benchmark
/// (<c>flashkmeans-cpubench prototypes</c>) and the GPU one (<c>--prototypes</c>), which pass their device.
/// </summary>
internal static class PrototypeBench
{

    /// <param name="budgets">Prototypes per set by name, in place of 5 % of its training rows.</param>
    /// <param name="only">Set names to run; empty for all.</param>
    /// <param name="methods">Method names to run (as printed, e.g. flashkmeans-prototypes-hard-tuned-crossentropy); empty for all.</param>
    public static void Run(string dir, ComputeDevice device, int? threads, int fineTuneEpochs, IReadOnlyDictionary<string, int> budgets,
        IReadOnlyCollection<string> only, IReadOnlyCollection<string>? methods = null)
    {
        methods ??= [];
        bool Wanted(string method) => methods.Count == 0 || methods.Contains(method);
        var sets = File.ReadAllLines(Path.Combine(dir, "sets.tsv")).Select(line => line.Split('\t'))
            .Select(f => (Name: f[0], Dim: int.Parse(f[2], CultureInfo.InvariantCulture), Classes: f[1] == "class" ? int.Parse(f[3], CultureInfo.InvariantCulture) : 0))
            .Where(s => only.Count == 0 || only.Contains(s.Name));
        foreach (var (name, dim, classes) in sets)
        {
            var trainRows = ReadFloats(Path.Combine(dir, $"{name}.train.f32"));
            var testRows = ReadFloats(Path.Combine(dir, $"{name}.test.f32"));
            int trainCount = trainRows.Length / dim;
            int budget = budgets.TryGetValue(name, out int given) ? given : Math.Max(1, trainCount / 20);
            string tag = FormattableString.Invariant($"data={name} device={device.ToString().ToLowerInvariant()}");
            if (classes > 0)
                Classify(name, tag, dim, classes, budget, trainRows, testRows, device, threads, fineTuneEpochs, dir, Wanted);
            else
                Regress(name, tag, dim, budget, trainRows, testRows, device, threads, fineTuneEpochs, dir, Wanted);
        }
    }

    private static void Classify(string name, string tag, int dim, int classes, int budget, float[] trainRows, float[] testRows,
        ComputeDevice device, int? threads, int fineTuneEpochs, string dir, Func<string, bool> wanted)
    {
        var trainLabels = ReadInts(Path.Combine(dir, $"{name}.train.labels"));
        var testLabels = ReadInts(Path.Combine(dir, $"{name}.test.labels"));
        // Phase 1 alone under each routing, then phase 2 (fine-tuning) with each loss, predicting by the nearest prototype
        // and by the default routing.
        var variants = Enum.GetValues<PrototypeRouting>().Select(r => (r, (PrototypeLoss?)null))
            .Concat(new[] { PrototypeRouting.Hard, PrototypeRouting.Scaled }.SelectMany(r =>
                Enum.GetValues<PrototypeLoss>().Select(l => (r, (PrototypeLoss?)l))));
        foreach (var (routing, loss) in variants)
        {
            string method = $"flashkmeans-prototypes-{routing.ToString().ToLowerInvariant()}" + (loss is null ? "" : $"-tuned-{loss.ToString()!.ToLowerInvariant()}");
            if (!wanted(method))
                continue;
            var clock = Stopwatch.StartNew();
            var classifier = new PrototypeClassifier(new PrototypeClassifierOptions
            {
                PrototypesPerClass = Math.Max(1, budget / classes), Routing = routing, Seed = 1, NumberOfThreads = threads, Device = device,
                Loss = loss ?? default, FineTuning = { Epochs = loss is null ? 0 : fineTuneEpochs },
            }).Fit(trainRows, dim, trainLabels, classes);
            double fitSeconds = clock.Elapsed.TotalSeconds;
            int[] predicted = [];
            double ms = TimePredictions(() => predicted = classifier.Predict(testRows));
            double accuracy = predicted.Zip(testLabels).Count(p => p.First == p.Second) / (double)testLabels.Length;
            string tuned = classifier.FineTuning is { } f ? FormattableString.Invariant($" rate={f.LearningRate:G3} best_epoch={f.BestEpoch}") : "";
            Console.WriteLine(FormattableString.Invariant(
                $"RESULT {tag} method={method} prototypes={classifier.PrototypeClasses.Count} accuracy={accuracy:F4} fit_s={fitSeconds:F2} predict_ms={ms:F3}{tuned}"));
        }
    }

    private static void Regress(string name, string tag, int dim, int budget, float[] trainRows, float[] testRows,
        ComputeDevice device, int? threads, int fineTuneEpochs, string dir, Func<string, bool> wanted)
    {
        var trainTargets = ReadFloats(Path.Combine(dir, $"{name}.train.labels"));
        var testTargets = ReadFloats(Path.Combine(dir, $"{name}.test.labels"));
        int side = Math.Max(1, (int)Math.Sqrt(budget));
        foreach (int epochs in new[] { 0, fineTuneEpochs })
        {
            if (!wanted($"flashkmeans-prototypes{(epochs > 0 ? "-tuned-mse" : "")}"))
                continue;
            var clock = Stopwatch.StartNew();
            var regressor = new PrototypeRegressor(new PrototypeRegressorOptions
            {
                TargetStrata = side, PrototypesPerStratum = Math.Max(1, budget / side), Seed = 1, NumberOfThreads = threads, Device = device,
                FineTuning = { Epochs = epochs },
            }).Fit(trainRows, dim, trainTargets);
            double fitSeconds = clock.Elapsed.TotalSeconds;
            float[] predicted = [];
            double ms = TimePredictions(() => predicted = regressor.Predict(testRows));
            double mean = testTargets.Average(v => (double)v);
            double r2 = 1 - predicted.Zip(testTargets).Sum(p => Math.Pow(p.First - p.Second, 2)) / testTargets.Sum(v => Math.Pow(v - mean, 2));
            string tuned = regressor.FineTuning is { } f ? FormattableString.Invariant($" rate={f.LearningRate:G3} best_epoch={f.BestEpoch}") : "";
            Console.WriteLine(FormattableString.Invariant(
                $"RESULT {tag} method=flashkmeans-prototypes{(epochs > 0 ? "-tuned-mse" : "")} prototypes={regressor.PrototypeTargets.Length} r2={r2:F4} fit_s={fitSeconds:F2} predict_ms={ms:F3}{tuned}"));
        }
    }

    private static double TimePredictions(Action predict)
    {
        predict();
        GC.Collect();  // the fit's garbage is not the prediction's cost
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 20; i++)
            predict();
        return clock.Elapsed.TotalMilliseconds / 20;
    }

    /// <summary>Budgets written <c>name=count,name=count</c>.</summary>
    public static Dictionary<string, int> ParseBudgets(string? text) =>
        (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('='))
            .ToDictionary(p => p[0], p => int.Parse(p[1], CultureInfo.InvariantCulture));

    private static float[] ReadFloats(string path) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();

    private static int[] ReadInts(string path) => MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(path)).ToArray();
}
