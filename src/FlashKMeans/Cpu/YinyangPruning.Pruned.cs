using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cpu;

// The pruned assignment: each row recomputes its own group, then only the groups its bounds do not rule out.
internal sealed unsafe partial class YinyangPruning
{
    /// <summary>
    /// The bounded assignment. With <paramref name="store"/> false (evaluation) fresh bounds are not
    /// written back.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AssignPruned(ReadOnlySpan<float> rows, int firstRow, ReadOnlySpan<int> previous,
        Span<int> labels, Span<float> distances, PackedCentroids plain, bool store)
    {
        int count = labels.Length;
        var jobs = RentScratch();
        jobs.Prepare(count, count + ExtraJobs + _groups, _groups);
        long computed = count;
        try
        {
            // ‖x‖² again, exactly as the kernel takes it (cheaper than keeping 4 bytes per row); reading the
            // rows in order first also brings them into cache for the jobs, which read them out of order.
            var rowNorms = jobs.RowNorms;
            for (int i = 0; i < count; i++)
            {
                var x = rows.Slice(i * _d, _d);
                rowNorms[i] = VectorMath.SquaredNorm(x);
            }

            // Phase 1: every row's own group; that gives its new distance to its old centroid and a best key.
            for (int i = 0; i < count; i++)
                jobs.Add(i, _groupOf[previous[i]]);
            jobs.Run(rows, _packed!, _groups, 0);

            // Phase 2: bound every other group (stored bound less travel, or gap less reach) and queue those not ruled out;
            // run them and settle those rows whenever enough are queued, so that memory stays bounded.
            var ends = jobs.Ends;
            int settled = 0;
            for (int i = 0; i < count; i++)
            {
                int row = firstRow + i;
                float rowNorm = rowNorms[i];
                double margin = Margin(rowNorm);
                float best = jobs.Minima[i];
                float threshold = Threshold(best, rowNorm, margin);
                // The own group's best centroid b is near: its gaps bound every other group afresh.
                int nearest = (int)jobs.Argmins[i];
                var gapRow = _groupGaps is not null && nearest < _k
                    ? _groupGaps.AsSpan(nearest * _groups, _groups) : default;
                float reach = Reach(best, rowNorm, margin);
                QueueUnprunedGroups(row, i, _groupOf[previous[i]], threshold, gapRow, reach, jobs);
                ends[i] = jobs.Count;
                if (jobs.Count - count >= ExtraJobs || i == count - 1)
                {
                    jobs.Run(rows, _packed!, _groups, count);
                    Settle(rows, firstRow, settled, i + 1, count, ends, rowNorms, jobs, labels, distances, plain, store);
                    computed += jobs.Count - count;
                    jobs.Count = count;
                    settled = i + 1;
                }
            }

            Interlocked.Add(ref _panelsComputed, computed);
        }
        finally
        {
            _scratch.Add(jobs);
        }
    }

    /// <summary>
    /// Phase 3 for rows [<paramref name="from"/>, <paramref name="to"/>): the lowest (key, index) over
    /// everything computed is the label; computed groups other than the label's get fresh bounds.
    /// Their extra jobs start at <paramref name="firstExtra"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Settle(ReadOnlySpan<float> rows, int firstRow, int from, int to, int firstExtra, int[] ends, float[] rowNorms, Scratch jobs,
        Span<int> labels, Span<float> distances, PackedCentroids plain, bool store)
    {
        int next = firstExtra;
        for (int i = from; i < to; i++)
        {
            int row = firstRow + i;
            float rowNorm = rowNorms[i];
            int end = ends[i];
            if (!float.IsFinite(rowNorm))
            {
                FusedAssignKernel.Assign(rows.Slice(i * _d, _d), plain, labels.Slice(i, 1), distances.Slice(i, 1));
                if (store && _storesBounds)
                    RowBounds(row).Clear();
                next = end;
                continue;
            }
            float best = float.PositiveInfinity, bestIndex = 0;
            Consider(jobs.Minima[i], jobs.Argmins[i], ref best, ref bestIndex);
            for (int j = next; j < end; j++)
                Consider(jobs.Minima[j], jobs.Argmins[j], ref best, ref bestIndex);
            int label = (int)bestIndex;
            labels[i] = label;
            distances[i] = Math.Max(0f, rowNorm + best);
            if (store && _storesBounds)
            {
                int own = _groupOf[label];
                double margin = Margin(rowNorm);
                float inverse = InverseQuantum(_exponents[row]);
                var bounds = RowBounds(row);
                if (jobs.Panels[i] != own)
                    bounds[jobs.Panels[i]] = Encode(LowerBound(jobs.Minima[i], rowNorm, margin), _travelStore[jobs.Panels[i]], inverse);
                for (int j = next; j < end; j++)
                {
                    int g = jobs.Panels[j];
                    if (g != own)
                        bounds[g] = Encode(LowerBound(jobs.Minima[j], rowNorm, margin), _travelStore[g], inverse);
                }
            }
            next = end;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Consider(float key, float index, ref float best, ref float bestIndex)
    {
        if (key < best || (key == best && index < bestIndex))
        {
            best = key;
            bestIndex = index;
        }
    }

    /// <summary>
    /// Reads each of the row's bounds (stored less the travel since, or a centroid's gap less the row's
    /// reach to it, whichever is larger) and queues every live group other than <paramref name="own"/>
    /// whose bound² does not exceed <paramref name="threshold"/>.
    /// </summary>
    /// <param name="row">The row, in the pass.</param>
    /// <param name="localRow">The row in its chunk.</param>
    /// <param name="own">The row's own group, always computed.</param>
    /// <param name="threshold">Squared bound above which a group is skipped.</param>
    /// <param name="gaps">The gaps of a centroid b (empty for none).</param>
    /// <param name="reach">An upper bound on ‖x − b‖.</param>
    /// <param name="jobs">Where the groups to compute are queued.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void QueueUnprunedGroups(int row, int localRow, int own, float threshold, ReadOnlySpan<float> gaps, float reach, Scratch jobs)
    {
        bool useGaps = !gaps.IsEmpty && float.IsFinite(reach);
        var reachVector = Vector256.Create(reach);
        ref float gap = ref MemoryMarshal.GetReference(gaps);
        ref byte bounds = ref _storesBounds ? ref MemoryMarshal.GetReference(RowBounds(row)) : ref Unsafe.NullRef<byte>();
        var quantum = Vector256.Create(_storesBounds ? Quantum(_exponents[row]) : 0f);
        var limit = Vector256.Create(threshold);
        for (int block = 0; block < _liveMask.Length; block++)
        {
            int g0 = block * BoundBlock;
            Vector256<float> lower0 = default, lower1 = default;
            if (_storesBounds)
            {
                var raw = Vector128.LoadUnsafe(ref bounds, (nuint)g0);
                var (q0, q1) = Vector256.Widen(Vector256.Create(Vector128.WidenLower(raw), Vector128.WidenUpper(raw)));
                lower0 = Read(q0, quantum, Vector256.LoadUnsafe(ref _travelRead[g0]));
                lower1 = Read(q1, quantum, Vector256.LoadUnsafe(ref _travelRead[g0 + 8]));
            }
            if (useGaps)
            {
                // The gap table has G columns; the stride's padding past them never opens (not live).
                lower0 = Vector256.Max(lower0, StepDown(LoadGaps(ref gap, g0, gaps.Length) - reachVector));
                lower1 = Vector256.Max(lower1, StepDown(LoadGaps(ref gap, g0 + 8, gaps.Length) - reachVector));
            }
            uint pruned = Vector256.GreaterThan(lower0 * lower0, limit).ExtractMostSignificantBits()
                | Vector256.GreaterThan(lower1 * lower1, limit).ExtractMostSignificantBits() << 8;
            uint open = ~pruned & _liveMask[block];
            if (own >= g0 && own < g0 + BoundBlock)
                open &= ~(1u << (own - g0));
            while (open != 0)
            {
                jobs.Add(localRow, g0 + BitOperations.TrailingZeroCount(open));
                open &= open - 1;
            }
        }
    }

    /// <summary>Eight gaps from <paramref name="first"/>, zeros past the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LoadGaps(ref float gaps, int first, int length)
    {
        if (first + 8 <= length)
            return Vector256.LoadUnsafe(ref gaps, (nuint)first);
        Span<float> tail = stackalloc float[8];
        tail.Clear();
        for (int j = first; j < length; j++)
            tail[j - first] = Unsafe.Add(ref gaps, j);
        return Vector256.Create((ReadOnlySpan<float>)tail);
    }

    /// <summary>√(best + fl(‖x‖²) + E), rounded up: a bound on the distance to the centroid giving best.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reach(float bestKey, float rowNorm, double margin)
    {
        double square = bestKey + (double)rowNorm + margin;
        if (!double.IsFinite(square))
            return float.PositiveInfinity;
        double root = Math.Sqrt(Math.Max(square, 0)) * (1 + 1e-12);
        float value = (float)root;
        return value < root ? MathF.BitIncrement(value) : value;
    }

    /// <summary>
    /// The smallest bound² that proves a group useless: best + fl(‖x‖²) + 2E, rounded up (and widened so
    /// that the float32 square of the bound on the other side cannot round across it); +∞ when not finite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Threshold(float bestKey, float rowNorm, double margin)
    {
        if (!float.IsFinite(bestKey) || !float.IsFinite(rowNorm))
            return float.PositiveInfinity;
        double limit = (bestKey + (double)rowNorm + 2 * margin) * (1 + 4 * Unit);
        float rounded = (float)limit;
        if (rounded < limit)
            rounded = MathF.BitIncrement(rounded);
        return float.IsFinite(rounded) ? rounded : float.PositiveInfinity;
    }

    /// <summary>
    /// A lower bound on the true distance to every centroid whose key is at least <paramref name="key"/>:
    /// √(key + fl(‖x‖²) − E), rounded down; 0 where that is not finite and positive.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LowerBound(float key, float rowNorm, double margin)
    {
        double square = key + (double)rowNorm - margin;
        if (!(square > 0) || double.IsInfinity(square))
            return 0;
        double root = Math.Sqrt(square);
        float value = (float)root;
        return value > root ? MathF.BitDecrement(value) : value;
    }
}
