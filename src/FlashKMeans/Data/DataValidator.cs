using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlashKMeans.Data;

/// <summary>What one validating pass learned about a source.</summary>
/// <param name="RowCount">Rows in a pass.</param>
/// <param name="TotalWeight">Sum of the row weights (the row count without weights).</param>
/// <param name="MaximumAbsoluteValue">The largest |feature| (NaN where not measured): whether the data fits a
/// half-precision type on the GPU.</param>
public readonly record struct DataSummary(long RowCount, double TotalWeight, float MaximumAbsoluteValue = float.NaN)
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
public static class DataValidator
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
    /// Throws, naming the first offending row (numbered from <paramref name="firstRow"/>), when
    /// <paramref name="values"/> (rows of <paramref name="dimension"/> features) hold a NaN or infinite
    /// feature or, with <paramref name="checkNorms"/>, a row longer than <see cref="MaximumSquaredNorm"/>
    /// allows. Fitting and scoring check rows the same way, so a row a fit would reject is never scored.
    /// </summary>
    /// <exception cref="ArgumentException">A row is bad; the exception's parameter is <paramref name="parameterName"/>.</exception>
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
            float squaredNorm = System.Numerics.Tensors.TensorPrimitives.Dot(row, row);
            if (!(squaredNorm <= MaximumSquaredNorm))
                throw new ArgumentException(
                    $"Row {firstRow + r} has squared length {squaredNorm:G3}, more than {MaximumSquaredNorm:G3}: its squared Euclidean " +
                    "distances would overflow float32. Scale the data down before clustering.",
                    parameterName);
        }
    }

    private static DataSummary Scan(IBatchSource source, bool checkNorms, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        int d = source.Dimension;
        if (d < 1)
            throw new ArgumentException($"The source reports dimension {d}; it must be at least 1.", nameof(source));
        long rows = 0;
        double totalWeight = 0;
        float maxAbs = 0;
        var moments = new WeightedMoments(d);
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (batch.Dimension != d)
                    throw new ArgumentException($"A batch has dimension {batch.Dimension} but the source declares {d}.", nameof(source));
                if (batch.FirstRow != rows)
                    throw new ArgumentException($"A batch starts at row {batch.FirstRow} where row {rows} was expected.", nameof(source));
                ThrowIfBadRows(batch.Rows.Span, d, rows, checkNorms, nameof(source));
                if (!batch.Rows.IsEmpty)
                    maxAbs = MathF.Max(maxAbs, MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(batch.Rows.Span)));
                if (source.HasWeights)
                {
                    if (batch.Weights.Length != batch.RowCount)
                        throw new ArgumentException($"The source declares weights but the batch at row {rows} has none.", nameof(source));
                    var weights = batch.Weights.Span;
                    for (int i = 0; i < weights.Length; i++)
                    {
                        float w = weights[i];
                        if (!(w >= 0) || float.IsInfinity(w))
                            throw new ArgumentException($"Row {rows + i} has weight {w}; weights must be finite and non-negative.", nameof(source));
                        totalWeight += w;
                    }
                }
                else
                {
                    totalWeight += batch.RowCount;
                }
                moments.Add(batch.Rows.Span, batch.Weights.Span);
                rows += batch.RowCount;
            }
        }
        if (rows == 0)
            throw new ArgumentException("The data is empty: it has no rows.", nameof(source));
        if (source.RowCount is long declared && declared != rows)
            throw new ArgumentException($"The source declares {declared} rows but a pass read {rows}.", nameof(source));
        if (!(totalWeight > 0))
            throw new ArgumentException("All row weights are zero; at least one row must have a positive weight.", nameof(source));
        return moments.Summarize(new DataSummary(rows, totalWeight, maxAbs));
    }

    /// <summary>
    /// Weighted mean, spread and per-feature range of the rows, in one pass in row order (so the same rows give
    /// the same bits however they are batched). Sums are of x − x₀, x₀ the first row, in float64: data far from
    /// the origin keeps its digits. Per feature it keeps Σw(x − x₀) and the range; per row only ‖x − x₀‖², so the
    /// spread is E‖x − x₀‖² − ‖μ − x₀‖². Vectorised: it rides along the validation pass at a small fraction of a read.
    /// </summary>
    private sealed class WeightedMoments(int d)
    {
        private readonly double[] _sum = new double[d];
        private readonly double[] _first = new double[d];
        private readonly float[] _min = new float[d];
        private readonly float[] _max = new float[d];
        private double _squares;
        private double _weight;
        private bool _started;

        public void Add(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights)
        {
            int n = rows.Length / d;
            if (n > 0 && !_started)
            {
                for (int j = 0; j < d; j++)
                    _first[j] = rows[j];
                rows[..d].CopyTo(_min);
                rows[..d].CopyTo(_max);
                _started = true;
            }
            for (int r = 0; r < n; r++)
            {
                var row = rows.Slice(r * d, d);
                double w = weights.IsEmpty ? 1.0 : weights[r];
                double squares = AddRow(row, w);
                if (w != 0)
                {
                    _weight += w;
                    _squares += w * squares;
                }
            }
        }

        /// <summary>Updates the range, adds w·(x − x₀) to the sums, and returns ‖x − x₀‖².</summary>
        private double AddRow(ReadOnlySpan<float> row, double w)
        {
            ref float x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(row);
            ref double first = ref System.Runtime.InteropServices.MemoryMarshal.GetReference<double>(_first);
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

        public DataSummary Summarize(DataSummary summary)
        {
            if (!(_weight > 0))
                return summary;
            var mean = new double[d];
            double offset = 0;
            for (int j = 0; j < d; j++)
            {
                double shift = _sum[j] / _weight;
                mean[j] = _first[j] + shift;
                offset += shift * shift;
            }
            double spread = Math.Max(0, _squares / _weight - offset);
            return summary with { Mean = mean, MeanSquaredDeviation = spread, FeatureMinimum = _min, FeatureMaximum = _max };
        }
    }

    /// <summary>True when no value is NaN or infinite (x − x is 0 exactly for finite x only).</summary>
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
