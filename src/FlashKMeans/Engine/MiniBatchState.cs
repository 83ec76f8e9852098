using System.Numerics.Tensors;
using FlashKMeans.Backends;
using FlashKMeans.Clustering;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Primitives;

namespace FlashKMeans.Engine;

/// <summary>
/// What mini-batch k-means knows between steps, and its step: the centroids (in the coordinates the rows are fitted in),
/// the weight each centroid has seen, and the counters its random choices and reassignment schedule derive from.
/// <see cref="MiniBatchKMeans"/> steps it on batches as they arrive; <see cref="KMeans"/> steps it over a source, epoch by
/// epoch. Everything here is deterministic: the same steps give the same bits at any thread count.
/// </summary>
internal sealed class MiniBatchState
{
    private double[]? _sums;
    private double[]? _batchWeights;
    private double[]? _coordinateBatch;

    /// <param name="centroids">K × d starting centroids, in the fitted coordinates.</param>
    /// <param name="dimension">d.</param>
    /// <param name="distance">The distance.</param>
    /// <param name="seed">The seed of the reassignment's draws.</param>
    /// <param name="missingFeatures">Whether rows may hold NaN for features they lack (<see cref="MissingFeatures.Ignore"/>):
    /// the seen weight is then also kept per centroid and coordinate.</param>
    /// <param name="featureWeights">Whether the distance weighs features by their learned relevance.</param>
    /// <param name="centroidPrecision">The precision the centroids are kept in (<see cref="MiniBatchOptions.CentroidPrecision"/>);
    /// <paramref name="centroids"/> are rounded to it.</param>
    public MiniBatchState(float[] centroids, int dimension, KMeansDistance distance, ulong seed, bool missingFeatures = false, bool featureWeights = false,
        ComputePrecision centroidPrecision = ComputePrecision.Float32)
    {
        CentroidPrecision = centroidPrecision;
        HalfPrecisionConversion.RoundTo(centroids, centroidPrecision);
        if (featureWeights)
            Relevance = new FeatureRelevance(dimension);
        Centroids = centroids;
        Dimension = dimension;
        NumberOfClusters = centroids.Length / dimension;
        Distance = distance;
        Seed = seed;
        WeightSums = new double[NumberOfClusters];
        if (missingFeatures)
            CoordinateWeights = new double[centroids.Length];
    }

    /// <summary>
    /// With missing features, the weight each centroid has seen per coordinate (K × d, decayed like
    /// <see cref="WeightSums"/>): a row lacking feature j moves no centroid's coordinate j. Null otherwise.
    /// </summary>
    public double[]? CoordinateWeights { get; private set; }

    /// <summary>With automatic feature weights, the features' relevance and current weights; null otherwise.</summary>
    public FeatureRelevance? Relevance { get; private set; }

    public int Dimension { get; }

    public int NumberOfClusters { get; }

    public KMeansDistance Distance { get; }

    /// <summary>The precision the centroids are kept in: each is rounded to it whenever it moves.</summary>
    public ComputePrecision CentroidPrecision { get; }

    /// <summary>K × d centroids, in the fitted coordinates (centred or unit length, as the rows stepped on).</summary>
    public float[] Centroids { get; private set; }

    /// <summary>The weight each centroid has seen, decayed by the forgetting factor; the update's denominators.</summary>
    public double[] WeightSums { get; private set; }

    /// <summary>The seed of the reassignment's draws.</summary>
    public ulong Seed { get; }

    /// <summary>Steps taken; also the counter of each step's random draws.</summary>
    public long Steps { get; set; }

    /// <summary>Rows stepped on since reassignment was last checked.</summary>
    public long RowsSinceReassignment { get; set; }

    /// <summary>Centroids moved to rows because they had won too little weight.</summary>
    public long Reassigned { get; set; }

    /// <summary>Weighted sum of each row's squared distance to the centroid it was assigned to when it was stepped on.</summary>
    public double OnlineInertia { get; set; }

    /// <summary>Sets the whole state, as a saved one is read back.</summary>
    public void Restore(float[] centroids, double[] weightSums, double[]? coordinateWeights, long steps, long rowsSinceReassignment, long reassigned,
        double onlineInertia, FeatureRelevance? relevance = null)
    {
        Relevance = relevance ?? Relevance;
        Centroids = centroids;
        WeightSums = weightSums;
        CoordinateWeights = coordinateWeights;
        Steps = steps;
        RowsSinceReassignment = rowsSinceReassignment;
        Reassigned = reassigned;
        OnlineInertia = onlineInertia;
    }

    public MiniBatchState Clone()
    {
        var copy = new MiniBatchState(Centroids.ToArray(), Dimension, Distance, Seed, centroidPrecision: CentroidPrecision);
        copy.Restore(Centroids.ToArray(), WeightSums.ToArray(), CoordinateWeights?.ToArray(), Steps, RowsSinceReassignment, Reassigned, OnlineInertia);
        copy.Relevance = Relevance?.Clone();
        return copy;
    }

    /// <summary>
    /// One step on <paramref name="rows"/> (n × d, in the fitted coordinates): every row goes to its nearest centroid; the
    /// seen weights decay by the forgetting factor; each centroid that won rows moves to the weighted mean of its old
    /// position (weighted by what it had seen) and its new rows; then, on schedule, centroids that won too little move to
    /// rows of this batch.
    /// </summary>
    /// <param name="rows">n × d values.</param>
    /// <param name="weights">n weights, or empty for unit weights.</param>
    /// <param name="settings">The forgetting factor and reassignment ratio.</param>
    /// <param name="threads">Threads of the assignment.</param>
    /// <param name="labels">n slots for the labels (scratch, read back by the caller if it wants them).</param>
    /// <param name="distances">n slots for the squared distances (scratch).</param>
    /// <returns>The batch's inertia under the centroids before the step, and the squared distance the centroids moved in all.</returns>
    /// <param name="firstRow">The number of the batch's first row, for the message of a bad row the device finds.</param>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public (double Inertia, double Moved) Step(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, MiniBatchOptions settings, int threads,
        Span<int> labels, Span<float> distances, long firstRow = 0)
    {
        int d = Dimension, k = NumberOfClusters, n = rows.Length / d;
        if (_device is { } device)
        {
            device.Stage(rows, weights);
            Span<MiniBatchStepResult> result = stackalloc MiniBatchStepResult[1];
            device.StepStaged(settings.ForgettingFactor, result);
            var step = Checked(result[0], firstRow);
            double reassigned = DeviceReassignmentWanted(device, n, settings) ? ReassignOnDevice(device, rows, weights, settings.ReassignmentRatio) : 0;
            return Record(step, reassigned);
        }
        if (Relevance is { } relevance)
        {
            // Σ wⱼ(xⱼ − cⱼ)²: rows and centroids scaled by √w for the assignment; the update reads the rows as they are.
            var scaled = rows.ToArray();
            var scaledCentroids = Centroids.ToArray();
            var scale = relevance.Weights.Select(MathF.Sqrt).ToArray();
            VectorMath.ScaleRows(scaled, scale);
            VectorMath.ScaleRows(scaledCentroids, scale);
            Assign(threads, scaledCentroids, scaled, labels[..n], distances[..n]);
            relevance.Add(rows, weights, labels[..n], Centroids, settings.ForgettingFactor);
        }
        else
        {
            Assign(threads, Centroids, rows, labels[..n], distances[..n]);
        }

        // Per-centroid sums in float64, row by row in order: the same bits at any thread count.
        // The sums are clear between steps: each step clears the rows of the clusters it summed into (below), which
        // costs a small batch far less than clearing all K × d; a step that threw part-way leaves them to clear in full.
        var sums = _sums ??= new double[k * d];
        var batchWeights = _batchWeights ??= new double[k];
        if (_sumsDirty)
        {
            Array.Clear(sums);
            Array.Clear(batchWeights);
        }
        _sumsDirty = true;
        double[]? coordinateBatch = null;
        if (CoordinateWeights is not null)
            Array.Clear(coordinateBatch = _coordinateBatch ??= new double[k * d]);
        double inertia = 0;
        for (int r = 0; r < n; r++)
        {
            double w = weights.IsEmpty ? 1 : weights[r];
            if (w == 0)
                continue;
            int c = labels[r];
            batchWeights[c] += w;
            inertia += w * Math.Max(distances[r], 0f);
            if (coordinateBatch is null)
                continue;  // summed below, on every thread
            var row = rows.Slice(r * d, d);
            for (int j = 0; j < d; j++)
            {
                if (float.IsNaN(row[j]))
                    continue;  // a missing feature moves nothing
                sums[c * d + j] += w * row[j];
                coordinateBatch[c * d + j] += w;
            }
        }

        // Without masks: cluster by cluster on every thread, each cluster's rows in row order (the same bits).
        if (coordinateBatch is null)
            ClusterSums.Add(rows, d, weights, labels[..n], sums, null, threads);

        if (Distance == KMeansDistance.Manhattan)
            MedianSums(rows, weights, labels[..n], sums, batchWeights);

        if (settings.ForgettingFactor < 1)
        {
            for (int c = 0; c < k; c++)
                WeightSums[c] *= settings.ForgettingFactor;
            if (CoordinateWeights is { } decaying)
            {
                for (int i = 0; i < decaying.Length; i++)
                    decaying[i] *= settings.ForgettingFactor;
            }
        }
        double moved = 0;
        for (int c = 0; c < k; c++)
        {
            if (batchWeights[c] == 0)
                continue;
            double seen = WeightSums[c], total = seen + batchWeights[c];
            var centroid = Centroids.AsSpan(c * d, d);
            var sum = sums.AsSpan(c * d, d);
            for (int j = 0; j < d; j++)
            {
                double seenHere = seen, totalHere = total;
                if (coordinateBatch is not null)
                {
                    // Per coordinate: the weight of the rows that had feature j.
                    double added = coordinateBatch[c * d + j];
                    if (added == 0)
                        continue;
                    seenHere = CoordinateWeights![c * d + j];
                    totalHere = seenHere + added;
                    CoordinateWeights[c * d + j] = totalHere;
                }
                float updated = HalfPrecisionConversion.RoundTo((float)((centroid[j] * seenHere + sum[j]) / totalHere), CentroidPrecision);
                double change = updated - centroid[j];
                moved += change * change;
                centroid[j] = updated;
            }
            WeightSums[c] = total;
            if (Distance == KMeansDistance.Cosine)
            {
                NormalizeOrKeep(centroid);
                HalfPrecisionConversion.RoundTo(centroid, CentroidPrecision);
            }
        }
        ClearTouchedSums(sums, batchWeights, d);

        RowsSinceReassignment += n;
        if (ReassignmentDue(WeightSums, settings))
        {
            RowsSinceReassignment = 0;
            moved += Reassign(rows, weights, distances[..n], settings.ReassignmentRatio);
        }
        OnlineInertia += inertia;
        Steps++;
        return (inertia, moved);
    }

    /// <summary>Whether the reassignment's schedule has come round: every 10·K rows, or at once while a centroid has seen nothing.</summary>
    private bool ReassignmentDue(ReadOnlySpan<double> weightSums, MiniBatchOptions settings) =>
        settings.ReassignmentRatio > 0 && (RowsSinceReassignment >= 10L * NumberOfClusters || weightSums.IndexOf(0.0) >= 0);

    /// <summary>
    /// The stepper whose device holds and moves the centroids and seen weights (a GPU's; the caller owns it), or null for
    /// the host. Setting it loads the state onto it; clearing it reads the state back, so the host's arrays are current
    /// whenever none is set (and after <see cref="ReadBack"/>). Steps then run whole on the device, but for the
    /// reassignment, which stays on the host and visits the device only when a centroid has won too little.
    /// </summary>
    public IMiniBatchStepper? DeviceSteps
    {
        get => _device;
        set
        {
            if (ReferenceEquals(value, _device))
                return;
            var previous = _device;
            _device = null;  // cleared first: a device that fails to read back is not used again
            previous?.Read(Centroids, WeightSums);
            value?.Load(Centroids, WeightSums);
            _device = value;
        }
    }

    private IMiniBatchStepper? _device;

    /// <summary>Brings the device's centroids and seen weights into the host's arrays, where a stepper holds them.</summary>
    public void ReadBack() => _device?.Read(Centroids, WeightSums);

    /// <summary>
    /// How many of the batches staged on <see cref="DeviceSteps"/> (their row counts, in order) may be stepped in one launch
    /// sequence, without the host between them: up to the one after which the reassignment falls due by the rows seen (all,
    /// without reassignment), and one while a centroid has seen nothing (the reassignment is then due after every step).
    /// </summary>
    public int StepsInOneSequence(ReadOnlySpan<int> rowCounts, MiniBatchOptions settings)
    {
        var device = _device ?? throw new InvalidOperationException("No device steps the state.");
        if (settings.ReassignmentRatio <= 0)
            return rowCounts.Length;
        if (device.WeightSums.IndexOf(0.0) >= 0)
            return Math.Min(1, rowCounts.Length);
        long rows = RowsSinceReassignment;
        int steps = 0;
        foreach (int count in rowCounts)
        {
            steps++;
            rows += count;
            if (rows >= 10L * NumberOfClusters)
                break;
        }
        return steps;
    }

    /// <summary>
    /// The steps on the batches staged longest on <see cref="DeviceSteps"/> (<paramref name="rowCounts"/>: as many as
    /// <see cref="StepsInOneSequence"/> allows), in one launch sequence; the reassignment, due after the last at most, is
    /// the host's. A bad batch throws once the steps before it are recorded; those after it were not taken.
    /// </summary>
    /// <param name="rowCounts">The batches' row counts, in order.</param>
    /// <param name="settings">The forgetting factor and reassignment ratio.</param>
    /// <param name="firstRow">The number of the first batch's first row, for the message of a bad row.</param>
    /// <param name="batch">Batch i's rows and weights on the host, should the reassignment need them.</param>
    /// <param name="stepped">Called with i after batch i's step is recorded.</param>
    public void StepStaged(ReadOnlySpan<int> rowCounts, MiniBatchOptions settings, long firstRow, Func<int, (float[] Rows, float[] Weights)> batch,
        Action<int> stepped)
    {
        var device = _device ?? throw new InvalidOperationException("No device steps the state.");
        var results = new MiniBatchStepResult[rowCounts.Length];
        device.StepStaged(settings.ForgettingFactor, results);
        for (int i = 0; i < results.Length; i++)
        {
            var step = Checked(results[i], firstRow);
            double reassigned = 0;
            if (DeviceReassignmentWanted(device, rowCounts[i], settings))
            {
                // StepsInOneSequence ends a sequence where the reassignment falls due: only its last step gets here, and
                // the device's weights and distances are that step's.
                if (i != results.Length - 1)
                    throw new InvalidOperationException("The reassignment fell due inside a launch sequence.");
                var (rows, weights) = batch(i);
                reassigned = ReassignOnDevice(device, rows, weights, settings.ReassignmentRatio);
            }
            Record(step, reassigned);
            firstRow += rowCounts[i];
            stepped(i);
        }
    }

    /// <summary>Whether <see cref="_sums"/> may hold values of a step that did not finish.</summary>
    private bool _sumsDirty = true;

    /// <summary>
    /// Clears the sums of the clusters that won rows (the only ones a step writes: each sum row is written for a cluster
    /// of the batch's labels, with weight, or by the medians of its rows), so the next step starts from zeros.
    /// </summary>
    private void ClearTouchedSums(double[] sums, double[] batchWeights, int d)
    {
        for (int c = 0; c < batchWeights.Length; c++)
        {
            if (batchWeights[c] == 0)
                continue;
            Array.Clear(sums, c * d, d);
            batchWeights[c] = 0;
        }
        _sumsDirty = false;
    }

    /// <summary>Throws for a batch in which the device found a row that is not finite (it then changed nothing).</summary>
    private static MiniBatchStepResult Checked(MiniBatchStepResult step, long firstRow) => step.BadRow < 0 ? step
        : throw new ArgumentException($"Row {firstRow + step.BadRow} holds a NaN or infinite value, or one beyond the range of the GPU's precision " +
                                      "(or its squared length overflows float32); the batch was not learned from.", "rows");

    /// <summary>Counts a device step's rows towards the reassignment; true when it is due and some centroid has won too little.</summary>
    private bool DeviceReassignmentWanted(IMiniBatchStepper device, int rowCount, MiniBatchOptions settings)
    {
        RowsSinceReassignment += rowCount;
        var seen = device.WeightSums;
        if (!ReassignmentDue(seen, settings))
            return false;
        RowsSinceReassignment = 0;
        double threshold = settings.ReassignmentRatio * TensorPrimitives.Max(seen);
        foreach (double w in seen)
        {
            if (w < threshold)
                return true;
        }
        return false;
    }

    /// <summary>The host's reassignment between device steps: the state comes back, moves, and goes up again.</summary>
    private double ReassignOnDevice(IMiniBatchStepper device, ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, double ratio)
    {
        device.Read(Centroids, WeightSums);
        var distances = new float[rows.Length / Dimension];
        device.ReadDistances(distances);
        double moved = Reassign(rows, weights, distances, ratio);
        device.Load(Centroids, WeightSums);
        return moved;
    }

    private (double Inertia, double Moved) Record(MiniBatchStepResult step, double reassigned)
    {
        OnlineInertia += step.Inertia;
        Steps++;
        return (step.Inertia, step.Moved + reassigned);
    }

    /// <summary>
    /// The L1 rule: each centroid moves towards the weighted coordinate-wise median m of the rows it won in the batch at
    /// the running-mean rate, c ← c + η(m − c) with η = batch weight / seen weight, so <paramref name="sums"/> is
    /// replaced by m × batch weight and the update that follows is the mean's. A median is robust to the outliers an L1
    /// fit is chosen for; at η = 1 (a centroid's first rows) the centroid is their median.
    /// </summary>
    private void MedianSums(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, ReadOnlySpan<int> labels, double[] sums, double[] batchWeights)
    {
        int d = Dimension, k = NumberOfClusters;
        var (start, members) = LabelGroups.ByLabel(labels, k);
        var median = new float[d];
        for (int c = 0; c < k; c++)
        {
            if (batchWeights[c] == 0)
                continue;
            WeightedMedian.OfRows(rows, weights, members.AsSpan(start[c], start[c + 1] - start[c]), median);
            for (int j = 0; j < d; j++)
                sums[c * d + j] = median[j] * batchWeights[c];
        }
    }

    /// <summary>
    /// The backend that assigns the rows of each step when set (a GPU's FlashAssign kernels; the caller owns it), in place
    /// of the CPU scorer. The update stays on the CPU, in row order, so only the labels can differ between devices, and
    /// only for rows that lie as near two centroids as their arithmetic can tell apart.
    /// Setting it (null included) frees the scorer made on the backend before, so set it to null before disposing the backend.
    /// </summary>
    public IKMeansBackend? AssignmentBackend
    {
        get => _assignmentBackend;
        set
        {
            if (ReferenceEquals(value, _assignmentBackend))
                return;
            _assignmentScorer?.Dispose();
            _assignmentScorer = null;
            _assignmentBackend = value;
        }
    }

    private IKMeansBackend? _assignmentBackend;

    /// <summary>The scorer of the steps on <see cref="AssignmentBackend"/>, kept between steps where it can take new centroids.</summary>
    private IKMeansScorer? _assignmentScorer;

    /// <summary>Labels and distances of <paramref name="rows"/> under <paramref name="centroids"/>, on <see cref="AssignmentBackend"/> or the CPU.</summary>
    private void Assign(int threads, float[] centroids, ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        if (AssignmentBackend is { } backend)
        {
            if (_assignmentScorer is IReusableScorer reusable)
            {
                reusable.SetCentroids(centroids);
            }
            else
            {
                _assignmentScorer?.Dispose();
                _assignmentScorer = backend.CreateScorer(centroids, Dimension);
            }
            _assignmentScorer.Assign(rows, labels, distances);
            if (_assignmentScorer is not IReusableScorer)
            {
                _assignmentScorer.Dispose();
                _assignmentScorer = null;
            }
            return;
        }
        Scorer(threads, centroids).Assign(rows, labels, distances);
    }

    /// <summary>The CPU scorer of the given centroids: made once (per thread count) and given the new positions each step.</summary>
    private IKMeansScorer Scorer(int threads, float[] centroids)
    {
        if (_scorer is null || _scorerThreads != threads)
        {
            _scorer = Distance == KMeansDistance.Manhattan ? new ManhattanScorer(centroids, Dimension, threads)
                : CoordinateWeights is not null ? new MissingFeatureScorer(centroids, Dimension, threads)
                : new CpuScorer(centroids, Dimension, threads);
            _scorerThreads = threads;
        }
        else
        {
            switch (_scorer)
            {
                case ManhattanScorer manhattan: manhattan.SetCentroids(centroids); break;
                case MissingFeatureScorer missing: missing.SetCentroids(centroids); break;
                default: ((CpuScorer)_scorer).SetCentroids(centroids); break;
            }
        }
        return _scorer;
    }

    private IKMeansScorer? _scorer;
    private int _scorerThreads;

    /// <summary>
    /// Moves the centroids whose seen weight is below <paramref name="ratio"/> × the largest (the lightest first, at most
    /// half the batch) to distinct rows of the batch, and gives each the smallest seen weight among those kept, so that it
    /// is not moved again at once. Rows are drawn with probability proportional to weight × squared distance to their
    /// nearest centroid before the step, as k-means++ seeds: scikit-learn draws uniformly, which puts a dead centroid
    /// where centroids already are, while this puts it among the rows the centroids serve worst, such as a class that
    /// was absent when the stream was seeded. Returns the squared distance moved.
    /// </summary>
    private double Reassign(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, ReadOnlySpan<float> distances, double ratio)
    {
        int d = Dimension, k = NumberOfClusters, n = rows.Length / d;
        double threshold = ratio * WeightSums.Max();
        var light = Enumerable.Range(0, k).Where(c => WeightSums[c] < threshold)
            .OrderBy(c => WeightSums[c]).ThenBy(c => c).ToList();
        var mass = new double[n];
        int candidates = 0;
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            // A row lacking features cannot become a centroid.
            mass[r] = CoordinateWeights is not null && MissingFeatureScorer.HasMissing(rows.Slice(r * d, d)) ? 0
                : (weights.IsEmpty ? 1.0 : weights[r]) * Math.Max(distances[r], 0f);
            total += mass[r];
            candidates += mass[r] > 0 ? 1 : 0;
        }
        int count = Math.Min(light.Count, Math.Min(n / 2, candidates));
        if (count == 0)
            return 0;
        var kept = new bool[k];
        Array.Fill(kept, true);
        for (int i = 0; i < count; i++)
            kept[light[i]] = false;
        double floor = Enumerable.Range(0, k).Where(c => kept[c]).Select(c => WeightSums[c]).DefaultIfEmpty(0).Min();
        double moved = 0;
        ulong stepSeed = CounterRandom.Derive(CounterRandom.Derive(Seed, 0x4EA551), (ulong)Steps);
        for (int i = 0; i < count; i++)
        {
            // Without replacement: a drawn row's mass is removed before the next draw.
            double target = CounterRandom.Uniform(stepSeed, (ulong)i) * total;
            int pick = -1;
            double cumulative = 0;
            for (int r = 0; r < n; r++)
            {
                if (mass[r] <= 0)
                    continue;
                pick = r;
                cumulative += mass[r];
                if (cumulative > target)
                    break;
            }
            total -= mass[pick];
            mass[pick] = 0;
            int c = light[i];
            var row = rows.Slice(pick * d, d);
            var centroid = Centroids.AsSpan(c * d, d);
            moved += VectorMath.SquaredDistance(row, centroid);
            row.CopyTo(centroid);
            HalfPrecisionConversion.RoundTo(centroid, CentroidPrecision);
            WeightSums[c] = floor;
            CoordinateWeights?.AsSpan(c * d, d).Fill(floor);
        }
        Reassigned += count;
        return moved;
    }

    /// <summary>Scales a cosine centroid back to unit length; a centroid that summed to zero keeps no direction and is left.</summary>
    private static void NormalizeOrKeep(Span<float> centroid)
    {
        double norm = Math.Sqrt(VectorMath.DotDouble(centroid, centroid));
        if (norm > 0)
            VectorMath.ScaleToUnit(centroid, norm);
    }
}
