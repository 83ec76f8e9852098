using System.Diagnostics;
using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Clustering;

/// <summary>
/// Exact Lloyd k-means. Configure with <see cref="KMeansOptions"/>, call a <c>Fit</c> overload, get a
/// <see cref="KMeansModel"/>. Usable without ML.NET.
/// </summary>
/// <example>
/// <code>
/// var model = new KMeans(new KMeansOptions { NumberOfClusters = 8 }).Fit(data, dimension: 16);
/// int[] labels = model.Predict(data, 16);
/// </code>
/// </example>
public sealed partial class KMeans
{
    private readonly KMeansOptions _options;

    /// <summary>Creates a k-means estimator; the options are copied and validated.</summary>
    public KMeans(KMeansOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.MissingFeatures == MissingFeatures.Ignore
            && (options.Algorithm != KMeansAlgorithm.Lloyd || options.Distance != KMeansDistance.SquaredEuclidean || options.AutomaticFeatureWeights
                || options.Device == ComputeDevice.Cuda || options.MaximumPointsPerCentroid is not null))
            throw new NotSupportedException($"{nameof(KMeansOptions.MissingFeatures)} = {nameof(MissingFeatures.Ignore)} is supported by squared-Euclidean Lloyd fits " +
                $"on the CPU and by {nameof(MiniBatchKMeans)} (stream learning) so far.");
        if (options.AutomaticFeatureWeights && options.Distance != KMeansDistance.SquaredEuclidean)
            throw new NotSupportedException($"{nameof(KMeansOptions.AutomaticFeatureWeights)} needs squared Euclidean distance.");
        if (options.Hierarchical is not null && (options.Algorithm != KMeansAlgorithm.Lloyd || options.Distance != KMeansDistance.SquaredEuclidean
            || options.AutomaticFeatureWeights || options.MissingFeatures == MissingFeatures.Ignore || options.Initialization == KMeansInitialization.Explicit))
            throw new NotSupportedException($"{nameof(KMeansOptions.Hierarchical)} fits are squared-Euclidean Lloyd fits that seed themselves: " +
                $"without {nameof(KMeansOptions.AutomaticFeatureWeights)}, missing features or explicit initial centroids.");
        _options = options.Clone();
        // The caller keeps its array: changing it later must not change what this estimator fits from.
        _options.InitialCentroids = options.InitialCentroids.ToArray();
    }

    /// <summary>A copy of the settings in use.</summary>
    public KMeansOptions Options => _options.Clone();

    /// <summary>
    /// Fits row-major N × d data held in an array; nothing is copied. (An array converts to both a span and a
    /// memory, so without this overload a call with an array would be ambiguous.)
    /// </summary>
    /// <param name="data">N × <paramref name="dimension"/> values.</param>
    /// <param name="dimension">d.</param>
    /// <param name="weights">N non-negative weights, or null for unit weights.</param>
    /// <param name="progress">Receives seeding reports and a report after every iteration.</param>
    /// <param name="cancellationToken">Stops the fit between chunks of work.</param>
    public KMeansModel Fit(float[] data, int dimension, float[]? weights = null,
        IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Fit(data.AsMemory(), dimension, weights.AsMemory(), progress, cancellationToken);
    }

    /// <summary>Fits row-major N × d data held in a span; nothing is copied.</summary>
    /// <param name="data">N × <paramref name="dimension"/> values.</param>
    /// <param name="dimension">d.</param>
    /// <param name="weights">N non-negative weights, or empty for unit weights.</param>
    /// <param name="progress">Receives a report after every iteration.</param>
    /// <param name="cancellationToken">Stops the fit between chunks of work.</param>
    public unsafe KMeansModel Fit(ReadOnlySpan<float> data, int dimension, ReadOnlySpan<float> weights = default,
        IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        fixed (float* rows = data)
        fixed (float* w = weights)
        {
            // The span stays pinned for this synchronous call, so it can be served as Memory without a copy.
            using var rowMemory = new UnmanagedMemory<float>(rows, data.Length);
            using var weightMemory = new UnmanagedMemory<float>(w, weights.Length);
            return Fit(rowMemory.Memory, dimension, weightMemory.Memory, progress, cancellationToken);
        }
    }

    /// <summary>Fits row-major N × d data; nothing is copied.</summary>
    public KMeansModel Fit(ReadOnlyMemory<float> data, int dimension, ReadOnlyMemory<float> weights = default,
        IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (data.IsEmpty)
            throw new ArgumentException("The data is empty: it has no rows.", nameof(data));
        return Fit(new InMemoryBatchSource(data, dimension, weights), progress, cancellationToken);
    }

    /// <summary>Fits the rows of a two-dimensional array (N × d).</summary>
    public unsafe KMeansModel Fit(float[,] data, float[]? weights = null,
        IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length == 0)
            throw new ArgumentException("The data is empty: it has no rows.", nameof(data));
        fixed (float* rows = data)
            return Fit(new ReadOnlySpan<float>(rows, data.Length), data.GetLength(1), weights, progress, cancellationToken);
    }

    /// <summary>
    /// Fits a multi-pass batch source: data streamed from files, ML.NET cursors or anything else that can be
    /// read from the start more than once.
    /// </summary>
    public KMeansModel Fit(IBatchSource source, IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var clock = Stopwatch.StartNew();
        var problem = Prepare(source, _options.Seed, cancellationToken, progress, clock);
        return FitProblems([problem], clock, progress, cancellationToken)[0];
    }

    /// <summary>
    /// Fits <paramref name="batchCount"/> independent k-means problems of the same shape in one go, as flash-kmeans
    /// does for attention routing: the data is laid out (B, N, d), row-major, problem after problem, and every
    /// problem has N = <c>data.Length</c> / (B·d) rows. All problems use these options and K; problem b draws its
    /// random choices from <see cref="ProblemSeed"/>(<see cref="KMeansOptions.Seed"/>, b), so its model is exactly
    /// what <see cref="Fit(ReadOnlyMemory{float}, int, ReadOnlyMemory{float}, IProgress{KMeansProgress}?, CancellationToken)"/>
    /// gives for its rows with that seed (bit for bit on the CPU, and on the GPU with
    /// <see cref="KMeansOptions.DeterministicUpdate"/>; see the remarks). A batch of one is <c>Fit</c>.
    /// </summary>
    /// <remarks>
    /// The problems run Lloyd's algorithm in lockstep: each iteration steps all problems still running at once
    /// (on the GPU, one launch sequence for the whole batch), then repairs empty clusters, records statistics and
    /// tests convergence problem by problem. A problem that converges keeps its centroids from that iteration
    /// while the others go on. With <see cref="KMeansOptions.DeterministicUpdate"/> on the GPU the batch sums
    /// centroids in one fixed-point scale, the finest that suits every problem; a problem's centroids differ from
    /// its own fit's only where a feature value (times its weight) is not a multiple of its own fit's fixed-point
    /// step, which for float32 data needs values below about 2^-16 (a fixed-point step is typically 2^-40 or finer).
    /// Nothing is copied: the problems are read in place.
    /// </remarks>
    /// <param name="data">B × N × d values, problem after problem, each problem row-major.</param>
    /// <param name="batchCount">B, the number of problems; at least 1.</param>
    /// <param name="dimension">d.</param>
    /// <param name="weights">B × N non-negative row weights in the same order, or empty for unit weights.</param>
    /// <param name="progress">Receives a report per problem after every iteration it runs (see <see cref="KMeansProgress.Problem"/>).</param>
    /// <param name="cancellationToken">Stops the fit between chunks of work.</param>
    /// <returns>One model per problem, in batch order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchCount"/> or <paramref name="dimension"/> is below 1,
    /// or K exceeds the rows of a problem.</exception>
    /// <exception cref="ArgumentException">The data is empty or not B whole problems of d-value rows, the weights do not
    /// match the rows, or a problem holds a bad value (the message names the problem and its row).</exception>
    public KMeansModel[] FitBatched(ReadOnlyMemory<float> data, int batchCount, int dimension, ReadOnlyMemory<float> weights = default,
        IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (data.IsEmpty)
            throw new ArgumentException("The data is empty: it has no rows.", nameof(data));
        long perRow = (long)batchCount * dimension;
        if (data.Length % perRow != 0)
            throw new ArgumentException(
                $"The data holds {data.Length} values, which is not {batchCount} problems of rows of {dimension} values: its length must be a multiple of B × d = {perRow}.",
                nameof(data));
        int n = (int)(data.Length / perRow);
        if (!weights.IsEmpty && weights.Length != (long)batchCount * n)
            throw new ArgumentException($"There are {batchCount} problems of {n} rows but {weights.Length} weights; give one per row ({(long)batchCount * n}) or none.",
                nameof(weights));
        int k = _options.NumberOfClusters;
        if (k > n)
            throw new ArgumentOutOfRangeException(nameof(data), $"{nameof(KMeansOptions.NumberOfClusters)} is {k} but each problem has only {n} rows; K must not exceed the number of rows.");

        var clock = Stopwatch.StartNew();
        var problems = new Problem[batchCount];
        int values = n * dimension;
        for (int b = 0; b < batchCount; b++)
        {
            var source = new InMemoryBatchSource(data.Slice(b * values, values), dimension, weights.IsEmpty ? default : weights.Slice(b * n, n));
            try
            {
                problems[b] = Prepare(source, ProblemSeed(_options.Seed, b), cancellationToken);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Problem {b} of the batch (rows {(long)b * n} to {(long)(b + 1) * n - 1} of the data): {Reason(e)}", nameof(data), e);
            }
        }
        return FitProblems(problems, clock, progress, cancellationToken);
    }

    /// <summary>
    /// The seed of problem <paramref name="problem"/> of a <see cref="FitBatched"/> run with <paramref name="seed"/>:
    /// <paramref name="seed"/> itself for problem 0 (so that a batch of one is a plain fit), and for the others a
    /// value derived from both by counter-based hashing. Fitting a problem's rows alone with this seed gives its
    /// model from the batch.
    /// </summary>
    public static int ProblemSeed(int seed, int problem)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(problem);
        return problem == 0 ? seed : unchecked((int)CounterRandom.Derive((ulong)seed, 0xBA7C4000UL + (ulong)problem));
    }

    /// <summary>
    /// One problem ready to bind: validated, on the unit sphere for cosine, centred where it lies far from the
    /// origin (<see cref="Shift"/>, null where it is not), sub-sampled if asked.
    /// </summary>
    private sealed record Problem(IBatchSource Source, IBatchSource Training, DataSummary Summary, int Seed, float[]? Shift);

    private Problem Prepare(IBatchSource source, int problemSeed, CancellationToken cancellationToken, IProgress<KMeansProgress>? progress = null,
        Stopwatch? clock = null)
    {
        var options = _options;
        if (options.MissingFeatures == MissingFeatures.Ignore)
        {
            // The binding reads the rows into memory in one more pass and never again: nothing can change between later
            // passes, and the data is fitted where it lies (centring needs a mean over the features present).
            var withMissing = DataValidator.ScanWithMissing(source, cancellationToken);
            if (options.NumberOfClusters > withMissing.RowCount)
                throw new ArgumentOutOfRangeException(nameof(source), $"{nameof(KMeansOptions.NumberOfClusters)} is {options.NumberOfClusters} but the data has only {withMissing.RowCount} rows; K must not exceed the number of rows.");
            return new Problem(source, source, withMissing, problemSeed, null);
        }
        var summary = progress is null
            ? DataValidator.Scan(source, options.Distance, cancellationToken)
            : DataValidator.Scan(source, options.Distance, progress, clock ?? Stopwatch.StartNew(), cancellationToken);
        if (PassCheckedBatchSource.Needed(source))
            source = new PassCheckedBatchSource(source, summary.RowCount);
        int k = options.NumberOfClusters;
        if (k > summary.RowCount)
            throw new ArgumentOutOfRangeException(nameof(source), $"{nameof(KMeansOptions.NumberOfClusters)} is {k} but the data has only {summary.RowCount} rows; K must not exceed the number of rows.");

        bool cosine = options.Distance == KMeansDistance.Cosine;
        // L1 distances are taken from the differences, exact anywhere: only squared-Euclidean fits need centring.
        float[]? shift = options.Distance == KMeansDistance.SquaredEuclidean ? CentringShift(summary) : null;
        IBatchSource training = cosine ? new UnitLengthBatchSource(source) : source;
        if (shift is not null)
        {
            training = new ShiftedBatchSource(source, shift);
            summary = summary with { MaximumAbsoluteValue = summary.ShiftedMaximumAbsoluteValue(shift) };
            options.Logger?.LogInformation(
                "FlashKMeans: the data lies {Distance:G3} from the origin with spread {Spread:G3}; fitting it centred on its mean.",
                Math.Sqrt(shift.Sum(v => (double)v * v)), Math.Sqrt(summary.MeanSquaredDeviation));
        }
        if (options.MaximumPointsPerCentroid is int perCentroid && summary.RowCount > (long)perCentroid * k
            && SampleRows(source, summary, k, (int)Math.Min((long)perCentroid * k, Array.MaxLength),
                CounterRandom.Derive((ulong)problemSeed, 0x5A3B1E), cancellationToken) is { } rows)
        {
            options.Logger?.LogInformation("FlashKMeans: training on {Sample} of {Rows} rows ({PerCentroid} per centroid).", rows.Length, summary.RowCount, perCentroid);
            training = new SubsampledBatchSource(training, rows);
            summary = DataValidator.Scan(training, cancellationToken);
        }
        return new Problem(source, training, summary, problemSeed, shift);
    }

    /// <summary>
    /// The shift a squared-Euclidean fit subtracts from every row, the weighted mean, or null to fit the rows as they
    /// are (see <see cref="ShiftedBatchSource.Worthwhile"/>).
    /// </summary>
    private static float[]? CentringShift(DataSummary summary)
    {
        if (summary.Mean is not { } mean || !(summary.MeanSquaredDeviation >= 0))
            return null;
        double squaredOffset = mean.Sum(v => v * v);
        if (!ShiftedBatchSource.Worthwhile(squaredOffset, summary.MeanSquaredDeviation))
            return null;
        return mean.Select(v => (float)v).ToArray();
    }

    /// <summary>
    /// The fit itself, for one problem or a batch: one backend, the problems bound together, then each
    /// initialisation seeds every problem and runs them through the one Lloyd loop; each problem keeps its
    /// lowest-inertia run.
    /// </summary>
    /// <param name="problems">The prepared problems, all with these options' K.</param>
    /// <param name="clock">Started when the fit was called: the progress reports' elapsed time.</param>
    /// <param name="progress">Receives the seeding and iteration reports.</param>
    /// <param name="cancellationToken">Stops the fit between chunks of work.</param>
    /// <param name="shared">A backend made for these options (K aside) that several fits share, kept open; null to make and
    /// dispose one for this fit.</param>
    /// <param name="bound">The one problem's rows already bound on <paramref name="shared"/> for this K, kept open; null to
    /// bind them here.</param>
    private KMeansModel[] FitProblems(Problem[] problems, Stopwatch clock, IProgress<KMeansProgress>? progress, CancellationToken cancellationToken,
        IKMeansBackend? shared = null, IKMeansDataBinding? bound = null)
    {
        var options = _options;
        int k = options.NumberOfClusters;
        if (options.Algorithm == KMeansAlgorithm.MiniBatch)
        {
            return problems.Select(p => MiniBatchFit.Run(p.Training, p.Summary, p.Shift, p.Seed, options, clock, progress, cancellationToken)).ToArray();
        }
        if (options.AutomaticFeatureWeights)
            return problems.Select(p => FitWithFeatureWeights(p, clock, progress, cancellationToken)).ToArray();
        if (options.Hierarchical is not null)
            return problems.Select(p => FitHierarchical(p, clock, progress, cancellationToken)).ToArray();
        using var owned = shared is null ? BackendSelector.Create(options) : null;
        var backend = shared ?? owned!;
        using var ownBatch = bound is null ? Bind(backend, problems, k, cancellationToken) : null;
        var batch = ownBatch ?? new SequentialBatchStepper([bound!]);  // not disposed: the caller keeps the binding
        var best = new LloydRun?[problems.Length];
        // Explicit centroids start every initialisation at the same place, so further runs repeat the first.
        int initializations = options.Initialization == KMeansInitialization.Explicit ? 1 : options.NumberOfInitializations;
        if (initializations < options.NumberOfInitializations)
            options.Logger?.LogInformation("FlashKMeans: {Requested} initialisations requested, but explicit initial centroids give the same start every time; running one.",
                options.NumberOfInitializations);
        for (int init = 0; init < initializations; init++)
        {
            var initial = new float[problems.Length][];
            for (int p = 0; p < problems.Length; p++)
            {
                ulong seed = CounterRandom.Derive((ulong)problems[p].Seed, (ulong)init);
                initial[p] = CentroidInitializer.Run(batch.Problems[p], options, seed, cancellationToken,
                    new SeedingProgress(progress, init, p, clock));
                if (options.Initialization == KMeansInitialization.Explicit && problems[p].Shift is { } shift)
                {
                    // Given centroids are in the data's coordinates; the fit runs in the centred ones.
                    initial[p] = initial[p].ToArray();
                    ShiftedBatchSource.Subtract(initial[p], shift);
                }
            }
            var runs = LloydDriver.Run(batch, initial, options, init, clock, progress, cancellationToken);
            for (int p = 0; p < problems.Length; p++)
            {
                var run = runs[p];
                if (problems.Length == 1)
                    options.Logger?.LogInformation("FlashKMeans: initialisation {Init}: inertia {Inertia:G9} after {Iterations} iterations ({State}).",
                        init, run.FinalInertia, run.Iterations, run.Converged ? "converged" : "iteration limit");
                else
                    options.Logger?.LogInformation("FlashKMeans: problem {Problem} initialisation {Init}: inertia {Inertia:G9} after {Iterations} iterations ({State}).",
                        p, init, run.FinalInertia, run.Iterations, run.Converged ? "converged" : "iteration limit");
                if (best[p] is null || run.FinalInertia < best[p]!.FinalInertia)
                    best[p] = run;
            }
        }
        var models = new KMeansModel[problems.Length];
        for (int p = 0; p < problems.Length; p++)
        {
            var run = best[p]!;
            var centroids = run.Centroids;
            if (problems[p].Shift is { } shift)
            {
                // Back to the data's coordinates.
                centroids = centroids.ToArray();
                for (int c = 0; c < k; c++)
                {
                    var centroid = centroids.AsSpan(c * shift.Length, shift.Length);
                    System.Numerics.Tensors.TensorPrimitives.Add(centroid, shift, centroid);
                }
            }
            if (!DataValidator.AllFinite(centroids))
                throw new InvalidDataException(
                    $"The fit{(problems.Length > 1 ? $" of problem {p}" : "")} ended with non-finite centroids; no model is returned. The data or its weights overflowed float arithmetic.");
            models[p] = new KMeansModel(centroids, problems[p].Source.Dimension, options.Distance, run.FinalInertia, run.Iterations,
                run.Converged, run.EmptyClustersReseeded, run.InertiaHistory, run.Statistics, backend.Name);
        }
        for (int p = 0; p < problems.Length; p++)
        {
            if (models[p].DistinctCentroids < k)
                options.Logger?.LogWarning(
                    "FlashKMeans: {Problem}K is {K} but only {Distinct} centroids are distinct: the data has fewer distinct rows than K, so some clusters coincide.",
                    problems.Length > 1 ? $"problem {p}: " : "", k, models[p].DistinctCentroids);
        }
        return models;
    }

    /// <summary>
    /// One problem by balanced hierarchical k-means (<see cref="HierarchicalFit"/>): every level is a plain fit through
    /// this same loop on the options' backend, in the fit's (centred) coordinates.
    /// </summary>
    private KMeansModel FitHierarchical(Problem problem, Stopwatch clock, IProgress<KMeansProgress>? progress, CancellationToken cancellationToken)
    {
        // The fits of each worker share one backend (on the GPU: one session, its streams and scratch). On the CPU the
        // small fine fits run several at a time, one thread each (a fit's bits do not depend on its thread count), each
        // worker on a backend of its own. Elsewhere they run one after another on the one backend: four GPU sessions at once
        // made them slower on an H100 (12.2 s against 9.9 s for 128 fine fits), since device allocations and frees
        // synchronise the whole device.
        var backends = new IKMeansBackend?[1];
        IKMeansDataBinding? bound = null;
        try
        {
            backends[0] = BackendSelector.Create(_options);
            bool cpu = backends[0] is Cpu.CpuBackend;
            // The training rows bound once where the backend lends them (on the GPU: resident): every fit over all rows
            // and every measurement of the balancing reads them there instead of binding or streaming them again.
            // Bound for two clusters: its own per-cluster state is never used, only the rows it lends. Only squared Euclidean
            // bindings of complete rows can lend them (L1 and missing features keep copies of their own).
            if (_options.Distance == KMeansDistance.SquaredEuclidean && _options.MissingFeatures != MissingFeatures.Ignore)
                bound = backends[0]!.Bind(problem.Training, problem.Summary, Math.Min(2, _options.NumberOfClusters), cancellationToken);
            var reusable = bound as IReusableRowsBinding;
            if (reusable is null)
            {
                bound?.Dispose();
                bound = null;
            }
            int workers = cpu ? _options.NumberOfThreads ?? Environment.ProcessorCount : 1;
            // On the CPU slot 0 runs the levels over all rows and slots 1 … workers the fine fits.
            if (cpu)
                Array.Resize(ref backends, 1 + Math.Max(1, workers));
            KMeansModel Plain(int worker, IBatchSource rows, DataSummary summary, KMeansOptions options)
            {
                int slot = cpu ? worker : 0;
                if (slot > 0)
                    options.NumberOfThreads = 1;
                var backend = backends[slot] ??= BackendSelector.Create(options);
                using var again = slot == 0 && ReferenceEquals(rows, problem.Training) ? reusable?.ForClusterCount(options.NumberOfClusters) : null;
                return new KMeans(options).FitProblems([new Problem(rows, rows, summary, options.Seed, null)], clock, worker == 0 ? progress : null,
                    cancellationToken, backend, again)[0];
            }
            var model = HierarchicalFit.Run(problem.Training, problem.Summary, _options, problem.Seed, Plain, Math.Max(1, workers), reusable,
                cancellationToken);
            if (problem.Shift is not { } shift)
                return model;
            var centroids = model.Centroids.ToArray();
            for (int c = 0; c < model.NumberOfClusters; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(centroids.AsSpan(c * shift.Length, shift.Length), shift, centroids.AsSpan(c * shift.Length, shift.Length));
            return new KMeansModel(centroids, model.Dimension, model.Distance, model.Inertia, model.Iterations, model.Converged, model.EmptyClustersReseeded,
                model.InertiaHistory, model.Statistics, model.TrainedOn) { Balance = model.Balance };
        }
        finally
        {
            bound?.Dispose();
            foreach (var backend in backends)
                backend?.Dispose();
        }
    }

    /// <summary>
    /// One problem with learned feature weights (<see cref="FeatureWeightedLloyd"/>): each round is a plain fit of the
    /// centred rows, scaled by √w, through this same loop on the options' backend.
    /// </summary>
    private KMeansModel FitWithFeatureWeights(Problem problem, Stopwatch clock, IProgress<KMeansProgress>? progress, CancellationToken cancellationToken)
    {
        var plain = _options.Clone();
        plain.AutomaticFeatureWeights = false;
        KMeansModel Round(IBatchSource rows, float[]? start)
        {
            var round = plain.Clone();
            if (start is not null)
            {
                round.Initialization = KMeansInitialization.Explicit;
                round.InitialCentroids = start;
            }
            // Scaled rows (factors ≤ 1) stay within the summary's range, an upper bound for the backend's checks.
            return new KMeans(round).FitProblems([new Problem(rows, rows, problem.Summary, problem.Seed, null)], clock, progress, cancellationToken)[0];
        }
        var (centroids, weights, inertia, last) = FeatureWeightedLloyd.Run(problem.Training, Round, _options.EffectiveThreads, _options.Logger, cancellationToken);
        if (problem.Shift is { } shift)
        {
            for (int c = 0; c < _options.NumberOfClusters; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(centroids.AsSpan(c * shift.Length, shift.Length), shift, centroids.AsSpan(c * shift.Length, shift.Length));
        }
        return new KMeansModel(centroids, problem.Source.Dimension, _options.Distance, inertia, last.Iterations, last.Converged, last.EmptyClustersReseeded,
            last.InertiaHistory, last.Statistics, last.TrainedOn, weights);
    }

    /// <summary>
    /// Binds the problems: as one batch where the backend steps a batch at once (and can hold this one),
    /// otherwise each on its own, stepped one after another.
    /// </summary>
    private static IKMeansBatchStepper Bind(IKMeansBackend backend, Problem[] problems, int k, CancellationToken cancellationToken)
    {
        if (problems.Length > 1 && backend is IKMeansBatchBackend batched
            && batched.TryBindBatch(problems.Select(p => p.Training).ToArray(), problems.Select(p => p.Summary).ToArray(), k, cancellationToken) is { } together)
            return together;
        var bindings = new List<IKMeansDataBinding>(problems.Length);
        try
        {
            foreach (var problem in problems)
                bindings.Add(backend.Bind(problem.Training, problem.Summary, k, cancellationToken));
            return new SequentialBatchStepper(bindings);
        }
        catch
        {
            for (int i = bindings.Count - 1; i >= 0; i--)
                bindings[i].Dispose();
            throw;
        }
    }

    /// <summary>
    /// An argument exception's message without the " (Parameter '…')" the runtime appends, for a caller that names
    /// its own argument instead (a batch's problem, the ML.NET trainer's input).
    /// </summary>
    internal static string Reason(ArgumentException e)
    {
        string message = e.Message;
        string suffix = $" (Parameter '{e.ParamName}')";
        return e.ParamName is not null && message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }

    /// <summary>
    /// The ascending rows of the <see cref="KMeansOptions.MaximumPointsPerCentroid"/> sample, or <c>null</c> to train on
    /// every row. Weighted data is sampled among its rows of positive weight: zero-weight rows add nothing to the
    /// objective, and a sample of mostly such rows wastes the budget or, made of them only, leaves nothing to fit.
    /// </summary>
    internal static long[]? SampleRows(IBatchSource source, DataSummary summary, int k, int count, ulong seed, CancellationToken cancellationToken)
    {
        if (!source.HasWeights)
            return RandomRowSeeding.SampleDistinctRows(summary.RowCount, count, seed);
        long positive = 0;
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                foreach (float w in batch.Weights.Span)
                    positive += w > 0 ? 1 : 0;
            }
        }
        if (positive < k)
            return null; // fewer weighted rows than clusters: the full data keeps K ≤ rows
        // Ordinals among the positive rows (all of them when they fit the budget), mapped to rows in one pass.
        var ordinals = positive <= count ? null : RandomRowSeeding.SampleDistinctRows(positive, count, seed);
        var rows = new long[ordinals?.Length ?? positive];
        long ordinal = 0;
        int next = 0;
        using (var reader = source.OpenReader())
        {
            while (next < rows.Length && reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var weights = batch.Weights.Span;
                for (int i = 0; i < weights.Length && next < rows.Length; i++)
                {
                    if (!(weights[i] > 0))
                        continue;
                    if (ordinals is null || ordinals[next] == ordinal)
                        rows[next++] = batch.FirstRow + i;
                    ordinal++;
                }
            }
        }
        return rows;
    }
}
