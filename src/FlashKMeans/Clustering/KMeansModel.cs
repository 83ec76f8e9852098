using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;

namespace FlashKMeans.Clustering;

/// <summary>
/// A fitted k-means model: the centroids plus how the fit went. Immutable and safe to share between
/// threads. Scoring of spans runs on the CPU backend; the batch-source overloads of <c>Predict</c> run on the
/// device asked for, streaming data of any size through the GPU.
/// </summary>
public sealed class KMeansModel
{
    private readonly float[] _centroids;
    private readonly float[]? _featureWeights;
    private readonly Lazy<IKMeansScorer> _scorer;
    private readonly Lazy<int> _distinct;

    internal KMeansModel(float[] centroids, int dimension, KMeansDistance distance, double inertia, int iterations,
        bool converged, long emptyClustersReseeded, IReadOnlyList<double> inertiaHistory,
        IReadOnlyList<KMeansIterationStatistics> statistics, string trainedOn, float[]? featureWeights = null)
    {
        _centroids = centroids;
        _featureWeights = featureWeights;
        Dimension = dimension;
        NumberOfClusters = centroids.Length / dimension;
        Distance = distance;
        Inertia = inertia;
        Iterations = iterations;
        Converged = converged;
        EmptyClustersReseeded = emptyClustersReseeded;
        InertiaHistory = inertiaHistory;
        Statistics = statistics;
        TrainedOn = trainedOn;
        _scorer = new Lazy<IKMeansScorer>(() => CreateScorer((c, d) => new CpuScorer(c.Span, d, Environment.ProcessorCount)));
        _distinct = new Lazy<int>(() => new HashSet<int>(Enumerable.Range(0, NumberOfClusters), new CentroidComparer(_centroids, Dimension)).Count);
    }

    /// <summary>Compares centroids by their index: equal when every value is equal.</summary>
    private sealed class CentroidComparer(float[] centroids, int d) : IEqualityComparer<int>
    {
        public bool Equals(int a, int b) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(centroids.AsSpan(a * d, d))
            .SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(centroids.AsSpan(b * d, d)));

        public int GetHashCode(int c)
        {
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(centroids.AsSpan(c * d, d)));
            return hash.ToHashCode();
        }
    }

    /// <summary>
    /// The scorer of every scoring path: squared-Euclidean models score centred (<see cref="CentredScorer"/>), so
    /// that data far from the origin is scored as exactly as data near it; cosine models score unit rows as they are.
    /// </summary>
    internal IKMeansScorer CreateScorer(Func<ReadOnlyMemory<float>, int, IKMeansScorer> createScorer) => _featureWeights is { } weights
        ? new FeatureWeightedScorer(_centroids, Dimension, weights, (c, d) => new CentredScorer(c.ToArray(), d, createScorer))
        : Distance switch
    {
        KMeansDistance.Cosine => createScorer(_centroids, Dimension),
        // L1 distances come from the differences, exact anywhere; only the CPU computes them.
        KMeansDistance.Manhattan => new ManhattanScorer(_centroids, Dimension, Environment.ProcessorCount),
        _ => new CentredScorer(_centroids, Dimension, createScorer),
    };

    /// <summary>
    /// Creates a model from given centroids, for scoring with centroids trained elsewhere. Cosine centroids are
    /// scaled to unit length (a zero centroid, which has no direction, is an error).
    /// </summary>
    /// <param name="centroids">K × d row-major centroids.</param>
    /// <param name="dimension">d.</param>
    /// <param name="distance">The distance the centroids were trained for.</param>
    public static KMeansModel FromCentroids(ReadOnlySpan<float> centroids, int dimension, KMeansDistance distance = KMeansDistance.SquaredEuclidean)
    {
        if (dimension < 1)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The dimension must be at least 1.");
        if (centroids.IsEmpty || centroids.Length % dimension != 0)
            throw new ArgumentException($"Expected K × {dimension} centroid values with K ≥ 1, got {centroids.Length}.", nameof(centroids));
        if (!DataValidator.AllFinite(centroids))
            throw new ArgumentException("The centroids contain NaN or infinite values.", nameof(centroids));
        var copy = centroids.ToArray();
        if (distance == KMeansDistance.Cosine)
        {
            // Cosine models hold unit centroids, as a cosine fit leaves them (and as the model format checks).
            for (int c = 0; c < copy.Length / dimension; c++)
                UnitLengthBatchSource.Normalize(copy.AsSpan(c * dimension, dimension), c);
        }
        return new KMeansModel(copy, dimension, distance, double.NaN, 0, false, 0, [], [], "given centroids");
    }

    /// <summary>
    /// <see cref="FromCentroids(ReadOnlySpan{float}, int, KMeansDistance)"/> with learned feature weights in the distance (squared Euclidean), or without them
    /// when <paramref name="featureWeights"/> is null: the prototype models' grids.
    /// </summary>
    internal static KMeansModel FromPrototypes(float[] centroids, int dimension, KMeansDistance distance, float[]? featureWeights) =>
        featureWeights is null ? FromCentroids(centroids, dimension, distance)
            : new KMeansModel(centroids.ToArray(), dimension, distance, double.NaN, 0, false, 0, [], [], "given centroids", featureWeights.ToArray());

    /// <summary>d, features per row.</summary>
    public int Dimension { get; }

    /// <summary>
    /// Per-feature weights wⱼ in [0, 1] in the distance, Σ wⱼ(xⱼ − cⱼ)², learned with
    /// <see cref="KMeansOptions.AutomaticFeatureWeights"/>: the features' importances, 1 − (within-cluster variance /
    /// total variance), clipped. Empty when the model weighs every feature alike. Every scoring path uses them.
    /// </summary>
    public ReadOnlyMemory<float> FeatureWeights => _featureWeights;

    /// <summary>K.</summary>
    public int NumberOfClusters { get; }

    /// <summary>The distance the model was trained with.</summary>
    public KMeansDistance Distance { get; }

    /// <summary>Row-major K × d centroids (unit length for cosine models).</summary>
    public ReadOnlyMemory<float> Centroids => _centroids;

    /// <summary>Centroid <paramref name="cluster"/> (0-based).</summary>
    public ReadOnlySpan<float> GetCentroid(int cluster)
    {
        if ((uint)cluster >= (uint)NumberOfClusters)
            throw new ArgumentOutOfRangeException(nameof(cluster), cluster, $"Clusters are numbered 0 to {NumberOfClusters - 1}.");
        return _centroids.AsSpan(cluster * Dimension, Dimension);
    }

    /// <summary>
    /// How many of the K centroids differ from each other. Fewer than K when the data has fewer distinct rows than
    /// K (some centroids then coincide; the fit logs a warning, as scikit-learn warns of it).
    /// </summary>
    public int DistinctCentroids => _distinct.Value;

    /// <summary>Weighted sum of distances of the training data to their nearest final centroid.</summary>
    public double Inertia { get; }

    /// <summary>Lloyd iterations run by the kept initialisation.</summary>
    public int Iterations { get; }

    /// <summary>Whether the tolerance test stopped the fit before the iteration limit.</summary>
    public bool Converged { get; }

    /// <summary>Empty clusters re-seeded during the kept initialisation's run.</summary>
    public long EmptyClustersReseeded { get; }

    /// <summary>The inertia of each iteration's assignment.</summary>
    public IReadOnlyList<double> InertiaHistory { get; }

    /// <summary>Per-iteration statistics of the kept initialisation (not saved by <see cref="Save(Stream)"/>).</summary>
    public IReadOnlyList<KMeansIterationStatistics> Statistics { get; }

    /// <summary>
    /// How balanced the clusters of a hierarchical fit (<see cref="KMeansOptions.Hierarchical"/>) came out; <c>null</c>
    /// for other fits and for loaded models (a report on the training, like <see cref="Statistics"/>, it is not saved).
    /// </summary>
    public ClusterBalance? Balance { get; init; }

    /// <summary>The backend that trained the model, for logs.</summary>
    public string TrainedOn { get; }

    /// <summary>The 0-based cluster of one row.</summary>
    public int Predict(ReadOnlySpan<float> row)
    {
        if (row.Length != Dimension)
            throw new ArgumentException($"Dimension mismatch: the model has {Dimension} features per row, the row {row.Length}.", nameof(row));
        Span<int> label = stackalloc int[1];
        Predict(row, label);
        return label[0];
    }

    /// <summary>The 0-based cluster of each row of row-major data.</summary>
    public void Predict(ReadOnlySpan<float> rows, Span<int> labels)
    {
        int n = CheckRows(rows, nameof(rows));
        if (labels.Length != n)
            throw new ArgumentException($"There are {n} rows but room for {labels.Length} labels.", nameof(labels));
        Score(rows, labels, default);
    }

    /// <summary>The 0-based cluster of each row of row-major data.</summary>
    public int[] Predict(ReadOnlySpan<float> rows, int dimension)
    {
        CheckDimension(dimension);
        var labels = new int[CheckRows(rows, nameof(rows))];
        Predict(rows, labels);
        return labels;
    }

    /// <summary>The 0-based cluster of each row of a two-dimensional array.</summary>
    public unsafe int[] Predict(float[,] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        CheckDimension(rows.GetLength(1));
        fixed (float* p = rows)
            return Predict(new ReadOnlySpan<float>(p, rows.Length), Dimension);
    }

    /// <summary>
    /// Labels every row of a source one batch at a time, so data far larger than memory can be scored:
    /// only the labels (N ints) are held. <paramref name="device"/> picks the backend as
    /// <see cref="KMeansOptions.Device"/> does; on a GPU the rows stream through a ring of pinned buffers
    /// with copies overlapped with compute, and each batch's labels come straight back into
    /// <paramref name="labels"/>. For more than 2³¹ − 1 rows use
    /// <see cref="Predict(IBatchSource, IPredictionSink, bool, ComputeDevice, CancellationToken)"/>.
    /// </summary>
    /// <param name="source">Rows to label; read once (twice on a GPU when it does not know its row count).</param>
    /// <param name="labels">One label per row of the source.</param>
    /// <param name="device">Where the distance work runs.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    public void Predict(IBatchSource source, Span<int> labels, ComputeDevice device = ComputeDevice.Cpu, CancellationToken cancellationToken = default) =>
        Predict(source, labels, default, device, cancellationToken);

    /// <summary>
    /// Labels every row of a source one batch at a time, as <see cref="Predict(IBatchSource, Span{int}, ComputeDevice, CancellationToken)"/>,
    /// and writes each row's distance to its cluster's centroid (squared Euclidean, or 1 − cos for cosine models).
    /// </summary>
    /// <param name="source">Rows to label; read once (twice on a GPU when it does not know its row count).</param>
    /// <param name="labels">One label per row of the source.</param>
    /// <param name="distances">One distance per row of the source, or empty for none.</param>
    /// <param name="device">Where the distance work runs.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    public unsafe void Predict(IBatchSource source, Span<int> labels, Span<float> distances, ComputeDevice device = ComputeDevice.Cpu,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!distances.IsEmpty && distances.Length != labels.Length)
            throw new ArgumentException($"There is room for {labels.Length} labels but {distances.Length} distances.", nameof(distances));
        fixed (int* l = labels)
        fixed (float* d = distances)
        {
            var sink = new SpanSink(l, d, labels.Length);
            long rows = PredictBatches(source, sink, !distances.IsEmpty, device, labels.Length, cancellationToken);
            if (rows != labels.Length)
                throw new ArgumentException($"The source has {rows} rows but there is room for {labels.Length} labels.", nameof(labels));
        }
    }

    /// <summary>
    /// Labels every row of a source one batch at a time and hands each batch's labels (and distances, when
    /// <paramref name="includeDistances"/>) to <paramref name="destination"/> in row order, holding nothing
    /// per row: the number of rows is bounded only by the source, far beyond memory and beyond 2³¹. On a GPU
    /// the rows stream through a ring of pinned buffers with copies overlapped with compute, and labels come
    /// back batch by batch while later batches are copied and assigned.
    /// </summary>
    /// <param name="source">Rows to label; read once (twice on a GPU when it does not know its row count).</param>
    /// <param name="destination">Receives the labels batch by batch, on this thread.</param>
    /// <param name="includeDistances">Also hand over each row's distance to its cluster's centroid.</param>
    /// <param name="device">Where the distance work runs.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns>The number of rows labelled.</returns>
    public long Predict(IBatchSource source, IPredictionSink destination, bool includeDistances = false, ComputeDevice device = ComputeDevice.Cpu,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        return PredictBatches(source, destination, includeDistances, device, expectedRows: null, cancellationToken);
    }

    /// <summary>The one batch-wise prediction: on a GPU through the streamed assign-only pass, otherwise through the backend's scorer.</summary>
    /// <param name="source">Rows to label.</param>
    /// <param name="sink">Receives each batch in row order.</param>
    /// <param name="withDistances">Whether distances are handed over too.</param>
    /// <param name="device">Where the distance work runs.</param>
    /// <param name="expectedRows">Rows the caller has room for (checked before any work on a GPU), or null.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns>Rows labelled.</returns>
    private long PredictBatches(IBatchSource source, IPredictionSink sink, bool withDistances, ComputeDevice device, long? expectedRows,
        CancellationToken cancellationToken)
    {
        CheckDimension(source.Dimension);
        bool cosine = Distance == KMeansDistance.Cosine;
        using var backend = BackendSelector.Create(new KMeansOptions { Device = device, Distance = Distance });
        if (backend is IStreamedPrediction streamed && _featureWeights is null && Distance != KMeansDistance.Manhattan)
        {
            long rows = source.RowCount ?? CountRows(source, cancellationToken);
            if (expectedRows is long expected && rows != expected)
                throw new ArgumentException($"The source has {rows} rows but there is room for {expected} labels.", nameof(source));
            if (rows == 0)
                return 0;
            float[] scaled = [];
            IBatchSource scored = source;
            float[] centroids = _centroids;
            if (cosine)
            {
                scored = new UnitLengthBatchSource(source);
            }
            else if (CentredScorer.Origin(_centroids, Dimension) is { } origin)
            {
                // Centred where every scoring path centres (see CreateScorer); otherwise the rows are read in place.
                scored = new ShiftedBatchSource(source, origin);
                centroids = (float[])_centroids.Clone();
                ShiftedBatchSource.Subtract(centroids, origin);
            }
            streamed.PredictStreamed(scored, rows, centroids, withDistances, (first, labels, distances) =>
            {
                if (cosine && !distances.IsEmpty)
                {
                    // As Score does: half the squared distance of unit vectors is 1 − cos.
                    if (scaled.Length < distances.Length)
                        scaled = new float[distances.Length];
                    System.Numerics.Tensors.TensorPrimitives.Multiply(distances, 0.5f, scaled.AsSpan(0, distances.Length));
                    distances = scaled.AsSpan(0, distances.Length);
                }
                sink.Write(first, labels, distances);
            }, cancellationToken);
            return rows;
        }
        using var scorer = CreateScorer(backend.CreateScorer);
        using var reader = source.OpenReader();
        int[] labelBuffer = [];
        float[] distanceBuffer = [];
        long done = 0;
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (batch.FirstRow != done)
                throw new ArgumentException($"A batch starts at row {batch.FirstRow} where row {done} was expected.", nameof(source));
            var rows = batch.Rows.Span;
            DataValidator.ThrowIfBadRows(rows, Dimension, batch.FirstRow, Distance == KMeansDistance.SquaredEuclidean, nameof(source));
            int n = batch.RowCount;
            if (labelBuffer.Length < n)
            {
                labelBuffer = new int[n];
                distanceBuffer = withDistances ? new float[n] : [];
            }
            var labels = labelBuffer.AsSpan(0, n);
            var distances = withDistances ? distanceBuffer.AsSpan(0, n) : default;
            scorer.Assign(cosine ? UnitRows(rows, batch.FirstRow) : rows, labels, distances);
            if (cosine && withDistances)
                System.Numerics.Tensors.TensorPrimitives.Multiply(distances, 0.5f, distances);
            sink.Write(batch.FirstRow, labels, distances);
            done += n;
        }
        return done;
    }

    /// <summary>Rows of a source that does not declare them: one pass that only counts.</summary>
    private static long CountRows(IBatchSource source, CancellationToken cancellationToken)
    {
        using var reader = source.OpenReader();
        long rows = 0;
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            rows += batch.RowCount;
        }
        return rows;
    }

    /// <summary>Writes batches into caller memory pinned for the length of one Predict call.</summary>
    private sealed unsafe class SpanSink(int* labels, float* distances, int length) : IPredictionSink
    {
        public void Write(long firstRow, ReadOnlySpan<int> batch, ReadOnlySpan<float> batchDistances)
        {
            if (firstRow + batch.Length > length)
                throw new ArgumentException($"The source has more than the {length} rows there is room for.", "labels");
            batch.CopyTo(new Span<int>(labels + firstRow, batch.Length));
            if (distances != null)
                batchDistances.CopyTo(new Span<float>(distances + firstRow, batchDistances.Length));
        }
    }

    /// <summary>
    /// The distance of each row to every centroid, n × K row-major: squared Euclidean distance, or cosine
    /// distance 1 − cos for cosine models.
    /// </summary>
    public void Transform(ReadOnlySpan<float> rows, Span<float> distances)
    {
        int n = CheckRows(rows, nameof(rows));
        if (distances.Length != (long)n * NumberOfClusters)
            throw new ArgumentException($"{n} rows × {NumberOfClusters} clusters needs {(long)n * NumberOfClusters} values, not {distances.Length}.", nameof(distances));
        if (Distance == KMeansDistance.Cosine)
        {
            var unit = UnitRows(rows);
            _scorer.Value.AllDistances(unit, distances);
            System.Numerics.Tensors.TensorPrimitives.Multiply(distances, 0.5f, distances);
        }
        else
        {
            _scorer.Value.AllDistances(rows, distances);
        }
    }

    /// <summary>
    /// Each row's <paramref name="count"/> nearest centroids, nearest first with ties to the lower index, and their
    /// squared distances measured in float32 from the differences (<see cref="CentredScorer"/>): the prototype models'
    /// prediction. On the CPU the fused kernel takes a few rows' distances at a time and selects from them while they are
    /// in cache; on a GPU (<paramref name="device"/>) the fused top-k kernel finds them in <paramref name="precision"/>.
    /// Where neither applies (L1; on a GPU: exact precision, fewer than 16 features, more than its 32 per row) every
    /// distance is taken and the nearest selected.
    /// </summary>
    internal void Nearest(ReadOnlySpan<float> rows, int count, Span<int> indices, Span<float> distances, ComputeDevice device = ComputeDevice.Cpu,
        ComputePrecision precision = ComputePrecision.TensorFloat32)
    {
        int n = CheckRows(rows, nameof(rows));
        if (count < 1 || count > NumberOfClusters)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Between 1 and K = {NumberOfClusters} nearest centroids per row.");
        if (indices.Length != (long)n * count || distances.Length != (long)n * count)
            throw new ArgumentException($"{n} rows × {count} nearest need {(long)n * count} indices and distances.");
        var input = Distance == KMeansDistance.Cosine ? UnitRows(rows) : rows;
        if (device == ComputeDevice.Cpu || Distance == KMeansDistance.Manhattan)
        {
            Nearest(_scorer.Value, input, count, indices, distances);
        }
        else
        {
            using var backend = BackendSelector.Create(new KMeansOptions { Device = device, Distance = Distance, Precision = precision });
            using var scorer = CreateScorer(backend.CreateScorer);
            Nearest(scorer, input, count, indices, distances);
        }
        if (Distance == KMeansDistance.Cosine)
            System.Numerics.Tensors.TensorPrimitives.Multiply(distances, 0.5f, distances);
    }

    /// <summary>
    /// By the scorer's own search where it has one (<see cref="ITopKScorer"/>), else selected from every distance, a
    /// block of rows at a time (about 16 MB of distances).
    /// </summary>
    private void Nearest(IKMeansScorer scorer, ReadOnlySpan<float> rows, int count, Span<int> indices, Span<float> distances)
    {
        if (scorer is ITopKScorer top && top.FindsNearest(count))
        {
            top.Nearest(rows, count, indices, distances);
            return;
        }
        int d = Dimension, k = NumberOfClusters, n = rows.Length / d;
        int block = Math.Max(1, Math.Min(n, (4 << 20) / k));
        var all = new float[(long)block * k];
        for (int first = 0; first < n; first += block)
        {
            int rowsHere = Math.Min(block, n - first);
            var blockDistances = all.AsSpan(0, rowsHere * k);
            scorer.AllDistances(rows.Slice(first * d, rowsHere * d), blockDistances);
            TopKSelection.NearestOfRows(blockDistances, k, indices.Slice(first * count, rowsHere * count),
                distances.Slice(first * count, rowsHere * count));
        }
    }

    /// <summary>The distances of each row to every centroid as a new n × K array.</summary>
    public float[] Transform(ReadOnlySpan<float> rows)
    {
        var distances = new float[(long)CheckRows(rows, nameof(rows)) * NumberOfClusters];
        Transform(rows, distances);
        return distances;
    }

    /// <summary>The cost of data under the model: Σ w·(distance to the nearest centroid).</summary>
    /// <param name="rows">Row-major data.</param>
    /// <param name="weights">One weight per row, or empty for unit weights.</param>
    public double Score(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights = default)
    {
        int n = CheckRows(rows, nameof(rows));
        if (!weights.IsEmpty && weights.Length != n)
            throw new ArgumentException($"There are {n} rows but {weights.Length} weights.", nameof(weights));
        // The weights a fit accepts, and no others.
        if (DataValidator.FirstBadWeight(weights) is var bad and >= 0)
            throw new ArgumentException($"Row {bad} has weight {weights[bad]}; weights must be finite and non-negative.", nameof(weights));
        var labels = new int[n];
        var distances = new float[n];
        Score(rows, labels, distances);
        double total = 0;
        for (int i = 0; i < n; i++)
            total += (weights.IsEmpty ? 1.0 : weights[i]) * distances[i];
        return total;
    }

    private void Score(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        if (Distance == KMeansDistance.Cosine)
        {
            _scorer.Value.Assign(UnitRows(rows), labels, distances);
            if (!distances.IsEmpty)
                System.Numerics.Tensors.TensorPrimitives.Multiply(distances, 0.5f, distances);
        }
        else
        {
            _scorer.Value.Assign(rows, labels, distances);
        }
    }

    /// <param name="rows">Row-major rows.</param>
    /// <param name="firstRow">The index of the first of them, for the message naming a zero row.</param>
    private float[] UnitRows(ReadOnlySpan<float> rows, long firstRow = 0)
    {
        var unit = rows.ToArray();
        for (int r = 0; r < unit.Length / Dimension; r++)
            UnitLengthBatchSource.Normalize(unit.AsSpan(r * Dimension, Dimension), firstRow + r);
        return unit;
    }

    private int CheckRows(ReadOnlySpan<float> rows, string name)
    {
        if (rows.Length % Dimension != 0)
            throw new ArgumentException($"Dimension mismatch: the model has {Dimension} features per row but {rows.Length} values is not a whole number of rows.", name);
        DataValidator.ThrowIfBadRows(rows, Dimension, 0, Distance == KMeansDistance.SquaredEuclidean, name);
        return rows.Length / Dimension;
    }

    private void CheckDimension(int dimension)
    {
        if (dimension != Dimension)
            throw new ArgumentException($"Dimension mismatch: the model has {Dimension} features per row, the data {dimension}.", nameof(dimension));
    }

    /// <summary>Writes the model in the versioned, checksummed binary format of <see cref="KMeansModelFormat"/>.</summary>
    public void Save(Stream stream) => KMeansModelFormat.Write(this, stream);

    /// <summary>Writes the model to a file atomically: a failed save leaves any existing file untouched.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Cannot save the model to '{path}': the folder '{folder}' does not exist.");
        string temporary = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
                Save(file);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }

    /// <summary>Reads a model written by <see cref="Save(Stream)"/>.</summary>
    /// <exception cref="InvalidDataException">The data is not a model, is truncated or corrupted, or has an unknown version.</exception>
    public static KMeansModel Load(Stream stream) => KMeansModelFormat.Read(stream);

    /// <summary>Reads a model file written by <see cref="Save(string)"/>.</summary>
    public static KMeansModel Load(string path)
    {
        using var file = File.OpenRead(path);
        return Load(file);
    }

    internal static KMeansModel Restore(float[] centroids, int dimension, KMeansDistance distance, double inertia, int iterations,
        bool converged, long reseeded, double[] history, float[]? featureWeights)
        => new(centroids, dimension, distance, inertia, iterations, converged, reseeded, history, [], "loaded model", featureWeights);
}
