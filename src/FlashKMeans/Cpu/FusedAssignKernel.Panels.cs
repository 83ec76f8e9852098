using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cpu;

/// <summary>
/// The fused kernel over chosen panels and listed rows, for pruning: what a pruned step or seeding round computes must be
/// bit for bit what the plain kernel (<see cref="FusedAssignKernel.Assign"/>, <see cref="FusedAssignKernel.AllDistances"/>) gives.
/// </summary>
internal static partial class FusedAssignKernel
{
    /// <summary>
    /// For rows that all need the same panel: each row's smallest ‖c‖² − 2·x·c over the panel and the
    /// lowest centroid index that reaches it. Every lane is computed with exactly the arithmetic of
    /// <see cref="Assign"/> (one fused multiply-add per feature, in feature order, then one more with −2),
    /// so a caller may combine panels and get the label <see cref="Assign"/> would give.
    /// Keys must not be NaN (finite row and centroid norms guarantee it).
    /// </summary>
    /// <param name="rows">Row-major rows, d floats each.</param>
    /// <param name="centroids">The packing whose panel is read.</param>
    /// <param name="panel">Panel index.</param>
    /// <param name="rowIndices">Rows of <paramref name="rows"/> to evaluate.</param>
    /// <param name="minima">Per listed row, the smallest key.</param>
    /// <param name="argmins">Per listed row, the centroid index reaching it, as a float.</param>
    public static void PanelMinimum(ReadOnlySpan<float> rows, PackedCentroids centroids, int panel,
        ReadOnlySpan<int> rowIndices, Span<float> minima, Span<float> argmins)
    {
        switch (centroids.Width)
        {
            case 16: PanelMinimum<Vector512Ops, Vector512<float>>(rows, centroids, panel, rowIndices, minima, argmins); break;
            case 8: PanelMinimum<Vector256Ops, Vector256<float>>(rows, centroids, panel, rowIndices, minima, argmins); break;
            default: PanelMinimum<Vector128Ops, Vector128<float>>(rows, centroids, panel, rowIndices, minima, argmins); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelMinimum<TOps, TVec>(ReadOnlySpan<float> rows, PackedCentroids c, int panel,
        ReadOnlySpan<int> rowIndices, Span<float> minima, Span<float> argmins)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        int d = c.Dimension, w = TOps.Count, count = rowIndices.Length;
        ref float xs = ref MemoryMarshal.GetReference(rows);
        ref float p = ref c.Data[(long)panel * d * w];
        TVec norms = TOps.Load(ref c.Norms[panel * w]);
        TVec indices = TOps.Load(ref c.Indices[panel * w]);
        TVec minusTwo = TOps.Broadcast(-2f);
        TVec infinity = TOps.Broadcast(float.PositiveInfinity);
        Span<TVec> sums = [default, default, default, default, default, default, default, default];
        // Eight independent accumulation chains hide the FMA latency; a short last group repeats its
        // last row and drops the copies.
        for (int i = 0; i < count; i += JobRows)
        {
            int live = Math.Min(JobRows, count - i);
            GroupProducts<TOps, TVec>(ref xs, rowIndices, i, d, ref p, sums);
            for (int r = 0; r < live; r++)
            {
                TVec key = TOps.MultiplyAdd(sums[r], minusTwo, norms);
                float minimum = TOps.MinAcross(key);
                minima[i + r] = minimum;
                argmins[i + r] = TOps.MinAcross(TOps.Select(TOps.Equal(key, TOps.Broadcast(minimum)), indices, infinity));
            }
        }
    }

    /// <summary>
    /// For rows that all need the same panel: each row's squared distances (clamped at 0) to the panel's centroids,
    /// written where <see cref="AllDistances"/> writes them. Every lane is computed with exactly the arithmetic of
    /// <see cref="AllDistances"/> (one fused multiply-add per feature, in feature order, one more with −2, then
    /// ‖x‖² added and the clamp), which depends on neither the lane width nor the row's neighbours, so a caller may
    /// compute only the rows it needs, with a narrower packing than <see cref="PackedCentroids.PreferredWidth"/> where
    /// every width fuses its multiply-adds.
    /// </summary>
    /// <param name="rows">Row-major rows, d floats each.</param>
    /// <param name="centroids">The packing whose panel is read.</param>
    /// <param name="panel">Panel index.</param>
    /// <param name="rowIndices">Rows of <paramref name="rows"/> to evaluate.</param>
    /// <param name="distances">Per listed row, K distances (row-major, K = <paramref name="centroids"/>.Count); this panel's are written.</param>
    public static void PanelDistances(ReadOnlySpan<float> rows, PackedCentroids centroids, int panel,
        ReadOnlySpan<int> rowIndices, Span<float> distances)
    {
        switch (centroids.Width)
        {
            case 16: PanelDistances<Vector512Ops, Vector512<float>>(rows, centroids, panel, rowIndices, distances); break;
            case 8: PanelDistances<Vector256Ops, Vector256<float>>(rows, centroids, panel, rowIndices, distances); break;
            default: PanelDistances<Vector128Ops, Vector128<float>>(rows, centroids, panel, rowIndices, distances); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PanelDistances<TOps, TVec>(ReadOnlySpan<float> rows, PackedCentroids c, int panel,
        ReadOnlySpan<int> rowIndices, Span<float> distances)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        int d = c.Dimension, w = TOps.Count, count = rowIndices.Length, k = c.Count;
        ref float xs = ref MemoryMarshal.GetReference(rows);
        ref float p = ref c.Data[(long)panel * d * w];
        TVec norms = TOps.Load(ref c.Norms[panel * w]);
        Span<float> lanes = stackalloc float[w];
        Span<TVec> sums = [default, default, default, default, default, default, default, default];
        // As in PanelMinimum: eight independent chains; a short last group repeats its last row and drops the copies.
        for (int i = 0; i < count; i += JobRows)
        {
            if (Sse.IsSupported)
            {
                // Listed rows are scattered: ask for the next group's while this one computes (only a hint: a stale
                // address, should the collector move the array meanwhile, costs nothing).
                for (int r = i + JobRows, end = Math.Min(i + 2 * JobRows, count); r < end; r++)
                {
                    ref byte start = ref Unsafe.As<float, byte>(ref Unsafe.Add(ref xs, (nint)rowIndices[r] * d));
                    for (int offset = 0; offset < d * sizeof(float); offset += 64)
                        Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref start, offset)));
                }
            }
            int live = Math.Min(JobRows, count - i);
            GroupProducts<TOps, TVec>(ref xs, rowIndices, i, d, ref p, sums);
            for (int r = 0; r < live; r++)
            {
                var x = rows.Slice(rowIndices[i + r] * d, d);
                WriteDistances<TOps, TVec>(sums[r], norms, panel * w, k, VectorMath.SquaredNorm(x), distances, i + r, lanes);
            }
        }
    }

    /// <summary>
    /// x·c over one panel (its w lanes) for the <see cref="JobRows"/> listed rows from <paramref name="i"/>: eight
    /// independent FMA chains, one per row, in feature order, which hide the FMA latency. A short last group
    /// repeats its last row (the caller drops the copies).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GroupProducts<TOps, TVec>(ref float xs, ReadOnlySpan<int> rowIndices, int i, int d, ref float p, Span<TVec> sums)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        int w = TOps.Count, last = rowIndices.Length - 1;
        ref float x0 = ref Unsafe.Add(ref xs, (nint)rowIndices[i] * d);
        ref float x1 = ref Unsafe.Add(ref xs, (nint)rowIndices[Math.Min(i + 1, last)] * d);
        ref float x2 = ref Unsafe.Add(ref xs, (nint)rowIndices[Math.Min(i + 2, last)] * d);
        ref float x3 = ref Unsafe.Add(ref xs, (nint)rowIndices[Math.Min(i + 3, last)] * d);
        ref float x4 = ref Unsafe.Add(ref xs, (nint)rowIndices[Math.Min(i + 4, last)] * d);
        ref float x5 = ref Unsafe.Add(ref xs, (nint)rowIndices[Math.Min(i + 5, last)] * d);
        ref float x6 = ref Unsafe.Add(ref xs, (nint)rowIndices[Math.Min(i + 6, last)] * d);
        ref float x7 = ref Unsafe.Add(ref xs, (nint)rowIndices[Math.Min(i + 7, last)] * d);
        TVec a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int f = 0; f < d; f++)
        {
            TVec cf = TOps.Load(ref Unsafe.Add(ref p, f * w));
            a0 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref x0, f)), cf, a0);
            a1 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref x1, f)), cf, a1);
            a2 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref x2, f)), cf, a2);
            a3 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref x3, f)), cf, a3);
            a4 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref x4, f)), cf, a4);
            a5 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref x5, f)), cf, a5);
            a6 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref x6, f)), cf, a6);
            a7 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref x7, f)), cf, a7);
        }
        sums[0] = a0; sums[1] = a1; sums[2] = a2; sums[3] = a3;
        sums[4] = a4; sums[5] = a5; sums[6] = a6; sums[7] = a7;
    }
}
