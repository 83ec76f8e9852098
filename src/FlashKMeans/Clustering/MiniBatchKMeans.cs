using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Clustering;

/// <summary>
/// k-means that learns from batches as they arrive (a stream, a database read page by page, data too large to read
/// twice) and can hand out a model at any moment: scikit-learn's <c>MiniBatchKMeans.partial_fit</c>, with a forgetting
/// factor for drifting streams and a state that survives a restart bit for bit.
/// </summary>
/// <remarks>
/// <para>Each <see cref="PartialFit(ReadOnlySpan{float}, ReadOnlySpan{float}, CancellationToken)"/> call is one step: its rows
/// go to their nearest centroids, and each centroid moves to the running mean of every row it has won, η = batch weight /
/// seen weight (see <see cref="MiniBatchOptions.ForgettingFactor"/> to let old rows fade). Centroids that win too little
/// move to new rows (<see cref="MiniBatchOptions.ReassignmentRatio"/>).</para>
/// <para>The first rows are buffered until <see cref="MiniBatchOptions.InitializationSize"/> have arrived; the seeding
/// (<see cref="KMeansOptions.Initialization"/>) runs on them, then they are stepped on as they came. Squared-Euclidean data
/// far from the origin is fitted centred on the buffer's mean, as a Lloyd fit centres on the data's.</para>
/// <para>Runs on the CPU; the same seed and batches give the same bits at any thread count. With
/// <see cref="ComputeDevice.Cuda"/> each step's rows are assigned by the GPU's FlashAssign kernels (in the options'
/// precision) and the update stays on the CPU. Not thread-safe: feed one batch at a time.</para>
/// </remarks>
public sealed class MiniBatchKMeans : IDisposable
{
    private readonly KMeansOptions _options;
    private readonly List<(float[] Rows, float[]? Weights)> _buffer = [];
    private long _bufferedRows;
    private MiniBatchState? _state;
    private float[]? _shift;
    private int[] _labels = [];
    private float[] _distances = [];

    /// <summary>A model with no rows seen yet.</summary>
    /// <param name="options">K, the distance, the seeding and its seed, threads, a logger, and <see cref="KMeansOptions.MiniBatch"/>.</param>
    /// <param name="dimension">d, features per row.</param>
    /// <exception cref="NotSupportedException"><see cref="KMeansOptions.Device"/> asks for the GPU.</exception>
    public MiniBatchKMeans(KMeansOptions options, int dimension)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        options.Validate();
        if (options.Device == ComputeDevice.Cuda)
        {
            if (options.MissingFeatures == MissingFeatures.Ignore)
                throw new NotSupportedException("Streams with missing features run on the CPU only; use Device = Cpu or Auto.");
            if (!Engine.BackendSelector.CudaPresent(out string reason))
                throw new NotSupportedException($"{nameof(ComputeDevice)}.{nameof(ComputeDevice.Cuda)} was asked for but no CUDA GPU is usable: {reason}");
        }
        if (options.MissingFeatures == MissingFeatures.Ignore && options.Distance != KMeansDistance.SquaredEuclidean)
            throw new NotSupportedException($"{nameof(KMeansOptions.MissingFeatures)} = {nameof(MissingFeatures.Ignore)} needs squared Euclidean distance.");
        if (options.AutomaticFeatureWeights && (options.Distance != KMeansDistance.SquaredEuclidean || options.MissingFeatures != MissingFeatures.Reject))
            throw new NotSupportedException($"{nameof(KMeansOptions.AutomaticFeatureWeights)} needs squared Euclidean distance and no missing features.");
        _options = options.Clone();
        Dimension = dimension;
        if (options.Initialization == KMeansInitialization.Explicit)
        {
            if (options.InitialCentroids.Length != (long)options.NumberOfClusters * dimension)
                throw new ArgumentException($"{nameof(KMeansOptions.InitialCentroids)} holds {options.InitialCentroids.Length} values; expected K × d = {options.NumberOfClusters} × {dimension}.",
                    nameof(options));
            var centroids = options.InitialCentroids.ToArray();
            DataValidator.ThrowIfBadRows(centroids, dimension, 0, false, nameof(options));
            if (options.Distance == KMeansDistance.Cosine)
                NormalizeRows(centroids, 0);
            _state = NewState(centroids);
        }
    }

    /// <summary>d, features per row.</summary>
    public int Dimension { get; }

    /// <summary>K.</summary>
    public int NumberOfClusters => _options.NumberOfClusters;

    /// <summary>The settings (a copy).</summary>
    public KMeansOptions Options => _options.Clone();

    /// <summary>Rows given so far, the buffered ones included.</summary>
    public long RowsSeen { get; private set; }

    /// <summary>Whether the centroids exist yet (the seeding buffer has filled, or the centroids were given).</summary>
    public bool IsSeeded => _state is not null;

    /// <summary>Steps taken (one per call once seeded, plus one per buffered call when the seeding runs).</summary>
    public long Steps => _state?.Steps ?? 0;

    /// <summary>The weight each centroid has seen (decayed by the forgetting factor); all zero before the seeding.</summary>
    public IReadOnlyList<double> ClusterWeights => State?.WeightSums.ToArray() ?? new double[NumberOfClusters];

    /// <summary>
    /// Learns from one batch: buffers it while the seeding waits for rows, else takes one step on it. A bad batch (the
    /// wrong width, a non-finite value, a bad weight, a zero row for cosine) throws and leaves the model as it was.
    /// </summary>
    /// <param name="rows">n × d row-major values.</param>
    /// <param name="weights">n non-negative weights, or empty for unit weights.</param>
    /// <param name="cancellationToken">Stops the seeding, when this call runs it; the model is then as before the call.</param>
    public void PartialFit(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights = default, CancellationToken cancellationToken = default)
    {
        Validate(rows, weights);
        int n = rows.Length / Dimension;
        if (n == 0)
            return;
        if (_state is null)
        {
            _buffer.Add((Prepared(rows), weights.IsEmpty ? null : weights.ToArray()));
            _bufferedRows += n;
            RowsSeen += n;
            if (_bufferedRows >= _options.MiniBatch.EffectiveInitializationSize(NumberOfClusters))
            {
                try
                {
                    SeedFromBuffer(cancellationToken);
                }
                catch
                {
                    _buffer.RemoveAt(_buffer.Count - 1);
                    _bufferedRows -= n;
                    RowsSeen -= n;
                    throw;
                }
            }
            return;
        }
        // The caller's rows are read in place unless cosine needs them at unit length.
        OpenDevice();
        if (_options.Distance == KMeansDistance.Cosine)
            Step(Prepared(rows), weights);
        else
            Step(rows, weights);
        RowsSeen += n;
    }

    /// <summary>
    /// Learns from one pass over <paramref name="source"/>, a step per <see cref="MiniBatchOptions.BatchSize"/> rows: for data
    /// read once, such as a database query. Reports progress after every step. A bad batch throws and leaves the model as
    /// the batches before it left it.
    /// </summary>
    /// <remarks>
    /// On the GPU, once the model is seeded, the steps of squared-Euclidean data near the origin from a random-access source
    /// (<see cref="IRowBlockSource"/>: arrays, memory-mapped files, native rows) run whole on the device, with the next
    /// batches crossing the link while the GPU steps on this one; a page-locked <see cref="UnmanagedRowsBatchSource"/> stored
    /// as the GPU computes (fp16 rows for <see cref="ComputePrecision.Float16"/>) is copied without any host work. Its rows
    /// are then checked on the GPU.
    /// </remarks>
    public void PartialFit(IBatchSource source, IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Dimension != Dimension)
            throw new ArgumentException($"The source has {source.Dimension} features per row; this model has {Dimension}.", nameof(source));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long done = 0;
        using var batches = BatchRechunker.Read(source, _options.MiniBatch.BatchSize, cancellationToken).GetEnumerator();
        while (true)
        {
            OpenDevice();  // once there are centroids
            if (StagedSource(source) is { } blocks)
            {
                StagedPass(blocks, done, progress, clock, cancellationToken);
                break;
            }
            if (!batches.MoveNext())
                break;
            var (rows, weights) = batches.Current;
            PartialFit(rows.Span, weights.Span, cancellationToken);
            done += rows.Length / Dimension;
            Report(progress, clock);
        }
    }

    private void Report(IProgress<KMeansProgress>? progress, System.Diagnostics.Stopwatch clock) =>
        progress?.Report(new KMeansProgress(0, (int)Math.Min(Steps, int.MaxValue), double.NaN, double.NaN, clock.Elapsed) { Phase = KMeansPhase.MiniBatch });

    /// <summary>
    /// The source as random-access rows when the rest of a pass can be staged on the device straight from it: the state
    /// lives on a device that steps whole, and the rows need no host preparation (no centring, no unit length).
    /// </summary>
    private IRowBlockSource? StagedSource(IBatchSource source) =>
        _state?.DeviceSteps is not null && _shift is null && _options.Distance == KMeansDistance.SquaredEuclidean &&
        source is IRowBlockSource { RowCount: not null } blocks ? blocks : null;

    /// <summary>
    /// The rest of a pass from row <paramref name="first"/>, batch after batch as <see cref="BatchRechunker"/> cuts them,
    /// each staged on the device up to its staging depth ahead of its step. Half the staged batches at most are stepped in
    /// one launch sequence (fewer where the reassignment falls due), so that the others cross the link meanwhile. Weights
    /// are checked as batches are staged; a bad one stops the staging and throws when its batch's turn comes, so the
    /// batches before it are learned from.
    /// </summary>
    private void StagedPass(IRowBlockSource source, long first, IProgress<KMeansProgress>? progress, System.Diagnostics.Stopwatch clock,
        CancellationToken cancellationToken)
    {
        var state = _state!;
        var device = state.DeviceSteps!;
        var settings = _options.MiniBatch;
        long total = source.RowCount!.Value;
        var pending = new List<(long First, int Count, Exception? Error)>();
        long next = first;
        try
        {
            while (pending.Count > 0 || next < total)
            {
                cancellationToken.ThrowIfCancellationRequested();
                while (next < total && device.StagedBatches < device.StagingDepth && (pending.Count == 0 || pending[^1].Error is null))
                {
                    int count = (int)Math.Min(settings.BatchSize, total - next);
                    var weights = source.HasWeights ? source.GetWeights(next, count) : default;
                    if (DataValidator.FirstBadWeight(weights) is int bad and >= 0)
                    {
                        pending.Add((next, count, new ArgumentException(
                            $"Weight {RowsSeen + (next - first) + bad} is {weights[bad]}; weights must be non-negative and finite.", nameof(source))));
                        next = total;  // nothing after a bad batch is staged
                        break;
                    }
                    device.Stage(source, next, count);
                    pending.Add((next, count, null));
                    next += count;
                }
                if (pending[0].Error is { } error)
                    throw error;
                int staged = pending.TakeWhile(p => p.Error is null).Count();
                var counts = pending.Take(Math.Max(1, staged / 2)).Select(p => p.Count).ToArray();
                int steps = state.StepsInOneSequence(counts, settings);
                var group = pending.GetRange(0, steps);
                state.StepStaged(counts.AsSpan(0, steps), settings, RowsSeen, i => HostBatch(source, group[i].First, group[i].Count), i =>
                {
                    RowsSeen += group[i].Count;
                    Report(progress, clock);
                });
                pending.RemoveRange(0, steps);
            }
        }
        finally
        {
            device.DiscardStaged();
        }
    }

    /// <summary>A staged batch's rows and weights on the host (fp32), for the reassignment.</summary>
    private (float[] Rows, float[] Weights) HostBatch(IRowBlockSource source, long first, int count)
    {
        var rows = new float[(long)count * Dimension];
        HalfPrecisionConversion.ConvertRows(source.GetRowBytes(first, count), source.ElementType, count, Dimension,
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.AsSpan()), TransferElement.Float32, Dimension, _options.EffectiveThreads);
        return (rows, source.HasWeights ? source.GetWeights(first, count).ToArray() : []);
    }

    /// <summary>
    /// With <see cref="ComputeDevice.Cuda"/> and centroids, takes the GPU for the steps (see <see cref="MiniBatchDevice"/>)
    /// unless it is held already; it is held until <see cref="Dispose"/>, so that calls do not each open it.
    /// </summary>
    private void OpenDevice()
    {
        if (_device is null && _state is { } state)
            _device = MiniBatchDevice.Lease(state, _options);
    }

    private IDisposable? _device;

    /// <summary>
    /// Frees the GPU that <see cref="ComputeDevice.Cuda"/> steps hold between calls (its session, the centroids kept there,
    /// page-locked staging), bringing the state back to the host. The model stays usable: a later
    /// <see cref="PartialFit(ReadOnlySpan{float}, ReadOnlySpan{float}, CancellationToken)"/> takes the GPU again. On the CPU
    /// there is nothing to free.
    /// </summary>
    public void Dispose()
    {
        var device = _device;
        _device = null;
        device?.Dispose();
    }

    /// <summary>
    /// The model as it stands: the centroids in the data's coordinates. Before the seeding buffer has filled, the seeding
    /// runs on a copy of what is buffered (the stream itself still waits for the full buffer). Its
    /// <see cref="KMeansModel.Inertia"/> is the online inertia: each row's weighted squared distance to the centroid it
    /// was assigned to when it arrived.
    /// </summary>
    /// <exception cref="InvalidOperationException">Fewer than K rows have arrived.</exception>
    public KMeansModel Snapshot()
    {
        if (_state is null)
        {
            if (_bufferedRows < NumberOfClusters)
                throw new InvalidOperationException($"Only {_bufferedRows} rows have arrived; K = {NumberOfClusters} centroids need at least {NumberOfClusters}.");
            using var trial = new MiniBatchKMeans(_options, Dimension);
            trial._buffer.AddRange(_buffer.Select(b => (b.Rows.ToArray(), b.Weights?.ToArray())));  // the seeding shifts them in place
            trial._bufferedRows = _bufferedRows;
            trial.RowsSeen = RowsSeen;
            trial.SeedFromBuffer(CancellationToken.None);
            return trial.Snapshot();
        }
        var state = State!;
        var centroids = state.Centroids.ToArray();
        if (_shift is not null)
        {
            for (int c = 0; c < NumberOfClusters; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(centroids.AsSpan(c * Dimension, Dimension), _shift, centroids.AsSpan(c * Dimension, Dimension));
        }
        // Cosine steps run on unit rows, where ‖x − c‖² = 2(1 − cos): halved, the inertia is in cosine distance.
        double inertia = state.OnlineInertia * (_options.Distance == KMeansDistance.Cosine ? 0.5 : 1.0);
        return new KMeansModel(centroids, Dimension, _options.Distance, inertia, (int)Math.Min(state.Steps, int.MaxValue),
            false, state.Reassigned, [], [], $"cpu mini-batch ({CpuBackend.InstructionSet})", state.Relevance?.Weights.ToArray());
    }

    /// <summary>Writes the whole state (settings, centroids, seen weights, counters, any buffered rows) so that <see cref="Load(Stream, ILogger?)"/> continues exactly where this left off.</summary>
    public void Save(Stream stream) => MiniBatchStateFormat.Write(this, stream);

    /// <summary>Writes the state to a file (see <see cref="Save(Stream)"/>).</summary>
    public void Save(string path)
    {
        using var stream = File.Create(path);
        Save(stream);
    }

    /// <summary>Reads a state written by <see cref="Save(Stream)"/>; training goes on as if it had never stopped.</summary>
    /// <param name="stream">The saved state.</param>
    /// <param name="logger">The logger of the loaded model (loggers are not saved).</param>
    /// <exception cref="InvalidDataException">The stream is not a whole, intact saved state.</exception>
    public static MiniBatchKMeans Load(Stream stream, ILogger? logger = null) => MiniBatchStateFormat.Read(stream, logger);

    /// <summary>Reads a state from a file (see <see cref="Load(Stream, ILogger?)"/>).</summary>
    public static MiniBatchKMeans Load(string path, ILogger? logger = null)
    {
        using var stream = File.OpenRead(path);
        return Load(stream, logger);
    }

    /// <summary>An independent copy that continues exactly as this one would.</summary>
    public MiniBatchKMeans Clone(ILogger? logger = null)
    {
        using var stream = new MemoryStream();
        Save(stream);
        stream.Position = 0;
        return Load(stream, logger ?? _options.Logger);
    }

    /// <summary>The state, brought back from the GPU first where it lives there.</summary>
    internal MiniBatchState? State
    {
        get
        {
            _state?.ReadBack();
            return _state;
        }
    }

    internal float[]? Shift => _shift;

    internal IReadOnlyList<(float[] Rows, float[]? Weights)> Buffer => _buffer;

    /// <summary>Sets what a saved state held (<see cref="MiniBatchStateFormat"/>).</summary>
    internal void Restore(long rowsSeen, MiniBatchState? state, float[]? shift, IEnumerable<(float[] Rows, float[]? Weights)> buffer)
    {
        RowsSeen = rowsSeen;
        _state = state;
        _shift = shift;
        _buffer.Clear();
        _buffer.AddRange(buffer);
        _bufferedRows = _buffer.Sum(b => (long)b.Rows.Length / Dimension);
    }

    internal static ulong StateSeed(int seed) => CounterRandom.Derive((ulong)seed, 0x3B47C4);

    private MiniBatchState NewState(float[] centroids) =>
        new(centroids, Dimension, _options.Distance, StateSeed(_options.Seed), _options.MissingFeatures == MissingFeatures.Ignore, _options.AutomaticFeatureWeights,
            _options.MiniBatch.CentroidPrecision);

    /// <summary>
    /// Whether the steps run whole on a GPU that checks each batch's rows itself as it steps (NaN, infinity, overflow of the
    /// compute precision), changing nothing when one is bad: the host's scan of every value is then left out. Cosine rows are
    /// still checked on the host, which scales them to unit length first.
    /// </summary>
    private bool RowsCheckedOnDevice => _state?.DeviceSteps is not null && _options.Distance == KMeansDistance.SquaredEuclidean;

    /// <summary>Throws naming the batch's first problem; touches nothing.</summary>
    private void Validate(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights)
    {
        if (rows.Length % Dimension != 0)
            throw new ArgumentException($"The batch holds {rows.Length} values, which is not whole rows of {Dimension}.", nameof(rows));
        int n = rows.Length / Dimension;
        if (!weights.IsEmpty && weights.Length != n)
            throw new ArgumentException($"The batch has {n} rows but {weights.Length} weights; give one per row or none.", nameof(weights));
        if (_options.MissingFeatures == MissingFeatures.Ignore)
            DataValidator.ThrowIfBadRowsWithMissing(rows, Dimension, RowsSeen, nameof(rows));
        else if (!RowsCheckedOnDevice)
            DataValidator.ThrowIfBadRows(rows, Dimension, RowsSeen, false, nameof(rows));
        if (DataValidator.FirstBadWeight(weights) is int bad and >= 0)
            throw new ArgumentException($"Weight {RowsSeen + bad} is {weights[bad]}; weights must be non-negative and finite.", nameof(weights));
        if (_options.Distance == KMeansDistance.Cosine)
        {
            for (int r = 0; r < n; r++)
            {
                if (!(VectorMath.DotDouble(rows.Slice(r * Dimension, Dimension), rows.Slice(r * Dimension, Dimension)) > 0))
                    throw new ArgumentException($"Row {RowsSeen + r} has zero length; cosine distance needs rows with a direction.", nameof(rows));
            }
        }
    }

    /// <summary>A copy of validated rows, scaled to unit length for cosine.</summary>
    private float[] Prepared(ReadOnlySpan<float> rows)
    {
        var copy = rows.ToArray();
        if (_options.Distance == KMeansDistance.Cosine)
            NormalizeRows(copy, RowsSeen);
        return copy;
    }

    private void NormalizeRows(float[] rows, long firstRow)
    {
        for (int r = 0; r < rows.Length / Dimension; r++)
            UnitLengthBatchSource.Normalize(rows.AsSpan(r * Dimension, Dimension), firstRow + r);
    }

    /// <summary>Seeds on the first <see cref="MiniBatchOptions.InitializationSize"/> buffered rows, then steps on every buffered batch in order.</summary>
    private void SeedFromBuffer(CancellationToken cancellationToken)
    {
        int d = Dimension, k = NumberOfClusters;
        int size = (int)Math.Min(_bufferedRows, _options.MiniBatch.EffectiveInitializationSize(k));
        var rows = new float[(long)size * d];
        var weights = new float[size];
        bool weighted = _buffer.Any(b => b.Weights is not null);
        int filled = 0;
        foreach (var (batchRows, batchWeights) in _buffer)
        {
            int take = Math.Min(batchRows.Length / d, size - filled);
            batchRows.AsSpan(0, take * d).CopyTo(rows.AsSpan(filled * d));
            if (batchWeights is null)
                weights.AsSpan(filled, take).Fill(1);
            else
                batchWeights.AsSpan(0, take).CopyTo(weights.AsSpan(filled));
            filled += take;
            if (filled == size)
                break;
        }
        if (_options.MissingFeatures == MissingFeatures.Ignore)
            ImputeFeatureMeans(rows, weights);
        float[]? shift = null;
        if (_options.Distance == KMeansDistance.SquaredEuclidean)
        {
            var source = new InMemoryBatchSource(rows, d, weights);
            var summary = DataValidator.Scan(source, cancellationToken);
            if (summary.Mean is { } mean && ShiftedBatchSource.Worthwhile(mean.Sum(v => v * v), summary.MeanSquaredDeviation))
            {
                shift = mean.Select(v => (float)v).ToArray();
                ShiftedBatchSource.Subtract(rows, shift);
                _options.Logger?.LogInformation("FlashKMeans: the stream's first rows lie far from the origin; fitting it centred on their mean.");
            }
        }
        float[] centroids;
        using (var backend = new CpuBackend(_options.NumberOfThreads) { Distance = _options.Distance })
        {
            var source = new InMemoryBatchSource(rows, d, weighted ? weights : default);
            using var binding = backend.Bind(source, DataValidator.Scan(source, cancellationToken), k, cancellationToken);
            centroids = CentroidInitializer.Run(binding, _options, CounterRandom.Derive((ulong)_options.Seed, 0), cancellationToken);
        }
        var state = NewState(centroids);
        _shift = shift;
        _state = state;
        OpenDevice();
        foreach (var (batchRows, batchWeights) in _buffer)
            Step(batchRows, batchWeights);
        _buffer.Clear();
        _bufferedRows = 0;
        _options.Logger?.LogInformation("FlashKMeans: mini-batch k-means seeded on {Rows} rows.", size);
    }

    /// <summary>
    /// Fills the seeding rows' missing features with each feature's weighted mean over the rows that have it (0 where
    /// none has it), for the seeding alone: the steps still see the features as missing.
    /// </summary>
    private void ImputeFeatureMeans(float[] rows, float[] weights)
    {
        int d = Dimension, n = weights.Length;
        var sum = new double[d];
        var weight = new double[d];
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < d; j++)
            {
                float v = rows[r * d + j];
                if (float.IsNaN(v))
                    continue;
                sum[j] += (double)weights[r] * v;
                weight[j] += weights[r];
            }
        }
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < d; j++)
            {
                if (float.IsNaN(rows[r * d + j]))
                    rows[r * d + j] = weight[j] > 0 ? (float)(sum[j] / weight[j]) : 0f;
            }
        }
    }

    /// <summary>One step on a validated batch in the data's coordinates (centred on a copy where the stream is).</summary>
    private void Step(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights)
    {
        if (_shift is not null)
        {
            var shifted = rows.ToArray();
            ShiftedBatchSource.Subtract(shifted, _shift);
            rows = shifted;
        }
        int n = rows.Length / Dimension;
        if (_labels.Length < n)
        {
            _labels = new int[n];
            _distances = new float[n];
        }
        _state!.Step(rows, weights, _options.MiniBatch, _options.EffectiveThreads, _labels, _distances, RowsSeen);
    }
}
