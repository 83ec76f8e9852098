using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlashKMeans.Primitives;

/// <summary>Small vector helpers shared by the engine and the CPU backend.</summary>
internal static class VectorMath
{
    /// <summary>Dot product accumulated in float64, for norms that must not lose precision.</summary>
    public static double DotDouble(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
            sum += (double)a[i] * b[i];
        return sum;
    }

    /// <summary>
    /// sum[f] += w·x[f] in float64, element by element. The product is rounded before the add, never
    /// fused, so every SIMD width gives the scalar loop's bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddScaled(Span<double> sum, ReadOnlySpan<float> x, double w)
    {
        int n = x.Length, f = 0;
        ref double s = ref MemoryMarshal.GetReference(sum);
        ref float v = ref MemoryMarshal.GetReference(x);
        if (sum.Length < n)
            throw new ArgumentException("The sum is shorter than the row.", nameof(sum));
        if (Vector512.IsHardwareAccelerated)
        {
            var scale = Vector512.Create(w);
            for (; f + Vector512<float>.Count <= n; f += Vector512<float>.Count)
            {
                var (low, high) = Vector512.Widen(Vector512.LoadUnsafe(ref v, (nuint)f));
                (Vector512.LoadUnsafe(ref s, (nuint)f) + low * scale).StoreUnsafe(ref s, (nuint)f);
                (Vector512.LoadUnsafe(ref s, (nuint)f + 8) + high * scale).StoreUnsafe(ref s, (nuint)f + 8);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var scale = Vector256.Create(w);
            for (; f + Vector256<float>.Count <= n; f += Vector256<float>.Count)
            {
                var (low, high) = Vector256.Widen(Vector256.LoadUnsafe(ref v, (nuint)f));
                (Vector256.LoadUnsafe(ref s, (nuint)f) + low * scale).StoreUnsafe(ref s, (nuint)f);
                (Vector256.LoadUnsafe(ref s, (nuint)f + 4) + high * scale).StoreUnsafe(ref s, (nuint)f + 4);
            }
        }
        for (; f < n; f++)
            Unsafe.Add(ref s, f) += w * Unsafe.Add(ref v, f);
    }

    /// <summary>Σ (aⱼ − bⱼ)² in float64 from the differences: exact to double rounding wherever the values lie.</summary>
    public static double SquaredDistanceDouble(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int j = 0; j < a.Length; j++)
        {
            double difference = (double)a[j] - b[j];
            sum += difference * difference;
        }
        return sum;
    }

    /// <summary>
    /// ‖a − b‖² from the differences: a sum of non-negative terms, exact to float32 rounding wherever a and b
    /// lie, unlike the expansion ‖a‖² + ‖b‖² − 2a·b that the assignment kernels use to find the nearest centroid.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length, f = 0;
        if (b.Length < n)
            throw new ArgumentException("The second vector is shorter than the first.", nameof(b));
        ref float x = ref MemoryMarshal.GetReference(a);
        ref float y = ref MemoryMarshal.GetReference(b);
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= Vector256<float>.Count)
        {
            var acc = Vector256<float>.Zero;
            for (; f + Vector256<float>.Count <= n; f += Vector256<float>.Count)
            {
                var delta = Vector256.LoadUnsafe(ref x, (nuint)f) - Vector256.LoadUnsafe(ref y, (nuint)f);
                acc += delta * delta;
            }
            sum = Vector256.Sum(acc);
        }
        for (; f < n; f++)
        {
            float delta = Unsafe.Add(ref x, f) - Unsafe.Add(ref y, f);
            sum += delta * delta;
        }
        return sum;
    }

    /// <summary>
    /// Each row's <see cref="SquaredDistance"/> to the centroid its label names: the distance a kernel found from the
    /// expansion, taken again without cancellation (a row on its centroid gets 0, not a rounding residue).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SquaredDistancesToLabels(ReadOnlySpan<float> rows, ReadOnlySpan<int> labels, ReadOnlySpan<float> centroids,
        int dimension, Span<float> distances)
    {
        for (int i = 0; i < labels.Length; i++)
            distances[i] = SquaredDistance(rows.Slice(i * dimension, dimension), centroids.Slice(labels[i] * dimension, dimension));
    }

    /// <summary>Multiplies every row of <paramref name="rows"/> by <paramref name="scale"/>, feature by feature, in place.</summary>
    public static void ScaleRows(Span<float> rows, ReadOnlySpan<float> scale)
    {
        int d = scale.Length;
        for (int r = 0; r < rows.Length / d; r++)
            TensorPrimitives.Multiply(rows.Slice(r * d, d), scale, rows.Slice(r * d, d));
    }

    /// <summary>
    /// Squared Euclidean length in float32, as the kernels use it: eight lanes, then a pairwise sum of them. Written here
    /// rather than taken from <c>TensorPrimitives.Dot</c> and compiled fully optimised at once, because the assignment
    /// calls it once a row: <c>TensorPrimitives</c>' generic instantiation starts in the JIT's unoptimised first tier, which
    /// made the first iterations of a small fit (50k × 16, K = 16) four times slower than the later ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SquaredNorm(ReadOnlySpan<float> x)
    {
        ref float start = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= Vector256<float>.Count)
        {
            var acc = Vector256<float>.Zero;
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref start, (nuint)i);
                acc += v * v;
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref start, i);
            sum += v * v;
        }
        return sum;
    }

    /// <summary>Scales each row of a row-major block to unit length; zero rows are left as they are.</summary>
    public static void NormalizeRows(Span<float> rows, int dimension)
    {
        for (int r = 0; r < rows.Length / dimension; r++)
        {
            var row = rows.Slice(r * dimension, dimension);
            double norm = Math.Sqrt(DotDouble(row, row));
            if (norm > 0)
                ScaleToUnit(row, norm);
        }
    }

    /// <summary>
    /// Divides <paramref name="row"/> by its positive Euclidean <paramref name="norm"/>. Multiplies by the float
    /// reciprocal where that is finite; below a norm of about 3e-39 (subnormal features) the reciprocal overflows
    /// float, and the row is divided in float64 instead, so it still comes out unit length rather than ∞ or NaN.
    /// </summary>
    public static void ScaleToUnit(Span<float> row, double norm)
    {
        float reciprocal = (float)(1.0 / norm);
        if (float.IsFinite(reciprocal))
        {
            TensorPrimitives.Multiply(row, reciprocal, row);
            return;
        }
        for (int f = 0; f < row.Length; f++)
            row[f] = (float)(row[f] / norm);
    }
}
