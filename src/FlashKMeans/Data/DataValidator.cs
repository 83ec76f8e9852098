using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FlashKMeans.Primitives;
using FlashKMeans.Threading;

namespace FlashKMeans.Data;

/// <summary>What one validating pass learned about a source.</summary>
/// <param name="RowCount">Rows in a pass.</param>
/// <param name="TotalWeight">Sum of the row weights (the row count without weights).</param>
/// <param name="MaximumAbsoluteValue">The largest |feature| (NaN where not measured): whether the data fits a
/// half-precision type on the GPU.</param>
internal readonly record struct DataSummary(long RowCount, double TotalWeight, float MaximumAbsoluteValue = float.NaN)
{
    /// <summary>The weighted mean row (null where not measured).</summary>
    public double[]? Mean { get; init; }

    /// <summary>
    /// The weighted mean of ‖x − mean‖², the data's spread (NaN where not measured). Against ‖mean‖² it tells how
    /// many digits the float32 expansion ‖x‖² + ‖c‖² − 2x·c loses away from the origin.
    /// </summary>
    public double MeanSquaredDeviation { get; init; } = double.NaN;

    /// <summary>
    /// The largest |x − shift| per feature bound for a row shifted by <paramref name="shift"/>: what
    /// <see cref="MaximumAbsoluteValue"/> becomes once the rows are centred (NaN where not measured).
    /// </summary>
    internal float ShiftedMaximumAbsoluteValue(ReadOnlySpan<float> shift)
    {
        if (FeatureMinimum is null || FeatureMaximum is null)
            return float.NaN;
        double max = 0;
        for (int j = 0; j < shift.Length; j++)
            max = Math.Max(max, Math.Max(FeatureMaximum[j] - (double)shift[j], shift[j] - (double)FeatureMinimum[j]));
        // Rounded up, so that a test against a half type's range errs on the safe side.
        return MathF.BitIncrement((float)max);
    }

    /// <summary>Each feature's smallest value (null where not measured).</summary>
    internal float[]? FeatureMinimum { get; init; }

    /// <summary>Each feature's largest value (null where not measured).</summary>
    internal float[]? FeatureMaximum { get; init; }
}

/// <summary>
/// Reads a source once before any work starts and rejects what would poison a fit: non-finite features,
/// negative, non-finite or all-zero weights, inconsistent batches, and empty data.
/// </summary>
internal static class DataValidator
{
    /// <summary>
    /// The largest squared row length a squared-Euclidean fit accepts. The kernels compute
    /// ‖x‖² + ‖c‖² − 2·x·c in float32, and a centroid is no longer than the longest row, so every term stays
    /// below float.MaxValue only while ‖x‖² ≤ float.MaxValue / 4 (‖x‖ up to about 9.2e18). Beyond it the
    /// distances overflow to ∞ − ∞ = NaN, and labels and inertia become meaningless.
    /// </summary>
    public const float MaximumSquaredNorm = float.MaxValue / 4;

    /// <summary>Scans every row of <paramref name="source"/>.</summary>
    /// <exception cref="ArgumentException">The data is empty or holds a bad value; the message names the row.</exception>
    public static DataSummary Scan(IBatchSource source, CancellationToken cancellationToken = default)
        => Scan(source, checkNorms: false, cancellationToken);

    /// <summary>
    /// Scans every row of <paramref name="source"/> for a fit with <paramref name="distance"/>: as
    /// <see cref="Scan(IBatchSource, CancellationToken)"/>, and for squared Euclidean distance also rejects a row
    /// longer than <see cref="MaximumSquaredNorm"/> allows (cosine fits scale rows to unit length first).
    /// </summary>
    /// <exception cref="ArgumentException">The data is empty or holds a bad value; the message names the row.</exception>
    public static DataSummary Scan(IBatchSource source, KMeansDistance distance, CancellationToken cancellationToken = default)
        => Scan(source, checkNorms: distance == KMeansDistance.SquaredEuclidean, cancellationToken);

    /// <summary>
    /// As <see cref="Scan(IBatchSource, KMeansDistance, CancellationToken)"/>, reporting the rows read to
    /// <paramref name="progress"/> (<see cref="KMeansPhase.Validation"/>) after each slice, with the time on <paramref name="clock"/>.
    /// </summary>
    public static DataSummary Scan(IBatchSource source, KMeansDistance distance, IProgress<KMeansProgress>? progress,
        System.Diagnostics.Stopwatch clock, CancellationToken cancellationToken = default)
        => Scan(source, checkNorms: distance == KMeansDistance.SquaredEuclidean, cancellationToken, progress is null ? null : rows =>
            progress.Report(new KMeansProgress(0, 0, double.NaN, double.NaN, clock.Elapsed)
            {
                Phase = KMeansPhase.Validation,
                RowsRead = rows,
                Fraction = source.RowCount is long total && total > 0 ? Math.Min(1, (double)rows / total) : double.NaN,
            }));

    /// <summary>
    /// Throws, naming the first offending row (numbered from <paramref name="firstRow"/>), when
    /// <paramref name="values"/> (rows of <paramref name="dimension"/> features) hold a NaN or infinite
    /// feature or, with <paramref name="checkNorms"/>, a row longer than <see cref="MaximumSquaredNorm"/>
    /// allows. Fitting and scoring check rows the same way, so a row a fit would reject is never scored.
    /// </summary>
    /// <exception cref="ArgumentException">A row is bad; the exception's parameter is <paramref name="parameterName"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // every fit's first pass: no unoptimised first tier
    public static void ThrowIfBadRows(ReadOnlySpan<float> values, int dimension, long firstRow, bool checkNorms, string parameterName)
    {
        if (!AllFinite(values))
        {
            int at = FirstNonFinite(values);
            throw new ArgumentException(
                $"Row {firstRow + at / dimension} has a non-finite value ({values[at]}) at feature {at % dimension}; NaN and infinite features are not allowed.",
                parameterName);
        }
        if (!checkNorms)
            return;
        for (int r = 0; r < values.Length / dimension; r++)
        {
            var row = values.Slice(r * dimension, dimension);
            float squaredNorm = VectorMath.SquaredNorm(row);
            if (!(squaredNorm <= MaximumSquaredNorm))
                throw new ArgumentException(
                    $"Row {firstRow + r} has squared length {squaredNorm:G3}, more than {MaximumSquaredNorm:G3}: its squared Euclidean " +
                    "distances would overflow float32. Scale the data down before clustering.",
                    parameterName);
        }
    }

    private static DataSummary Scan(IBatchSource source, bool checkNorms, CancellationToken cancellationToken, Action<long>? rowsRead = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        int d = source.Dimension;
        if (d < 1)
            throw new ArgumentException($"The source reports dimension {d}; it must be at least 1.", nameof(source));
        var parallel = new ChunkedParallel(Environment.ProcessorCount);
        var totals = new ChunkScan(d);
        var open = new Dictionary<int, ChunkScan>();
        double[]? origin = null;
        long rows = 0;
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (batch.Dimension != d)
                    throw new ArgumentException($"A batch has dimension {batch.Dimension} but the source declares {d}.", nameof(source));
                if (batch.FirstRow != rows)
                    throw new ArgumentException($"A batch starts at row {batch.FirstRow} where row {rows} was expected.", nameof(source));
                if (source.HasWeights && batch.Weights.Length != batch.RowCount)
                    throw new ArgumentException($"The source declares weights but the batch at row {rows} has none.", nameof(source));
                if (origin is null && batch.RowCount > 0)
                {
                    origin = new double[d];
                    var firstRow = batch.Rows.Span[..d];
                    for (int j = 0; j < d; j++)
                        origin[j] = firstRow[j];
                }
                // Slices of whole chunks keep the partials of one slice, not of a whole (possibly huge) batch, alive.
                for (int offset = 0; offset < batch.RowCount; offset += SliceRows)
                {
                    int count = Math.Min(SliceRows, batch.RowCount - offset);
                    long first = batch.FirstRow + offset;
                    var sliceRows = batch.Rows.Slice(offset * d, count * d);
                    var sliceWeights = batch.Weights.IsEmpty ? default : batch.Weights.Slice(offset, count);
                    int firstChunk = (int)(first / ChunkedParallel.ChunkRows), lastChunk = (int)((first + count - 1) / ChunkedParallel.ChunkRows);
                    for (int c = firstChunk; c <= lastChunk; c++)
                    {
                        if (!open.ContainsKey(c))
                            open[c] = new ChunkScan(d);
                    }
                    var start = origin!;
                    parallel.ForSlice(first, count, (chunk, at, n) =>
                        open[chunk].Add(sliceRows.Span.Slice((int)(at - first) * d, n * d),
                            sliceWeights.IsEmpty ? default : sliceWeights.Span.Slice((int)(at - first), n), at, start, checkNorms),
                        cancellationToken);
                    // The first bad row of the data is in the lowest chunk that found one.
                    for (int c = firstChunk; c <= lastChunk; c++)
                    {
                        if (open[c].Error is { } error)
                            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
                    }
                    // Chunks that end in this slice are complete: fold them in, in chunk order.
                    for (int c = firstChunk; c <= lastChunk; c++)
                    {
                        if ((long)(c + 1) * ChunkedParallel.ChunkRows <= first + count)
                        {
                            totals.Merge(open[c]);
                            open.Remove(c);
                        }
                    }
                    rowsRead?.Invoke(first + count);
                }
                rows += batch.RowCount;
            }
        }
        foreach (var chunk in open.OrderBy(pair => pair.Key))
            totals.Merge(chunk.Value);
        if (rows == 0)
            throw new ArgumentException("The data is empty: it has no rows.", nameof(source));
        if (source.RowCount is long declared && declared != rows)
            throw new ArgumentException($"The source declares {declared} rows but a pass read {rows}.", nameof(source));
        if (!(totals.TotalWeight > 0))
            throw new ArgumentException("All row weights are zero; at least one row must have a positive weight.", nameof(source));
        return totals.Summarize(new DataSummary(rows, totals.TotalWeight, totals.MaximumAbsoluteValue), origin!);
    }

    /// <summary>Rows validated together, in parallel by chunk: 64 chunks.</summary>
    private const int SliceRows = 64 * ChunkedParallel.ChunkRows;

    /// <summary>
    /// What the validation pass learns from one chunk of rows (or, for the totals, from all chunks folded in, in
    /// chunk order): the first bad value, the weight, and the weighted mean, spread and per-feature range. Chunks
    /// are fixed row ranges of the whole data and each is read in row order, so the same rows give the same bits
    /// however they are batched and whatever the thread count. Sums are of x − x₀, x₀ the data's first row, in
    /// float64: data far from the origin keeps its digits. Per feature it keeps Σw(x − x₀) and the range; per row
    /// only ‖x − x₀‖², so the spread is E‖x − x₀‖² − ‖μ − x₀‖².
    /// </summary>
    private sealed class ChunkScan(int d)
    {
        private readonly double[] _sum = new double[d];
        private readonly float[] _min = Filled(d, float.PositiveInfinity);
        private readonly float[] _max = Filled(d, float.NegativeInfinity);
        private double _squares;
        private double _weight;

        /// <summary>Σ of every row's weight (zero weights included, as the row count without weights).</summary>
        public double TotalWeight { get; private set; }

        /// <summary>The largest |value|, from the per-feature range (0 before any row).</summary>
        public float MaximumAbsoluteValue
        {
            get
            {
                float max = 0;
                for (int j = 0; j < d; j++)
                {
                    if (_min[j] <= _max[j])
                        max = MathF.Max(max, MathF.Max(MathF.Abs(_min[j]), MathF.Abs(_max[j])));
                }
                return max;
            }
        }

        /// <summary>The first bad row's exception, thrown by the validator once the chunks before it are known good.</summary>
        public Exception? Error { get; private set; }

        private static float[] Filled(int length, float value)
        {
            var values = new float[length];
            Array.Fill(values, value);
            return values;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // every fit's first pass: no unoptimised first tier
        public void Add(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, long firstRow, double[] origin, bool checkNorms)
        {
            if (Error is not null)
                return;
            if (FirstBadWeight(weights) is var bad and >= 0)
            {
                Error = new ArgumentException($"Row {firstRow + bad} has weight {weights[bad]}; weights must be finite and non-negative.", "source");
                return;
            }
            // Block by block, each small enough to stay in L1 between its check and its sums: one read of the rows from
            // memory rather than one for each. The first bad row is still the first of the chunk (blocks go in row order).
            int n = rows.Length / d, block = Math.Max(1, (32 << 10) / (d * sizeof(float)));
            for (int first = 0; first < n; first += block)
            {
                int count = Math.Min(block, n - first);
                try
                {
                    ThrowIfBadRows(rows.Slice(first * d, count * d), d, firstRow + first, checkNorms, "source");
                }
                catch (ArgumentException e)
                {
                    Error = e;
                    return;
                }
                for (int r = first; r < first + count; r++)
                {
                    double w = weights.IsEmpty ? 1.0 : weights[r];
                    TotalWeight += w;
                    double squares = AddRow(rows.Slice(r * d, d), w, origin);
                    if (w != 0)
                    {
                        _weight += w;
                        _squares += w * squares;
                    }
                }
            }
        }

        /// <summary>Adds a later chunk's partials.</summary>
        public void Merge(ChunkScan chunk)
        {
            for (int j = 0; j < d; j++)
            {
                _sum[j] += chunk._sum[j];
                _min[j] = MathF.Min(_min[j], chunk._min[j]);
                _max[j] = MathF.Max(_max[j], chunk._max[j]);
            }
            _squares += chunk._squares;
            _weight += chunk._weight;
            TotalWeight += chunk.TotalWeight;
        }

        /// <summary>Updates the range, adds w·(x − x₀) to the sums, and returns ‖x − x₀‖².</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private double AddRow(ReadOnlySpan<float> row, double w, double[] origin)
        {
            ref float x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(row);
            ref double first = ref System.Runtime.InteropServices.MemoryMarshal.GetReference<double>(origin);
            ref double sum = ref System.Runtime.InteropServices.MemoryMarshal.GetReference<double>(_sum);
            ref float min = ref System.Runtime.InteropServices.MemoryMarshal.GetReference<float>(_min);
            ref float max = ref System.Runtime.InteropServices.MemoryMarshal.GetReference<float>(_max);
            int j = 0;
            double squares = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var weight = Vector256.Create(w);
                var acc = Vector256<double>.Zero;
                for (; j + Vector256<float>.Count <= d; j += Vector256<float>.Count)
                {
                    var v = Vector256.LoadUnsafe(ref x, (nuint)j);
                    Vector256.Min(Vector256.LoadUnsafe(ref min, (nuint)j), v).StoreUnsafe(ref min, (nuint)j);
                    Vector256.Max(Vector256.LoadUnsafe(ref max, (nuint)j), v).StoreUnsafe(ref max, (nuint)j);
                    var (low, high) = Vector256.Widen(v);
                    var dLow = low - Vector256.LoadUnsafe(ref first, (nuint)j);
                    var dHigh = high - Vector256.LoadUnsafe(ref first, (nuint)j + 4);
                    (Vector256.LoadUnsafe(ref sum, (nuint)j) + weight * dLow).StoreUnsafe(ref sum, (nuint)j);
                    (Vector256.LoadUnsafe(ref sum, (nuint)j + 4) + weight * dHigh).StoreUnsafe(ref sum, (nuint)j + 4);
                    acc += dLow * dLow + dHigh * dHigh;
                }
                squares = Vector256.Sum(acc);
            }
            for (; j < d; j++)
            {
                float v = Unsafe.Add(ref x, j);
                Unsafe.Add(ref min, j) = MathF.Min(Unsafe.Add(ref min, j), v);
                Unsafe.Add(ref max, j) = MathF.Max(Unsafe.Add(ref max, j), v);
                double delta = v - Unsafe.Add(ref first, j);
                Unsafe.Add(ref sum, j) += w * delta;
                squares += delta * delta;
            }
            return squares;
        }

        public DataSummary Summarize(DataSummary summary, double[] origin)
        {
            if (!(_weight > 0))
                return summary;
            var mean = new double[d];
            double offset = 0;
            for (int j = 0; j < d; j++)
            {
                double shift = _sum[j] / _weight;
                mean[j] = origin[j] + shift;
                offset += shift * shift;
            }
            double spread = Math.Max(0, _squares / _weight - offset);
            return summary with { Mean = mean, MeanSquaredDeviation = spread, FeatureMinimum = _min, FeatureMaximum = _max };
        }
    }

    /// <summary>
    /// As <see cref="ThrowIfBadRows"/> where NaN means a missing feature (<see cref="MissingFeatures.Ignore"/>): an infinite
    /// value, or a row with no feature at all, is still an error naming its row.
    /// </summary>
    internal static void ThrowIfBadRowsWithMissing(ReadOnlySpan<float> values, int dimension, long firstRow, string parameterName)
    {
        for (int r = 0; r < values.Length / dimension; r++)
        {
            int present = 0;
            for (int j = 0; j < dimension; j++)
            {
                float v = values[r * dimension + j];
                if (float.IsInfinity(v))
                    throw new ArgumentException($"Row {firstRow + r} has an infinite value ({v}) at feature {j}; only NaN means missing.", parameterName);
                present += float.IsNaN(v) ? 0 : 1;
            }
            if (present == 0)
                throw new ArgumentException($"Row {firstRow + r} has no feature: every value is missing (NaN).", parameterName);
        }
    }

    /// <summary>
    /// The validating pass of data whose NaN features are missing values: rows as <see cref="ThrowIfBadRowsWithMissing"/>
    /// checks them, weights as every fit checks them; the largest |value| over the features present. It measures no mean,
    /// so such data is fitted where it lies.
    /// </summary>
    internal static DataSummary ScanWithMissing(IBatchSource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        int d = source.Dimension;
        long rows = 0;
        double totalWeight = 0;
        float largest = 0;
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (batch.Dimension != d)
                    throw new ArgumentException($"A batch has dimension {batch.Dimension} but the source declares {d}.", nameof(source));
                if (source.HasWeights && batch.Weights.Length != batch.RowCount)
                    throw new ArgumentException($"The source declares weights but the batch at row {rows} has none.", nameof(source));
                var values = batch.Rows.Span;
                ThrowIfBadRowsWithMissing(values, d, rows, nameof(source));
                var weights = batch.Weights.Span;
                if (FirstBadWeight(weights) is var bad and >= 0)
                    throw new ArgumentException($"Row {rows + bad} has weight {weights[bad]}; weights must be finite and non-negative.", nameof(source));
                foreach (float v in values)
                {
                    if (!float.IsNaN(v))
                        largest = Math.Max(largest, Math.Abs(v));
                }
                foreach (float w in weights)
                    totalWeight += w;
                if (weights.IsEmpty)
                    totalWeight += batch.RowCount;
                rows += batch.RowCount;
            }
        }
        if (rows == 0)
            throw new ArgumentException("The data is empty: it has no rows.", nameof(source));
        if (!(totalWeight > 0))
            throw new ArgumentException("Every row has weight 0; at least one must be positive.", nameof(source));
        return new DataSummary(rows, totalWeight, largest);
    }

    /// <summary>The index of the first weight that is negative, NaN or infinite, or −1 when every one is valid.</summary>
    public static int FirstBadWeight(ReadOnlySpan<float> weights)
    {
        for (int i = 0; i < weights.Length; i++)
        {
            float w = weights[i];
            if (!(w >= 0) || float.IsInfinity(w))
                return i;
        }
        return -1;
    }

    /// <summary>True when no value is NaN or infinite (x − x is 0 exactly for finite x only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // every fit's first pass: no unoptimised first tier
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<float>.Count)
        {
            var bad = Vector<int>.Zero;
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(values.Slice(i));
                bad |= Vector.AsVectorInt32(Vector.OnesComplement(Vector.Equals(v - v, Vector<float>.Zero)));
            }
            if (bad != Vector<int>.Zero)
                return false;
        }
        for (; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                return false;
        }
        return true;
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                return i;
        }
        return -1;
    }
}
