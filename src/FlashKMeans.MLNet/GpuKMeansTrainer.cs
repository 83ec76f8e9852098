using System.Diagnostics;
using FlashKMeans.Clustering;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace FlashKMeans.MLNet;

/// <summary>
/// Exact Lloyd k-means for ML.NET, on a CUDA GPU when one is usable and on the SIMD CPU backend otherwise.
/// A drop-in replacement for ML.NET's <c>KMeansTrainer</c>: same option names, same output columns.
/// Create it with <c>mlContext.Clustering.Trainers.FlashKMeans(...)</c>.
/// </summary>
/// <remarks>
/// <para>Training reads the input through cursors on the feature (and weight) column, a block of
/// <see cref="Options.BatchSize"/> rows at a time into pinned buffers, the next block filled while the engine
/// works on the current one. The data is never copied whole into managed arrays. When the usable rows fit
/// <see cref="Options.DeviceMemoryBudgetMb"/> (2048 MB by default), the first pass also keeps them in native
/// memory and the engine's later passes read that instead of the cursor; otherwise every pass is a cursor pass.
/// The CUDA backend uploads the rows once and keeps them on the GPU.</para>
/// <para>Rows with a NaN or infinite feature, or a negative or non-finite weight, are skipped and counted, as
/// ML.NET's KMeans does; set <see cref="Options.TreatMissingFeaturesAsError"/> to reject them instead.</para>
/// <para>Log lines (backend, per-iteration inertia, skipped rows) go to <c>MLContext.Log</c>.</para>
/// </remarks>
public sealed class GpuKMeansTrainer : IEstimator<GpuKMeansTransformer>
{
    private readonly Options _options;
    private readonly IHostEnvironment? _env;

    /// <summary>Default values of <see cref="Options"/>.</summary>
    public static class Defaults
    {
        /// <summary>Default <see cref="Options.NumberOfClusters"/>, as ML.NET's KMeans.</summary>
        public const int NumberOfClusters = 5;
        /// <summary>Default <see cref="Options.MaximumNumberOfIterations"/>, as ML.NET's KMeans.</summary>
        public const int MaximumNumberOfIterations = 1000;
        /// <summary>Default <see cref="Options.OptimizationTolerance"/>, as ML.NET's KMeans.</summary>
        public const float OptimizationTolerance = 1e-7f;
        /// <summary>Default <see cref="Options.BatchSize"/>: rows copied from the cursor per engine batch.</summary>
        public const int BatchSize = 16384;
        /// <summary>Default <see cref="Options.DeviceMemoryBudgetMb"/>.</summary>
        public const int DeviceMemoryBudgetMb = 2048;
        /// <summary>Default feature column name.</summary>
        public const string FeatureColumnName = "Features";
    }

    /// <summary>Settings of <see cref="GpuKMeansTrainer"/>. Names match ML.NET's <c>KMeansTrainer.Options</c> where the meaning is the same.</summary>
    public sealed class Options
    {
        /// <summary>The feature column: a known-size vector of Single.</summary>
        public string FeatureColumnName = Defaults.FeatureColumnName;

        /// <summary>An optional scalar Single column of non-negative row weights.</summary>
        public string? ExampleWeightColumnName;

        /// <summary>K, the number of clusters.</summary>
        public int NumberOfClusters = Defaults.NumberOfClusters;

        /// <summary>The most Lloyd iterations per initialisation.</summary>
        public int MaximumNumberOfIterations = Defaults.MaximumNumberOfIterations;

        /// <summary>
        /// Training stops when the relative change of inertia between two iterations is at most this value
        /// (ML.NET's KMeans uses the same quantity); 0 runs exactly <see cref="MaximumNumberOfIterations"/>.
        /// </summary>
        public float OptimizationTolerance = Defaults.OptimizationTolerance;

        /// <summary>
        /// How the first centroids are chosen. The default, k-means‖, is what ML.NET's default
        /// (its enum value <c>KMeansYinyang</c>) actually runs; ML.NET's <c>KMeansPlusPlus</c> maps to
        /// <see cref="KMeansInitialization.KMeansPlusPlus"/> and its <c>Random</c> to <see cref="KMeansInitialization.RandomRows"/>.
        /// </summary>
        public KMeansInitialization InitializationAlgorithm = KMeansInitialization.KMeansParallel;

        /// <summary>K × d row-major starting centroids, with <see cref="KMeansInitialization.Explicit"/>.</summary>
        public float[]? InitialCentroids;

        /// <summary>CPU worker threads; <c>null</c> uses every logical processor.</summary>
        public int? NumberOfThreads;

        /// <summary>Where training and scoring run. <see cref="ComputeDevice.Auto"/> uses a CUDA GPU when one is usable, else the CPU.</summary>
        public ComputeDevice Device = ComputeDevice.Auto;

        /// <summary>Arithmetic of the GPU distance products; the CPU always computes in float32.</summary>
        public ComputePrecision Precision = ComputePrecision.Float32;

        /// <summary>
        /// Rows copied from the ML.NET cursor into one pinned engine batch (and scored per block by Transform); fewer
        /// for wide features, as a batch holds at most about 16 M values (64 MiB).
        /// </summary>
        public int BatchSize = Defaults.BatchSize;

        /// <summary>
        /// Memory, in megabytes, that may hold a copy of the training rows next to the compute. The first cursor pass
        /// also copies the usable rows into native (unmanaged) memory; if they fit, every later pass reads that copy
        /// instead of the cursor (the CPU backend reads it in place, the CUDA backend uploads from it without staging),
        /// so upstream transforms and file parsing run once. If they do not fit, the copy is dropped as soon as it
        /// would exceed the budget and every pass streams through the cursor in pinned batches of
        /// <see cref="BatchSize"/> rows (shrunk to fit the budget). <c>null</c> always streams. Default 2048, in the
        /// spirit of ML.NET KMeans' 4096 MB acceleration budget.
        /// </summary>
        public int? DeviceMemoryBudgetMb = Defaults.DeviceMemoryBudgetMb;

        /// <summary>Seed of every random choice; the same seed gives the same model on the CPU.</summary>
        public int Seed;

        /// <summary>Independent initialisations; the fit with the lowest inertia is kept.</summary>
        public int NumberOfInitializations = 1;

        /// <summary>The dissimilarity minimised. Models trained with <see cref="KMeansDistance.Cosine"/> or <see cref="KMeansDistance.Manhattan"/> (L1, on the CPU) cannot be saved as ML.NET models, whose KMeans scores squared Euclidean distances.</summary>
        public KMeansDistance Distance = KMeansDistance.SquaredEuclidean;

        /// <summary>
        /// Skip distance work that triangle-inequality bounds prove useless on the CPU backend (exact: the model is
        /// bit-identical either way). On by default, as ML.NET's KMeans accelerates with Yinyang bounds by default;
        /// on data without cluster structure the engine falls back to the plain kernel by itself.
        /// </summary>
        public bool UsePruning = true;

        /// <summary>Reject rows with NaN or infinite features (or bad weights) with an error naming the row, instead of skipping them.</summary>
        public bool TreatMissingFeaturesAsError;

        /// <summary>
        /// Lloyd's algorithm (the default: exact, as many passes as iterations) or mini-batch k-means, which learns from the
        /// cursor as a stream: each <see cref="MiniBatchSize"/> rows are one step, <see cref="MaximumNumberOfEpochs"/> passes
        /// (one by default, for inputs too large or too slow to read twice), on the CPU. A mini-batch model's
        /// <see cref="GpuKMeansTrainingSummary.Inertia"/> is the online inertia: each row's distance to the centroid it
        /// was assigned to when it was read.
        /// </summary>
        public KMeansAlgorithm Algorithm = KMeansAlgorithm.Lloyd;

        /// <summary>
        /// What a NaN feature means. <see cref="FlashKMeans.MissingFeatures.Reject"/> (the default): the row is skipped and
        /// counted, or an error with <see cref="TreatMissingFeaturesAsError"/>. <see cref="FlashKMeans.MissingFeatures.Ignore"/>:
        /// the feature is missing, left out of the row's distance and of the centroids' update (on the CPU; Lloyd holds the
        /// rows in memory); rows with an infinite value or no feature at all are still skipped. Transform scores complete
        /// rows and gives the others NaN scores and a missing key.
        /// </summary>
        public MissingFeatures MissingFeatures = MissingFeatures.Reject;

        /// <summary>
        /// Learn a weight per feature for the distance (<see cref="KMeansOptions.AutomaticFeatureWeights"/>); the model
        /// exposes them as <see cref="KMeansModel.FeatureWeights"/> and cannot be saved as an ML.NET KMeans model.
        /// </summary>
        public bool AutomaticFeatureWeights;

        /// <summary>
        /// Balanced hierarchical k-means (<see cref="KMeansOptions.Hierarchical"/>) instead of plain Lloyd; <c>null</c>, the
        /// default, is off. For very large K (index training); the engine model reports its balance
        /// (<see cref="KMeansModel.Balance"/>), and the zip is an ordinary KMeans model.
        /// </summary>
        public HierarchicalOptions? Hierarchical;

        /// <summary>Rows per mini-batch step (<see cref="KMeansAlgorithm.MiniBatch"/>); not <see cref="BatchSize"/>, which is the cursor's block.</summary>
        public int MiniBatchSize = MiniBatchOptions.Defaults.BatchSize;

        /// <summary>Passes over the input of a <see cref="KMeansAlgorithm.MiniBatch"/> fit.</summary>
        public int MaximumNumberOfEpochs = 1;

        /// <summary>See <see cref="MiniBatchOptions.ForgettingFactor"/>: below 1, old rows fade, for drifting data.</summary>
        public double ForgettingFactor = MiniBatchOptions.Defaults.ForgettingFactor;

        /// <summary>See <see cref="MiniBatchOptions.ReassignmentRatio"/>: light centroids move to rows the others serve badly.</summary>
        public double ReassignmentRatio = MiniBatchOptions.Defaults.ReassignmentRatio;

        /// <summary>
        /// See <see cref="MiniBatchOptions.CentroidPrecision"/>: the precision the mini-batch centroids are kept in (Float32,
        /// Float16 or BFloat16), as a 16-bit model keeps them.
        /// </summary>
        public ComputePrecision MiniBatchCentroidPrecision = ComputePrecision.Float32;

        /// <summary>Receives a report after every iteration, in addition to the log lines.</summary>
        public IProgress<KMeansProgress>? Progress;

        internal Options Clone()
        {
            var copy = (Options)MemberwiseClone();
            // The mutable members: a copy must not share the caller's centroid array or hierarchical settings.
            copy.InitialCentroids = (float[]?)InitialCentroids?.Clone();
            copy.Hierarchical = Hierarchical?.Clone();
            return copy;
        }
    }

    /// <summary>Creates the trainer; prefer <c>mlContext.Clustering.Trainers.FlashKMeans(...)</c>.</summary>
    /// <param name="options">The settings; they are copied.</param>
    /// <param name="environment">Where log lines go (an <see cref="MLContext"/>); <c>null</c> logs nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message names it.</exception>
    public GpuKMeansTrainer(Options options, IHostEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        _options = options.Clone();
        _env = environment;
    }

    private static void Validate(Options o)
    {
        if (string.IsNullOrEmpty(o.FeatureColumnName))
            throw new ArgumentOutOfRangeException(nameof(Options.FeatureColumnName), "The feature column name must not be empty.");
        if (o.ExampleWeightColumnName is "")
            throw new ArgumentOutOfRangeException(nameof(Options.ExampleWeightColumnName), "Use null, not an empty name, for no weights.");
        if (o.NumberOfClusters < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.NumberOfClusters), o.NumberOfClusters, "Must be at least 1.");
        if (o.MaximumNumberOfIterations < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.MaximumNumberOfIterations), o.MaximumNumberOfIterations, "Must be at least 1.");
        if (!(o.OptimizationTolerance >= 0))
            throw new ArgumentOutOfRangeException(nameof(Options.OptimizationTolerance), o.OptimizationTolerance, "Must be zero or positive.");
        if (o.NumberOfThreads is < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.NumberOfThreads), o.NumberOfThreads, "Must be null or at least 1.");
        if (o.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.BatchSize), o.BatchSize, "Must be at least 1.");
        if (o.DeviceMemoryBudgetMb is < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.DeviceMemoryBudgetMb), o.DeviceMemoryBudgetMb, "Must be null or at least 1.");
        if (o.NumberOfInitializations < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.NumberOfInitializations), o.NumberOfInitializations, "Must be at least 1.");
        if (!Enum.IsDefined(o.MissingFeatures))
            throw new ArgumentOutOfRangeException(nameof(Options.MissingFeatures), o.MissingFeatures, "Unknown missing-feature policy.");
        if (!Enum.IsDefined(o.Algorithm))
            throw new ArgumentOutOfRangeException(nameof(Options.Algorithm), o.Algorithm, "Unknown algorithm.");
        MiniBatchSettings(o).Validate();
        if ((o.InitializationAlgorithm == KMeansInitialization.Explicit) != (o.InitialCentroids is { Length: > 0 }))
            throw new ArgumentException(o.InitialCentroids is { Length: > 0 }
                ? $"{nameof(Options.InitialCentroids)} is set but {nameof(Options.InitializationAlgorithm)} is {o.InitializationAlgorithm}; use {nameof(KMeansInitialization.Explicit)}."
                : $"{nameof(Options.InitializationAlgorithm)} is {nameof(KMeansInitialization.Explicit)} but {nameof(Options.InitialCentroids)} is empty.",
                nameof(Options.InitialCentroids));
    }

    /// <summary>
    /// The choice of K's sweep (<see cref="FlashKMeans.Selection.ClusterCountSweep"/>) with these settings, K set per fit:
    /// the feature column read once into memory.
    /// </summary>
    internal FlashKMeans.Selection.ClusterCountReport ChooseNumberOfClusters(IDataView input, int minimum, int maximum,
        IProgress<FlashKMeans.Selection.ClusterCountScore>? progress, CancellationToken cancellationToken)
    {
        var o = _options;
        if (o.ExampleWeightColumnName is not null)
            throw new ArgumentOutOfRangeException(nameof(Options.ExampleWeightColumnName), o.ExampleWeightColumnName,
                "The indices that choose K are unweighted; leave the weight column out.");
        var features = ClusteringColumns.FindFeatures(input.Schema, o.FeatureColumnName, null, nameof(input));
        int d = ((VectorDataViewType)features.Type).Size;
        var rows = FeatureRows.Read(input, features, cancellationToken);
        using var channel = _env?.Start("FlashKMeans");
        return FlashKMeans.Selection.ClusterCountSweep.Run(rows, d, minimum, maximum, EngineOptions(o, channel is null ? null : new ChannelLogger(channel)),
            progress: progress, cancellationToken: cancellationToken);
    }

    /// <summary>The engine's settings for a fit with <paramref name="o"/>, logging to <paramref name="logger"/>.</summary>
    internal static KMeansOptions EngineOptions(Options o, ILogger? logger) => new()
    {
        NumberOfClusters = o.NumberOfClusters,
        MaximumNumberOfIterations = o.MaximumNumberOfIterations,
        OptimizationTolerance = o.OptimizationTolerance,
        Initialization = o.InitializationAlgorithm,
        InitialCentroids = o.InitialCentroids,
        NumberOfInitializations = o.NumberOfInitializations,
        Seed = o.Seed,
        Distance = o.Distance,
        NumberOfThreads = o.NumberOfThreads,
        Device = o.Device,
        Precision = o.Precision,
        UsePruning = o.UsePruning,
        Algorithm = o.Algorithm,
        MissingFeatures = o.MissingFeatures,
        AutomaticFeatureWeights = o.AutomaticFeatureWeights,
        Hierarchical = o.Hierarchical?.Clone(),
        MiniBatch = MiniBatchSettings(o),
        Logger = logger,
    };

    private static MiniBatchOptions MiniBatchSettings(Options o) => new()
    {
        BatchSize = o.MiniBatchSize, MaximumNumberOfEpochs = o.MaximumNumberOfEpochs, ForgettingFactor = o.ForgettingFactor,
        ReassignmentRatio = o.ReassignmentRatio, CentroidPrecision = o.MiniBatchCentroidPrecision,
    };

    /// <summary>The settings in use (a copy).</summary>
    public Options GetOptions() => _options.Clone();

    /// <summary>Checks the feature (and weight) column and promises Score and PredictedLabel.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type; the message names it and its type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ClusteringColumns.CheckShape(inputSchema, _options.FeatureColumnName, _options.ExampleWeightColumnName, nameof(inputSchema));
        return ClusteringColumns.AppendTo(inputSchema);
    }

    /// <summary>Trains on <paramref name="input"/>: one cursor pass, or one per engine pass when the rows exceed the memory budget.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type, or K exceeds the usable rows.</exception>
    /// <exception cref="InvalidOperationException">The input failed while being read (the message says where), or a
    /// missing row was found with <see cref="Options.TreatMissingFeaturesAsError"/>, or a row is too long for float32 squared
    /// Euclidean distances (<see cref="FlashKMeans.Data.DataValidator.MaximumSquaredNorm"/>).</exception>
    public GpuKMeansTransformer Fit(IDataView input) => Fit(input, null, null);

    /// <summary>
    /// Continues training from <paramref name="previous"/>, ML.NET's convention for trainers that can go on from a model:
    /// Lloyd starts from its centroids; mini-batch k-means continues the stream it learned, exactly, when it was trained
    /// with <see cref="KMeansAlgorithm.MiniBatch"/> in this process (<see cref="GpuKMeansTransformer.GetMiniBatchState"/>),
    /// and otherwise starts from its centroids with no weight seen yet.
    /// </summary>
    /// <exception cref="ArgumentException">The model's K or d differs from this trainer's K and the feature column's size.</exception>
    public GpuKMeansTransformer Fit(IDataView input, GpuKMeansTransformer previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        return Fit(input, previous.EngineModel.Centroids.ToArray(), previous.GetMiniBatchState());
    }

    /// <summary>
    /// Continues training from an ML.NET KMeans model, such as one loaded from a saved zip: the fit starts from its
    /// centroids (a saved model carries no mini-batch weights, so each centroid's running mean starts afresh).
    /// </summary>
    /// <exception cref="ArgumentException">The model's K or d differs from this trainer's K and the feature column's size.</exception>
    public GpuKMeansTransformer Fit(IDataView input, KMeansModelParameters previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        VBuffer<float>[] centroids = [];
        previous.GetClusterCentroids(ref centroids, out int k);
        int d = centroids.Length > 0 ? centroids[0].Length : 0;
        var flat = new float[(long)k * d];
        for (int c = 0; c < k; c++)
            centroids[c].DenseValues().ToArray().CopyTo(flat, (long)c * d);
        return Fit(input, flat, null);
    }

    private GpuKMeansTransformer Fit(IDataView input, float[]? previousCentroids, MiniBatchKMeans? previousState)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        if (previousCentroids is not null)
        {
            o = o.Clone();
            o.InitializationAlgorithm = KMeansInitialization.Explicit;
            o.InitialCentroids = previousCentroids;
        }
        var features = ClusteringColumns.FindFeatures(input.Schema, o.FeatureColumnName, null, nameof(input));
        var weights = o.ExampleWeightColumnName is null ? (DataViewSchema.Column?)null
            : ClusteringColumns.FindWeights(input.Schema, o.ExampleWeightColumnName, nameof(input));
        int d = ((VectorDataViewType)features.Type).Size;
        if (o.InitialCentroids is { Length: > 0 } initial && initial.Length != (long)o.NumberOfClusters * d)
            throw new ArgumentException(
                $"{(previousCentroids is null ? nameof(Options.InitialCentroids) : "The previous model's centroids")} hold {initial.Length} values; " +
                $"K × d = {o.NumberOfClusters} × {d} = {(long)o.NumberOfClusters * d} for the feature column '{o.FeatureColumnName}'.", nameof(input));
        bool miniBatch = o.Algorithm == KMeansAlgorithm.MiniBatch;
        // A batch holds at most about 64 MiB of features, so wide vectors (hashed text) cannot overflow its array.
        int batchRows = (int)Math.Clamp((16L << 20) / d, 1, o.BatchSize);
        if (o.DeviceMemoryBudgetMb is int budget)
            batchRows = (int)Math.Clamp(((long)budget << 20) / (4L * (d + 1)), 1, batchRows);

        using var channel = _env?.Start("FlashKMeans");
        using var source = new CursorBatchSource(input, features, weights, batchRows, o.TreatMissingFeaturesAsError,
            // One mini-batch pass reads the cursor once: nothing to cache for.
            cacheBudgetBytes: o.DeviceMemoryBudgetMb is int mb && !(miniBatch && o.MaximumNumberOfEpochs == 1) ? (long)mb << 20 : 0,
            maximumSquaredNorm: o.Distance == KMeansDistance.SquaredEuclidean ? FlashKMeans.Data.DataValidator.MaximumSquaredNorm : float.PositiveInfinity,
            keepMissing: o.MissingFeatures == MissingFeatures.Ignore);
        var engineOptions = EngineOptions(o, channel is null ? null : new ChannelLogger(channel));
        channel?.Info(MessageSensitivity.None,
            $"FlashKMeans: K={o.NumberOfClusters}, d={d}, feature column '{o.FeatureColumnName}'" +
            (weights is null ? "" : $", weight column '{o.ExampleWeightColumnName}'") + $", device {o.Device}, batches of {batchRows} rows.");

        var clock = Stopwatch.StartNew();
        KMeansModel model;
        MiniBatchKMeans? stream = null;
        try
        {
            if (miniBatch)
            {
                stream = previousState is null ? new MiniBatchKMeans(engineOptions, d) : previousState.Clone(engineOptions.Logger);
                if (stream.NumberOfClusters != o.NumberOfClusters || stream.Dimension != d)
                    throw new ArgumentException($"The previous model has K = {stream.NumberOfClusters} and d = {stream.Dimension}; this trainer has K = {o.NumberOfClusters} " +
                        $"and the feature column '{o.FeatureColumnName}' d = {d}.", nameof(input));
                var reporter = new IterationReporter(channel, o.Progress);
                for (int epoch = 0; epoch < o.MaximumNumberOfEpochs; epoch++)
                    stream.PartialFit(source, reporter);
                model = stream.Snapshot();
            }
            else
            {
                model = new KMeans(engineOptions).Fit(source, new IterationReporter(channel, o.Progress));
            }
        }
        catch (InvalidOperationException) when (stream is not null && !stream.IsSeeded && source.SkippedRows > 0 && source.RowCount < o.NumberOfClusters)
        {
            throw new InvalidOperationException(
                $"Only {source.RowCount} usable rows for K = {o.NumberOfClusters}: {source.SkippedRows} rows were skipped because their feature column '{o.FeatureColumnName}' holds NaN or infinite values" +
                (weights is null ? "" : $" or their weight column '{o.ExampleWeightColumnName}' a negative or non-finite weight") + ".");
        }
        catch (ArgumentException) when (source.RowCount == 0 && source.SkippedRows > 0)
        {
            // The engine only saw an empty source; say why it was empty.
            throw new InvalidOperationException(
                $"All {source.SkippedRows} rows of the input were skipped: their feature column '{o.FeatureColumnName}' holds NaN or infinite values" +
                (weights is null ? "" : $" or their weight column '{o.ExampleWeightColumnName}' a negative or non-finite weight") + ".");
        }
        catch (ArgumentException e) when (e.ParamName == "source")
        {
            // The engine names its own argument; the user passed an IDataView with these columns.
            string missing = source.SkippedRows is > 0 and var count
                ? $" {count} further rows were skipped as missing: their feature column holds NaN or infinite values" +
                  (weights is null ? "." : " or their weight column a negative or non-finite weight.")
                : "";
            string message = $"{KMeans.Reason(e).TrimEnd('.')} (feature column '{o.FeatureColumnName}'" +
                $"{(weights is null ? "" : $", weight column '{o.ExampleWeightColumnName}'")}).{missing}";
            // The same type as the engine's, so that callers catching it keep working.
            if (e is ArgumentOutOfRangeException)
                throw new ArgumentOutOfRangeException(nameof(input), message);
            throw new ArgumentException(message, nameof(input), e);
        }
        finally
        {
            // Frees the GPU the stream held between passes, whatever happened; the transformer keeps the state (on the
            // host) to continue from.
            stream?.Dispose();
        }
        clock.Stop();

        long skipped = source.SkippedRows ?? 0;
        long used = source.RowCount ?? 0;
        if (skipped > 0)
            channel?.Warning(MessageSensitivity.None,
                $"FlashKMeans: {skipped} of {used + skipped} rows had NaN or infinite features (or a bad weight) and were skipped.");
        var summary = new GpuKMeansTrainingSummary(used, skipped, model.Inertia, model.Iterations, model.Converged,
            model.TrainedOn, source.Passes, clock.Elapsed);
        if (source.Cached)
            channel?.Info(MessageSensitivity.None, "FlashKMeans: the rows fit DeviceMemoryBudgetMb; only the first pass read the cursor.");
        channel?.Info(MessageSensitivity.None,
            $"FlashKMeans: trained on {used} rows in {clock.Elapsed.TotalSeconds:F2} s with {summary.Backend}: " +
            $"{summary.Iterations} iterations, inertia {summary.Inertia:G9}, {summary.CursorPasses} cursor pass{(summary.CursorPasses == 1 ? "" : "es")}.");
        return new GpuKMeansTransformer(model, o.FeatureColumnName, features.Type, batchRows,
            new ScoringDevice(o.Device, o.Precision, o.NumberOfThreads), summary, stream);
    }

    /// <summary>Sends each iteration's inertia to the ML.NET channel and to the user's progress, synchronously.</summary>
    private sealed class IterationReporter(IChannel? channel, IProgress<KMeansProgress>? user) : IProgress<KMeansProgress>
    {
        public void Report(KMeansProgress value)
        {
            if (value.Phase == KMeansPhase.MiniBatch)
            {
                // One line per 100 steps: a stream has many.
                if (value.Iteration % 100 == 0)
                    channel?.Info(MessageSensitivity.None, $"FlashKMeans: mini-batch step {value.Iteration}.");
                user?.Report(value);
                return;
            }
            if (value.Phase == KMeansPhase.Validation)
            {
                channel?.Info(MessageSensitivity.None, $"FlashKMeans: validation pass, {value.RowsRead} rows read.");
                user?.Report(value);
                return;
            }
            if (value.Phase == KMeansPhase.Seeding)
            {
                channel?.Info(MessageSensitivity.None, $"FlashKMeans: initialisation {value.Initialization}, seeding {value.Fraction * 100:F0}% done.");
                user?.Report(value);
                return;
            }
            channel?.Info(MessageSensitivity.None,
                $"FlashKMeans: initialisation {value.Initialization}, iteration {value.Iteration}: inertia {value.Inertia:G9}, relative change {value.RelativeChange:G3}.");
            user?.Report(value);
        }
    }

    /// <summary>Carries the engine's log lines (backend choice, diagnostics) into ML.NET's channel.</summary>
    private sealed class ChannelLogger(IChannel channel) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string message = formatter(state, exception);
            if (string.IsNullOrEmpty(message))
                return;
            switch (logLevel)
            {
                case LogLevel.Trace or LogLevel.Debug:
                    channel.Trace(MessageSensitivity.None, message);
                    break;
                case LogLevel.Information:
                    channel.Info(MessageSensitivity.None, message);
                    break;
                case LogLevel.Warning:
                    channel.Warning(MessageSensitivity.None, message);
                    break;
                default:
                    channel.Error(MessageSensitivity.None, message);
                    break;
            }
        }
    }
}

/// <summary>What a <see cref="GpuKMeansTrainer"/> fit saw and did.</summary>
/// <param name="RowsUsed">Rows the model was trained on.</param>
/// <param name="RowsSkipped">Rows skipped for NaN or infinite features or a bad weight.</param>
/// <param name="Inertia">Weighted sum of squared distances of the rows to their centroids.</param>
/// <param name="Iterations">Lloyd iterations of the kept initialisation.</param>
/// <param name="Converged">Whether the tolerance was met before the iteration limit.</param>
/// <param name="Backend">The engine backend that ran (CPU or a named GPU).</param>
/// <param name="CursorPasses">Cursor passes made over the input.</param>
/// <param name="Elapsed">Wall time of the fit.</param>
public sealed record GpuKMeansTrainingSummary(long RowsUsed, long RowsSkipped, double Inertia, int Iterations, bool Converged,
    string Backend, int CursorPasses, TimeSpan Elapsed);
