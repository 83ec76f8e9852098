using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FlashKMeans.Cpu;

/// <summary>
/// The assignment for K ≤ 16 with AVX-512, over <see cref="PackedCentroids.FeatureQuads"/>: one load broadcasts four
/// features of a row to the four lane groups of a vector, and four multiply-adds take them against four vectors that hold
/// those four features of four centroids each. The one-panel loop (<see cref="FusedAssignKernel"/>) broadcasts one feature
/// for one multiply-add, and a feature broadcast is what bounds that loop on AMD cores. Four rows at a time keep sixteen
/// accumulators and the four centroid vectors in registers. Measured with <c>flashkmeans-cpubench assign --k 16
/// --dimension d --threads T</c> (50k random rows, the kernel alone) on two Zen 5 vCPUs: with both threads 6 %, 14 %, 20 %
/// and 26 % faster than the one-panel loop at d = 32, 64, 128 and 512 (128: 259 → 310 GFLOP/s), with one thread 2–5 % up
/// to d = 128 and 27 % at 512; at d = 16 the one-panel loop was ahead (hence <see cref="MinimumDimension"/>).
/// <para>
/// Each centroid's dot product is four partial sums (features 4q, 4q + 1, 4q + 2, 4q + 3), each in feature order, added
/// as (s₀ + s₁) + (s₂ + s₃): deterministic, but not the bits of the one-feature chain. So only packings that ask for it
/// (the CPU binding's step and evaluation, and the scorer that predicts from the model) take this path; seeding and
/// pruning, which rely on the plain kernel's bits, never do.
/// </para>
/// </summary>
internal static unsafe class FeatureQuadKernel
{
    /// <summary>
    /// The shortest rows the kernel takes. Below it each row's fixed cost (four permutes, the masked last features) outweighs
    /// the broadcasts saved; see <see cref="FeatureQuadKernel"/> for the measurement.
    /// </summary>
    public const int MinimumDimension = 32;

    /// <summary>Whether this machine runs the kernel.</summary>
    public static bool IsSupported => Vector512Ops.IsSupported && Avx.IsSupported;

    /// <summary>Nearest centroid and its squared distance (clamped at 0) for each row, as <see cref="FusedAssignKernel.Assign"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Assign(ReadOnlySpan<float> rows, PackedCentroids c, Span<int> labels, Span<float> distances)
    {
        int d = c.Dimension, n = rows.Length / d, quads = d / 4, tail = d % 4;
        var norms = Vector512.LoadUnsafe(ref c.Norms[0]);
        // Lane 4m + t of A_j holds the partial sum over features ≡ t (mod 4) of centroid 4j + m. The first permutes add
        // t = 0, 1 and t = 2, 3 of A_j and A_j+1 into one vector; the second gathers each centroid's two halves in order.
        var pairsLow = Vector512.Create(0, 2, 16, 18, 4, 6, 20, 22, 8, 10, 24, 26, 12, 14, 28, 30);
        var pairsHigh = pairsLow + Vector512<int>.One;
        var halvesLow = Vector512.Create(0, 4, 8, 12, 2, 6, 10, 14, 16, 20, 24, 28, 18, 22, 26, 30);
        var halvesHigh = halvesLow + Vector512<int>.One;
        Span<float> minima = stackalloc float[4];
        Span<uint> lanes = stackalloc uint[4];
        fixed (float* xs = rows)
        fixed (float* packed = c.FeatureQuads)
        {
            for (int r = 0; r < n; r += 4)
            {
                // A short last block repeats its last row and drops the copies: each row's sums depend on that row alone.
                int live = Math.Min(4, n - r);
                Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
                Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
                float* x0 = xs + (long)r * d, x1 = x0 + (long)Math.Min(1, live - 1) * d;
                float* x2 = x0 + (long)Math.Min(2, live - 1) * d, x3 = x0 + (long)(live - 1) * d;
                float* cq = packed;
                for (int q = 0; q < quads; q++, cq += 64)
                {
                    Vector512<float> c0 = Avx512F.LoadVector512(cq), c1 = Avx512F.LoadVector512(cq + 16);
                    Vector512<float> c2 = Avx512F.LoadVector512(cq + 32), c3 = Avx512F.LoadVector512(cq + 48);
                    var b = Avx512F.BroadcastVector128ToVector512(x0 + 4 * q);
                    a00 = Avx512F.FusedMultiplyAdd(b, c0, a00); a01 = Avx512F.FusedMultiplyAdd(b, c1, a01);
                    a02 = Avx512F.FusedMultiplyAdd(b, c2, a02); a03 = Avx512F.FusedMultiplyAdd(b, c3, a03);
                    b = Avx512F.BroadcastVector128ToVector512(x1 + 4 * q);
                    a10 = Avx512F.FusedMultiplyAdd(b, c0, a10); a11 = Avx512F.FusedMultiplyAdd(b, c1, a11);
                    a12 = Avx512F.FusedMultiplyAdd(b, c2, a12); a13 = Avx512F.FusedMultiplyAdd(b, c3, a13);
                    b = Avx512F.BroadcastVector128ToVector512(x2 + 4 * q);
                    a20 = Avx512F.FusedMultiplyAdd(b, c0, a20); a21 = Avx512F.FusedMultiplyAdd(b, c1, a21);
                    a22 = Avx512F.FusedMultiplyAdd(b, c2, a22); a23 = Avx512F.FusedMultiplyAdd(b, c3, a23);
                    b = Avx512F.BroadcastVector128ToVector512(x3 + 4 * q);
                    a30 = Avx512F.FusedMultiplyAdd(b, c0, a30); a31 = Avx512F.FusedMultiplyAdd(b, c1, a31);
                    a32 = Avx512F.FusedMultiplyAdd(b, c2, a32); a33 = Avx512F.FusedMultiplyAdd(b, c3, a33);
                }
                if (tail > 0)
                {
                    Vector512<float> c0 = Avx512F.LoadVector512(cq), c1 = Avx512F.LoadVector512(cq + 16);
                    Vector512<float> c2 = Avx512F.LoadVector512(cq + 32), c3 = Avx512F.LoadVector512(cq + 48);
                    var b = LastFeatures(x0 + 4 * quads, tail);
                    a00 = Avx512F.FusedMultiplyAdd(b, c0, a00); a01 = Avx512F.FusedMultiplyAdd(b, c1, a01);
                    a02 = Avx512F.FusedMultiplyAdd(b, c2, a02); a03 = Avx512F.FusedMultiplyAdd(b, c3, a03);
                    b = LastFeatures(x1 + 4 * quads, tail);
                    a10 = Avx512F.FusedMultiplyAdd(b, c0, a10); a11 = Avx512F.FusedMultiplyAdd(b, c1, a11);
                    a12 = Avx512F.FusedMultiplyAdd(b, c2, a12); a13 = Avx512F.FusedMultiplyAdd(b, c3, a13);
                    b = LastFeatures(x2 + 4 * quads, tail);
                    a20 = Avx512F.FusedMultiplyAdd(b, c0, a20); a21 = Avx512F.FusedMultiplyAdd(b, c1, a21);
                    a22 = Avx512F.FusedMultiplyAdd(b, c2, a22); a23 = Avx512F.FusedMultiplyAdd(b, c3, a23);
                    b = LastFeatures(x3 + 4 * quads, tail);
                    a30 = Avx512F.FusedMultiplyAdd(b, c0, a30); a31 = Avx512F.FusedMultiplyAdd(b, c1, a31);
                    a32 = Avx512F.FusedMultiplyAdd(b, c2, a32); a33 = Avx512F.FusedMultiplyAdd(b, c3, a33);
                }
                // Every row's least key before any call: no accumulator may stay live across one (see FusedAssignKernel).
                minima[0] = FusedAssignKernel.Least<Vector512Ops, Vector512<float>>(Dots(a00, a01, a02, a03, pairsLow, pairsHigh, halvesLow, halvesHigh), norms, out lanes[0]);
                minima[1] = FusedAssignKernel.Least<Vector512Ops, Vector512<float>>(Dots(a10, a11, a12, a13, pairsLow, pairsHigh, halvesLow, halvesHigh), norms, out lanes[1]);
                minima[2] = FusedAssignKernel.Least<Vector512Ops, Vector512<float>>(Dots(a20, a21, a22, a23, pairsLow, pairsHigh, halvesLow, halvesHigh), norms, out lanes[2]);
                minima[3] = FusedAssignKernel.Least<Vector512Ops, Vector512<float>>(Dots(a30, a31, a32, a33, pairsLow, pairsHigh, halvesLow, halvesHigh), norms, out lanes[3]);
                for (int i = 0; i < live; i++)
                    FusedAssignKernel.Finish(c, rows, r + i, minima[i], lanes[i], labels, distances);
            }
        }
    }

    /// <summary>The 16 dot products, lane = centroid, from the four accumulators of one row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Dots(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        Vector512<int> pairsLow, Vector512<int> pairsHigh, Vector512<int> halvesLow, Vector512<int> halvesHigh)
    {
        var first = Avx512F.PermuteVar16x32x2(a0, pairsLow, a1) + Avx512F.PermuteVar16x32x2(a0, pairsHigh, a1);
        var second = Avx512F.PermuteVar16x32x2(a2, pairsLow, a3) + Avx512F.PermuteVar16x32x2(a2, pairsHigh, a3);
        return Avx512F.PermuteVar16x32x2(first, halvesLow, second) + Avx512F.PermuteVar16x32x2(first, halvesHigh, second);
    }

    /// <summary>The last 1–3 features of a row, zeros after them, in every lane group; reads nothing past the row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LastFeatures(float* x, int count)
    {
        var mask = Vector128.LessThan(Vector128.Create(0, 1, 2, 3), Vector128.Create(count)).AsSingle();
        var v = Avx.MaskLoad(x, mask);
        var half = Vector256.Create(v, v);
        return Vector512.Create(half, half);
    }

    /// <summary>Lays K ≤ 16 centroids out for the kernel: see <see cref="PackedCentroids.FeatureQuads"/>.</summary>
    public static void Fill(ReadOnlySpan<float> centroids, int count, int d, Span<float> quads)
    {
        quads.Clear();
        for (int c = 0; c < count; c++)
        {
            int j = c / 4, m = c % 4;
            for (int f = 0; f < d; f++)
                quads[((f / 4) * 4 + j) * 16 + 4 * m + f % 4] = centroids[c * d + f];
        }
    }
}
