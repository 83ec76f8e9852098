using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cpu;

// The bounds: seeding them through the gap table on a full step, and their exact float32 arithmetic and one-byte encoding.
internal sealed unsafe partial class YinyangPruning
{
    /// <summary>
    /// A full step (the first, or a fallback): the unpruned kernel gives labels and distances; stored
    /// bounds are seeded by the triangle inequality through the row's centroid a,
    /// ‖x − c‖ ≥ ‖a − c‖ − ‖x − a‖, from the gaps measured in <see cref="BeginStep"/>: a table lookup per
    /// group instead of every distance.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AssignAll(ReadOnlySpan<float> rows, int firstRow, Span<int> labels, Span<float> distances, PackedCentroids plain)
    {
        FusedAssignKernel.Assign(rows, plain, labels, distances);
        var gaps = _groupGaps;
        int d = _d, count = labels.Length;
        if (!_storesBounds)
        {
            Interlocked.Add(ref _panelsComputed, (long)count * _groups);
            return;
        }
        if (gaps is null)
        {
            // No gap table at this K: start from no bounds; the next step measures them.
            for (int i = 0; i < count; i++)
            {
                RowBounds(firstRow + i).Clear();
                _exponents[firstRow + i] = NoBounds;
            }
            Interlocked.Add(ref _panelsComputed, (long)count * _groups);
            return;
        }
        Span<float> lower = _stride <= 1024 ? stackalloc float[_stride] : new float[_stride];
        for (int i = 0; i < count; i++)
        {
            int row = firstRow + i, label = labels[i];
            var x = rows.Slice(i * d, d);
            float rowNorm = VectorMath.SquaredNorm(x);
            // ‖x − a‖² ≤ distance + E: the distance is the clamped computed key plus the row norm.
            double reach = Math.Sqrt(distances[i] + Margin(rowNorm)) * (1 + 1e-12);
            float upper = (float)reach;
            if (upper < reach)
                upper = MathF.BitIncrement(upper);
            SeedRowBounds(gaps.AsSpan(label * _groups, _groups), upper, row, lower);
        }
        Interlocked.Add(ref _panelsComputed, (long)count * _groups);
    }

    /// <summary>
    /// A row's bounds from its centroid's gaps: gap − ‖x − a‖ (rounded down, at least 0), quantised with
    /// the row's quantum. The own group's gap is 0 (a is a member), so it never sets the quantum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SeedRowBounds(ReadOnlySpan<float> gaps, float upper, int row, Span<float> lower)
    {
        int g = 0;
        float largest = 0;
        if (float.IsFinite(upper))
        {
            if (Vector256.IsHardwareAccelerated)
            {
                var reach = Vector256.Create(upper);
                var most = Vector256<float>.Zero;
                for (; g + 8 <= gaps.Length; g += 8)
                {
                    var bound = Vector256.Create(gaps.Slice(g, 8)) - reach;
                    // One float below the rounded difference is under the exact one.
                    bound = Vector256.ConditionalSelect(Vector256.GreaterThan(bound, Vector256<float>.Zero),
                        (bound.AsInt32() - Vector256<int>.One).AsSingle(), Vector256<float>.Zero);
                    bound.CopyTo(lower.Slice(g, 8));
                    most = Vector256.Max(most, bound);
                }
                largest = Vector128Ops.MinAcross(-Vector128.Max(most.GetLower(), most.GetUpper())) * -1;
            }
            for (; g < gaps.Length; g++)
            {
                float bound = gaps[g] - upper;
                lower[g] = bound > 0 ? MathF.BitDecrement(bound) : 0f;
                largest = Math.Max(largest, lower[g]);
            }
        }
        else
        {
            lower.Slice(0, gaps.Length).Clear();
        }
        // Twice the room: stored bounds also carry the travel to come.
        sbyte exponent = ExponentFor(2 * largest);
        _exponents[row] = exponent;
        float inverse = InverseQuantum(exponent);
        var bounds = RowBounds(row);
        g = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var factor = Vector256.Create(inverse);
            var cap = Vector256.Create(255f);
            for (; g + 16 <= gaps.Length; g += 16)
            {
                var q0 = Vector256.ConvertToInt32(Vector256.Min(Vector256.Floor(Vector256.Create(lower.Slice(g, 8)) * factor), cap));
                var q1 = Vector256.ConvertToInt32(Vector256.Min(Vector256.Floor(Vector256.Create(lower.Slice(g + 8, 8)) * factor), cap));
                var quanta = Vector256.Narrow(q0.AsUInt32(), q1.AsUInt32());
                Vector128.Narrow(quanta.GetLower(), quanta.GetUpper()).CopyTo(bounds.Slice(g, 16));
            }
        }
        for (; g < gaps.Length; g++)
            bounds[g] = Quantize(lower[g], inverse);
    }

    /// <summary>
    /// K × G: for each centroid a and group g, a lower bound on the true distance from a to the nearest
    /// member of g (float32 distances less the margin E, rounded down). Through the triangle inequality,
    /// ‖x − c‖ ≥ ‖a − c‖ − ‖x − a‖, it bounds every row near a afresh each step, whatever the centroids did
    /// before: it seeds the bounds on the first step and covers centroids that jumped (re-seeding).
    /// Blocks of centroids in parallel; each entry depends only on the centroids.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MeasureGroupGaps(float[] centroids, PackedCentroids packed)
    {
        var gaps = _groupGaps;
        if (gaps is null)
            return;
        const int Block = 64;
        int blocks = (_k + Block - 1) / Block;
        var options = new ParallelOptions { MaxDegreeOfParallelism = _threads };
        Threading.ParallelWork.For(0, blocks, options, block => MeasureGroupGapBlock(centroids, packed, block * Block, Math.Min(Block, _k - block * Block), gaps));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MeasureGroupGapBlock(float[] centroids, PackedCentroids packed, int first, int count, float[] gaps)
    {
        int k = _k, d = _d;
        Span<float> nearest = _groups <= 1024 ? stackalloc float[_groups] : new float[_groups];
        var scratch = RentScratch();
        if (scratch.Block.Length < count * k)
            scratch.Block = new float[count * k];
        float[] block = scratch.Block;
        try
        {
            FusedAssignKernel.AllDistances(centroids.AsSpan(first * d, count * d), packed, block.AsSpan(0, count * k));
            for (int i = 0; i < count; i++)
            {
                int a = first + i;
                double margin = Margin(VectorMath.SquaredNorm(centroids.AsSpan(a * d, d)));
                var squares = block.AsSpan(i * k, k);
                var row = gaps.AsSpan(a * _groups, _groups);
                nearest.Fill(float.PositiveInfinity);
                for (int c = 0; c < k; c++)
                    nearest[_groupOf[c]] = Math.Min(nearest[_groupOf[c]], squares[c]);
                for (int g = 0; g < _groups; g++)
                {
                    double square = nearest[g] - margin;
                    if (!(square > 0) || double.IsInfinity(square))
                    {
                        row[g] = 0;
                        continue;
                    }
                    double root = Math.Sqrt(square);
                    float value = (float)root;
                    row[g] = value > root ? MathF.BitDecrement(value) : value;
                }
            }
        }
        finally
        {
            _scratch.Add(scratch);
        }
    }

    /// <summary>q·2^e (exact) less the travel, rounded down; at least 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Read(Vector256<uint> quanta, Vector256<float> quantum, Vector256<float> travel) =>
        StepDown(Vector256.ConvertToSingle(quanta.AsInt32()) * quantum - travel);

    /// <summary>One float below a rounded difference is under the exact one; non-positive or NaN gives 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> StepDown(Vector256<float> difference) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(difference, Vector256<float>.Zero),
            (difference.AsInt32() - Vector256<int>.One).AsSingle(), Vector256<float>.Zero);

    /// <summary>A fresh bound as stored: bound + travel so far, one float low, quantised.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Encode(float bound, float travel, float inverseQuantum) =>
        bound > 0 ? Quantize(MathF.BitDecrement(bound + travel), inverseQuantum) : (byte)0;

    /// <summary>E: the largest amount by which key + fl(‖x‖²) can differ from ‖x − c‖² for any centroid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double Margin(float rowNorm)
    {
        // ‖x‖ from its float32 square: inflate for that square's own rounding.
        double xNorm = Math.Sqrt(rowNorm * (1 + 2 * (_d + 1) * Unit));
        double reach = xNorm + _centroidNorm;
        return _errorScale * reach * reach;
    }

    /// <summary>Marks a row without bounds: its quantum is 0, so every bound reads 0.</summary>
    private const sbyte NoBounds = sbyte.MinValue;

    /// <summary>
    /// The exponent e of the smallest power-of-two quantum 2^e with 255·2^e above <paramref name="largest"/>,
    /// kept where float32 scales by it exactly; <see cref="NoBounds"/> when there is nothing to keep.
    /// </summary>
    private static sbyte ExponentFor(float largest) =>
        largest > 0 && float.IsFinite(largest) ? (sbyte)Math.Clamp(Math.ILogB(largest / 255.0) + 1, -100, 110) : NoBounds;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Quantum(sbyte exponent) => exponent == NoBounds ? 0f : MathF.ScaleB(1f, exponent);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float InverseQuantum(sbyte exponent) => exponent == NoBounds ? 0f : MathF.ScaleB(1f, -exponent);

    /// <summary>
    /// A bound as a byte q with q·2^e ≤ <paramref name="bound"/>: floor(bound·2^−e), exact because the
    /// scale is a power of two, capped at 255.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Quantize(float bound, float inverseQuantum)
    {
        float quanta = MathF.Floor(bound * inverseQuantum);
        return quanta > 0 ? (byte)Math.Min(quanta, 255f) : (byte)0;
    }

    /// <summary>Per group, an upper bound on how far any member moved since the bounds were last set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MeasureDrift(ReadOnlySpan<float> centroids)
    {
        Array.Clear(_drift);
        for (int c = 0; c < _k; c++)
        {
            var now = centroids.Slice(c * _d, _d);
            var before = _reference.AsSpan(c * _d, _d);
            double sum = 0;
            for (int f = 0; f < _d; f++)
            {
                double delta = (double)now[f] - before[f];
                sum += delta * delta;
            }
            if (sum == 0)
                continue;
            double moved = Math.Sqrt(sum) * (1 + 1e-9);
            float up = (float)moved;
            if (up < moved)
                up = MathF.BitIncrement(up);
            ref float drift = ref _drift[_groupOf[c]];
            drift = Math.Max(drift, up);
        }
    }
}
