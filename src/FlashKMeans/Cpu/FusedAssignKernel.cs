using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cpu;

/// <summary>
/// Distance and argmin fused: ‖x‖² + ‖c‖² − 2·x·c with float32 accumulation, register-blocked over
/// 8 rows × 2 panels of centroids, so no N × K matrix is ever stored. Ties go to the lower centroid index.
/// Where every centroid fits one panel (K at most the vector width), 8 rows run against that panel alone.
/// docs/cpu-kernels.md says how the loops keep their accumulators in registers.
/// </summary>
internal static partial class FusedAssignKernel
{
    /// <summary>Rows of one micro-tile.</summary>
    public const int MicroRows = 8;

    /// <summary>Rows whose running minima stay in L1 while every centroid panel streams past.</summary>
    public const int TileRows = 64;

    /// <summary>Rows that <see cref="PanelMinimum"/> carries through one pass over a panel.</summary>
    public const int JobRows = 8;

    /// <summary>Nearest centroid and its squared distance (clamped at 0) for each row.</summary>
    /// <param name="rows">n × d row-major.</param>
    /// <param name="centroids">Packed centroids of dimension d.</param>
    /// <param name="labels">n labels.</param>
    /// <param name="distances">n squared distances, or empty for the labels alone (a caller that measures them otherwise).</param>
    public static void Assign(ReadOnlySpan<float> rows, PackedCentroids centroids, Span<int> labels, Span<float> distances)
    {
        if (centroids.FeatureQuads is not null)
        {
            FeatureQuadKernel.Assign(rows, centroids, labels, distances);
            return;
        }
        if (centroids.InFirstPanel)
        {
            switch (centroids.Width)
            {
                case 16: AssignOnePanel<Vector512Ops, Vector512<float>>(rows, centroids, labels, distances); break;
                case 8: AssignOnePanel<Vector256Ops, Vector256<float>>(rows, centroids, labels, distances); break;
                default: AssignOnePanel<Vector128Ops, Vector128<float>>(rows, centroids, labels, distances); break;
            }
            return;
        }
        switch (centroids.Width)
        {
            case 16: Run<Vector512Ops, Vector512<float>, AssignEpilogue>(rows, centroids, labels, distances); break;
            case 8: Run<Vector256Ops, Vector256<float>, AssignEpilogue>(rows, centroids, labels, distances); break;
            default: Run<Vector128Ops, Vector128<float>, AssignEpilogue>(rows, centroids, labels, distances); break;
        }
    }

    /// <summary>Squared distance (clamped at 0) of each row to every centroid, n × K row-major.</summary>
    public static void AllDistances(ReadOnlySpan<float> rows, PackedCentroids centroids, Span<float> distances)
    {
        switch (centroids.Width)
        {
            case 16: Run<Vector512Ops, Vector512<float>, AllDistancesEpilogue>(rows, centroids, default, distances); break;
            case 8: Run<Vector256Ops, Vector256<float>, AllDistancesEpilogue>(rows, centroids, default, distances); break;
            default: Run<Vector128Ops, Vector128<float>, AllDistancesEpilogue>(rows, centroids, default, distances); break;
        }
    }

    private interface IEpilogue
    {
        static abstract bool KeepsMinimum { get; }
    }

    private struct AssignEpilogue : IEpilogue
    {
        public static bool KeepsMinimum => true;
    }

    private struct AllDistancesEpilogue : IEpilogue
    {
        public static bool KeepsMinimum => false;
    }

    // Fully optimised from the first call: the loops are hot at once, and tier-0 code would slow the first Lloyd step.
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TOps, TVec, TEpilogue>(ReadOnlySpan<float> rows, PackedCentroids c, Span<int> labels, Span<float> output)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
        where TEpilogue : struct, IEpilogue
    {
        int d = c.Dimension;
        int w = TOps.Count;
        int n = rows.Length / d;
        if (n == 0)
            return;
        int k = c.Count;
        // The epilogues' scratch: the assignment's running minima and their indices ([0, TileRows·w) and the same again
        // from MinimaIndexOffset), or the all-distances' lanes of a ragged last panel.
        Span<float> scratch = stackalloc float[MinimaIndexOffset(w) + TileRows * w];
        Span<float> best = scratch[..(TileRows * w)];
        Span<float> bestIndex = scratch.Slice(MinimaIndexOffset(w), TileRows * w);
        Span<float> rowNorms = stackalloc float[TileRows];
        float[] tail = ArrayPool<float>.Shared.Rent(MicroRows * d);
        try
        {
            ref float panels = ref c.Data[0];
            long panelStride = (long)d * w;
            for (int tileStart = 0; tileStart < n; tileStart += TileRows)
            {
                int tileRows = Math.Min(TileRows, n - tileStart);
                int micros = (tileRows + MicroRows - 1) / MicroRows;
                int lastMicroRows = tileRows - (micros - 1) * MicroRows;
                if (lastMicroRows < MicroRows)
                {
                    // The ragged last micro-tile reads from a zero-padded copy so the kernel never branches on row count.
                    var source = rows.Slice((tileStart + (micros - 1) * MicroRows) * d, lastMicroRows * d);
                    source.CopyTo(tail);
                    Array.Clear(tail, source.Length, MicroRows * d - source.Length);
                }
                // Only the distances add the row norms: an assignment asked for labels alone skips them.
                if (!output.IsEmpty)
                {
                    for (int r = 0; r < tileRows; r++)
                        rowNorms[r] = VectorMath.SquaredNorm(rows.Slice((tileStart + r) * d, d));
                }
                if (TEpilogue.KeepsMinimum)
                {
                    best.Slice(0, tileRows * w).Fill(float.PositiveInfinity);
                    bestIndex.Slice(0, tileRows * w).Fill(0f);
                }

                for (int p = 0; p < c.PanelCount; p += 2)
                {
                    ref float panel0 = ref Unsafe.Add(ref panels, (nint)(p * panelStride));
                    ref float panel1 = ref Unsafe.Add(ref panel0, (nint)panelStride);
                    for (int m = 0; m < micros; m++)
                    {
                        int microStart = tileStart + m * MicroRows;
                        ref float x = ref (m == micros - 1 && lastMicroRows < MicroRows)
                            ? ref tail[0]
                            : ref Unsafe.AsRef(in rows[microStart * d]);
                        int liveRows = Math.Min(MicroRows, n - microStart);
                        Micro<TOps, TVec, TEpilogue>(ref x, d, ref panel0, ref panel1, c, p, liveRows, ref scratch[m * MicroRows * w],
                            rowNorms.Slice(m * MicroRows), output, microStart);
                    }
                }

                if (TEpilogue.KeepsMinimum)
                {
                    for (int r = 0; r < tileRows; r++)
                    {
                        var (minimum, index) = LeastOfLanes<TOps, TVec>(best.Slice(r * w, w), bestIndex.Slice(r * w, w));
                        labels[tileStart + r] = (int)index;
                        if (!output.IsEmpty)
                            output[tileStart + r] = Math.Max(0f, rowNorms[r] + minimum);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tail);
        }
        _ = k;
    }

    /// <summary>
    /// <see cref="Assign"/> where every centroid lies in the first panel (K at most the vector width): eight rows at a time
    /// against that one panel, each row's nearest lane then found in registers. The general loop would also run the padding
    /// panel that pairs it and keep every lane's minimum in memory, which at K = 16 cost more than the distances. Each lane's
    /// chain of multiply-adds is the general loop's, so the labels and distances are the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AssignOnePanel<TOps, TVec>(ReadOnlySpan<float> rows, PackedCentroids c, Span<int> labels, Span<float> distances)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        int d = c.Dimension, w = TOps.Count, n = rows.Length / d, r = 0;
        ref float panel = ref c.Data[0];
        ref float x = ref MemoryMarshal.GetReference(rows);
        TVec norms = TOps.Load(ref c.Norms[0]);
        Span<float> minima = stackalloc float[8];
        Span<uint> lanes = stackalloc uint[8];
        for (; r + 8 <= n; r += 8)
        {
            TVec a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            ref float x0 = ref Unsafe.Add(ref x, r * d);
            for (int f = 0; f < d; f++)
            {
                TVec cv = TOps.Load(ref Unsafe.Add(ref panel, f * w));
                ref float xf = ref Unsafe.Add(ref x0, f);
                a0 = TOps.MultiplyAdd(TOps.Broadcast(xf), cv, a0);
                a1 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref xf, d)), cv, a1);
                a2 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref xf, 2 * d)), cv, a2);
                a3 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref xf, 3 * d)), cv, a3);
                a4 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref xf, 4 * d)), cv, a4);
                a5 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref xf, 5 * d)), cv, a5);
                a6 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref xf, 6 * d)), cv, a6);
                a7 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref xf, 7 * d)), cv, a7);
            }
            // Each row's least key and its lanes first, then the labels and row norms: no vector may stay live across a call (a
            // bounds check's throw, SquaredNorm), which made the JIT spill the accumulators on every feature above (2.5×
            // slower at d = 128).
            minima[0] = Least<TOps, TVec>(a0, norms, out lanes[0]);
            minima[1] = Least<TOps, TVec>(a1, norms, out lanes[1]);
            minima[2] = Least<TOps, TVec>(a2, norms, out lanes[2]);
            minima[3] = Least<TOps, TVec>(a3, norms, out lanes[3]);
            minima[4] = Least<TOps, TVec>(a4, norms, out lanes[4]);
            minima[5] = Least<TOps, TVec>(a5, norms, out lanes[5]);
            minima[6] = Least<TOps, TVec>(a6, norms, out lanes[6]);
            minima[7] = Least<TOps, TVec>(a7, norms, out lanes[7]);
            for (int i = 0; i < 8; i++)
                Finish(c, rows, r + i, minima[i], lanes[i], labels, distances);
        }
        for (; r < n; r++)
        {
            TVec a = default;
            ref float xr = ref Unsafe.Add(ref x, r * d);
            for (int f = 0; f < d; f++)
                a = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref xr, f)), TOps.Load(ref Unsafe.Add(ref panel, f * w)), a);
            float minimum = Least<TOps, TVec>(a, norms, out uint least);
            Finish(c, rows, r, minimum, least, labels, distances);
        }
    }

    /// <summary>
    /// A row's least key over its lanes' running minima and, among the lanes that reach it, the lowest centroid index; in
    /// registers (a scalar scan of the lanes cost a third of a step at K = 32, d = 128). Index 0 where no key is below +∞.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float Minimum, float Index) LeastOfLanes<TOps, TVec>(Span<float> best, Span<float> indices)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        TVec keys = TOps.Load(ref best[0]);
        float minimum = TOps.MinAcross(keys);
        if (!(minimum < float.PositiveInfinity))
        {
            // No finite key (or a NaN one, which the vector minimum does not skip): the lane scan's rules.
            float least = float.PositiveInfinity, index = 0;
            for (int j = 0; j < best.Length; j++)
            {
                if (best[j] < least || (best[j] == least && indices[j] < index))
                    (least, index) = (best[j], indices[j]);
            }
            return (least, index);
        }
        TVec reaching = TOps.Select(TOps.Equal(keys, TOps.Broadcast(minimum)), TOps.Load(ref indices[0]), TOps.Broadcast(float.PositiveInfinity));
        return (minimum, TOps.MinAcross(reaching));
    }

    /// <summary>
    /// A row's least ‖c‖² − 2·x·c over the one panel (its distance less its norm) and the lanes that reach it, from its
    /// products: registers only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Least<TOps, TVec>(TVec dot, TVec norms, out uint lanes)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        TVec key = TOps.MultiplyAdd(dot, TOps.Broadcast(-2f), norms);
        float minimum = TOps.MinAcross(key);
        lanes = TOps.LanesEqualTo(key, minimum);
        return minimum;
    }

    /// <summary>
    /// Row <paramref name="row"/>'s label, the lowest of the <paramref name="lanes"/> reaching its least key (lanes are in
    /// index order), and its distance, as the general loop's minima and its pick among them give them.
    /// </summary>
    internal static void Finish(PackedCentroids c, ReadOnlySpan<float> rows, int row, float minimum, uint lanes, Span<int> labels,
        Span<float> distances)
    {
        if (lanes == 0)
        {
            // No key below +inf (never for finite rows): label 0, as the general loop leaves it.
            labels[row] = 0;
            minimum = float.PositiveInfinity;
        }
        else
        {
            labels[row] = (int)c.Indices[BitOperations.TrailingZeroCount(lanes)];
        }
        if (distances.IsEmpty)
            return;
        int d = c.Dimension;
        distances[row] = Math.Max(0f, VectorMath.SquaredNorm(rows.Slice(row * d, d)) + minimum);
    }

    // Not inlined into Run: there the JIT ran out of inlining budget for the second epilogue, called it, and spilled rows
    // 4–7's accumulators on every feature of the loop (8 stores to 16 multiply-adds).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro<TOps, TVec, TEpilogue>(ref float x, int d, ref float panel0, ref float panel1,
        PackedCentroids c, int panelIndex, int liveRows, ref float scratch, ReadOnlySpan<float> rowNorms, Span<float> output, int firstRow)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
        where TEpilogue : struct, IEpilogue
    {
        int w = TOps.Count;
        if (w < 16)
        {
            // AVX2 and SSE have 16 vector registers: 8 rows × 2 panels of accumulators plus the two panel vectors and a
            // broadcast spill to the stack on every feature (1.5× slower at K ≥ 64 on a 2-core AMD EPYC). Two passes of 4
            // rows fit; each lane's chain of multiply-adds is the same, so labels and distances are too.
            Micro4<TOps, TVec, TEpilogue>(ref x, d, ref panel0, ref panel1, c, panelIndex, liveRows, ref scratch, rowNorms, output, firstRow);
            Micro4<TOps, TVec, TEpilogue>(ref Unsafe.Add(ref x, 4 * d), d, ref panel0, ref panel1, c, panelIndex, liveRows - 4,
                ref Unsafe.Add(ref scratch, 4 * w), rowNorms.Slice(4), output, firstRow + 4);
            return;
        }
        var laterNorms = rowNorms.Slice(4);
        ref float laterScratch = ref Unsafe.Add(ref scratch, 4 * w);
        TVec a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        TVec a40 = default, a41 = default, a50 = default, a51 = default, a60 = default, a61 = default, a70 = default, a71 = default;
        ref float x1 = ref Unsafe.Add(ref x, d);
        ref float x2 = ref Unsafe.Add(ref x, 2 * d);
        ref float x3 = ref Unsafe.Add(ref x, 3 * d);
        ref float x4 = ref Unsafe.Add(ref x, 4 * d);
        ref float x5 = ref Unsafe.Add(ref x, 5 * d);
        ref float x6 = ref Unsafe.Add(ref x, 6 * d);
        ref float x7 = ref Unsafe.Add(ref x, 7 * d);
        for (int f = 0; f < d; f++)
        {
            TVec c0 = TOps.Load(ref Unsafe.Add(ref panel0, f * w));
            TVec c1 = TOps.Load(ref Unsafe.Add(ref panel1, f * w));
            TVec b = TOps.Broadcast(Unsafe.Add(ref x, f));
            a00 = TOps.MultiplyAdd(b, c0, a00); a01 = TOps.MultiplyAdd(b, c1, a01);
            b = TOps.Broadcast(Unsafe.Add(ref x1, f));
            a10 = TOps.MultiplyAdd(b, c0, a10); a11 = TOps.MultiplyAdd(b, c1, a11);
            b = TOps.Broadcast(Unsafe.Add(ref x2, f));
            a20 = TOps.MultiplyAdd(b, c0, a20); a21 = TOps.MultiplyAdd(b, c1, a21);
            b = TOps.Broadcast(Unsafe.Add(ref x3, f));
            a30 = TOps.MultiplyAdd(b, c0, a30); a31 = TOps.MultiplyAdd(b, c1, a31);
            b = TOps.Broadcast(Unsafe.Add(ref x4, f));
            a40 = TOps.MultiplyAdd(b, c0, a40); a41 = TOps.MultiplyAdd(b, c1, a41);
            b = TOps.Broadcast(Unsafe.Add(ref x5, f));
            a50 = TOps.MultiplyAdd(b, c0, a50); a51 = TOps.MultiplyAdd(b, c1, a51);
            b = TOps.Broadcast(Unsafe.Add(ref x6, f));
            a60 = TOps.MultiplyAdd(b, c0, a60); a61 = TOps.MultiplyAdd(b, c1, a61);
            b = TOps.Broadcast(Unsafe.Add(ref x7, f));
            a70 = TOps.MultiplyAdd(b, c0, a70); a71 = TOps.MultiplyAdd(b, c1, a71);
        }

        // Rows 0–3, then 4–7: each row's panel 0 before its panel 1, so among equal distances the lower index survives.
        Epilogue4<TOps, TVec, TEpilogue>(a00, a01, a10, a11, a20, a21, a30, a31, c, panelIndex, liveRows, ref scratch, rowNorms, output, firstRow);
        Epilogue4<TOps, TVec, TEpilogue>(a40, a41, a50, a51, a60, a61, a70, a71, c, panelIndex, liveRows - 4,
            ref laterScratch, laterNorms, output, firstRow + 4);
    }

    /// <summary><see cref="Micro{TOps, TVec, TEpilogue}"/> for 4 rows, whose accumulators fit 16 vector registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro4<TOps, TVec, TEpilogue>(ref float x, int d, ref float panel0, ref float panel1,
        PackedCentroids c, int panelIndex, int liveRows, ref float scratch, ReadOnlySpan<float> rowNorms, Span<float> output, int firstRow)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
        where TEpilogue : struct, IEpilogue
    {
        int w = TOps.Count;
        TVec a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        ref float x1 = ref Unsafe.Add(ref x, d);
        ref float x2 = ref Unsafe.Add(ref x, 2 * d);
        ref float x3 = ref Unsafe.Add(ref x, 3 * d);
        for (int f = 0; f < d; f++)
        {
            TVec c0 = TOps.Load(ref Unsafe.Add(ref panel0, f * w));
            TVec c1 = TOps.Load(ref Unsafe.Add(ref panel1, f * w));
            TVec b = TOps.Broadcast(Unsafe.Add(ref x, f));
            a00 = TOps.MultiplyAdd(b, c0, a00); a01 = TOps.MultiplyAdd(b, c1, a01);
            b = TOps.Broadcast(Unsafe.Add(ref x1, f));
            a10 = TOps.MultiplyAdd(b, c0, a10); a11 = TOps.MultiplyAdd(b, c1, a11);
            b = TOps.Broadcast(Unsafe.Add(ref x2, f));
            a20 = TOps.MultiplyAdd(b, c0, a20); a21 = TOps.MultiplyAdd(b, c1, a21);
            b = TOps.Broadcast(Unsafe.Add(ref x3, f));
            a30 = TOps.MultiplyAdd(b, c0, a30); a31 = TOps.MultiplyAdd(b, c1, a31);
        }

        Epilogue4<TOps, TVec, TEpilogue>(a00, a01, a10, a11, a20, a21, a30, a31, c, panelIndex, liveRows, ref scratch, rowNorms, output, firstRow);
    }

    /// <summary>
    /// Four rows' products with two panels (row r's in a_r0 and a_r1) into the running minima (assignment) or the
    /// distance rows (all distances).
    /// </summary>
    /// <remarks>
    /// <paramref name="scratch"/> is the assignment's running minima (their indices <see cref="MinimaIndexOffset"/> further
    /// on) or the all-distances' lanes: one reference for both, since the two epilogues never run together. Bundling the
    /// all-distances outputs into one ref struct instead made the assignment, which does not use them, 1.3–1.5× slower,
    /// and so did two epilogue methods chosen at each call site, 1.16× at 8192 × 100 × 17 (bench/FlashKMeans.Benchmarks
    /// KernelBenchmarks, before and after interleaved on one machine).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Epilogue4<TOps, TVec, TEpilogue>(TVec a00, TVec a01, TVec a10, TVec a11, TVec a20, TVec a21, TVec a30, TVec a31,
        PackedCentroids c, int panelIndex, int liveRows, ref float scratch, ReadOnlySpan<float> rowNorms, Span<float> output, int firstRow)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
        where TEpilogue : struct, IEpilogue
    {
        int w = TOps.Count;
        int base0 = panelIndex * w, base1 = base0 + w;
        TVec n0 = TOps.Load(ref c.Norms[base0]), n1 = TOps.Load(ref c.Norms[base1]);
        if (TEpilogue.KeepsMinimum)
        {
            TVec i0 = TOps.Load(ref c.Indices[base0]), i1 = TOps.Load(ref c.Indices[base1]);
            ref float best = ref scratch;
            ref float bestIndex = ref Unsafe.Add(ref scratch, MinimaIndexOffset(w));
            KeepMinimum<TOps, TVec>(a00, n0, i0, ref best, ref bestIndex, 0);
            KeepMinimum<TOps, TVec>(a01, n1, i1, ref best, ref bestIndex, 0);
            KeepMinimum<TOps, TVec>(a10, n0, i0, ref best, ref bestIndex, w);
            KeepMinimum<TOps, TVec>(a11, n1, i1, ref best, ref bestIndex, w);
            KeepMinimum<TOps, TVec>(a20, n0, i0, ref best, ref bestIndex, 2 * w);
            KeepMinimum<TOps, TVec>(a21, n1, i1, ref best, ref bestIndex, 2 * w);
            KeepMinimum<TOps, TVec>(a30, n0, i0, ref best, ref bestIndex, 3 * w);
            KeepMinimum<TOps, TVec>(a31, n1, i1, ref best, ref bestIndex, 3 * w);
        }
        else
        {
            int k = c.Count;
            var lanes = MemoryMarshal.CreateSpan(ref scratch, w);
            if (liveRows > 0) { WriteDistances<TOps, TVec>(a00, n0, base0, k, rowNorms[0], output, firstRow, lanes); WriteDistances<TOps, TVec>(a01, n1, base1, k, rowNorms[0], output, firstRow, lanes); }
            if (liveRows > 1) { WriteDistances<TOps, TVec>(a10, n0, base0, k, rowNorms[1], output, firstRow + 1, lanes); WriteDistances<TOps, TVec>(a11, n1, base1, k, rowNorms[1], output, firstRow + 1, lanes); }
            if (liveRows > 2) { WriteDistances<TOps, TVec>(a20, n0, base0, k, rowNorms[2], output, firstRow + 2, lanes); WriteDistances<TOps, TVec>(a21, n1, base1, k, rowNorms[2], output, firstRow + 2, lanes); }
            if (liveRows > 3) { WriteDistances<TOps, TVec>(a30, n0, base0, k, rowNorms[3], output, firstRow + 3, lanes); WriteDistances<TOps, TVec>(a31, n1, base1, k, rowNorms[3], output, firstRow + 3, lanes); }
        }
    }

    /// <summary>Writes one row's distances to the live centroids of one panel: ‖x‖² + ‖c‖² − 2x·c, clamped at 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteDistances<TOps, TVec>(TVec dot, TVec norms, int first, int k, float rowNorm, Span<float> output, int row, Span<float> lanes)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        if (first >= k)
            return;
        TVec distance = TOps.MultiplyAdd(dot, TOps.Broadcast(-2f), norms);
        int w = TOps.Count;
        int live = Math.Min(w, k - first);
        var destination = output.Slice(row * k + first, live);
        if (live == w)
        {
            // The scalar tail's arithmetic, lane by lane: one rounded add, then Math.Max's rules.
            TOps.Store(TOps.Max(TOps.Broadcast(0f), TOps.Add(TOps.Broadcast(rowNorm), distance)), ref destination[0]);
            return;
        }
        TOps.Store(distance, ref lanes[0]);
        for (int j = 0; j < live; j++)
            destination[j] = Math.Max(0f, rowNorm + lanes[j]);
    }

    /// <summary>
    /// Where the running minima's indices start in the assignment's scratch: past its minima and one cache line more, so
    /// that a minimum and its index are not a multiple of 4 KiB apart (loads and stores at such distances wait on each
    /// other on x86: 4K aliasing).
    /// </summary>
    private static int MinimaIndexOffset(int lanes) => TileRows * lanes + 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KeepMinimum<TOps, TVec>(TVec dot, TVec norms, TVec indices, ref float best, ref float bestIndex, int offset)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        TVec distance = TOps.MultiplyAdd(dot, TOps.Broadcast(-2f), norms);
        ref float b = ref Unsafe.Add(ref best, offset);
        ref float bi = ref Unsafe.Add(ref bestIndex, offset);
        TVec current = TOps.Load(ref b);
        TVec closer = TOps.LessThan(distance, current);
        TOps.Store(TOps.Select(closer, distance, current), ref b);
        TOps.Store(TOps.Select(closer, indices, TOps.Load(ref bi)), ref bi);
    }
}
