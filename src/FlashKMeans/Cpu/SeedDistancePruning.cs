using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cpu;

/// <summary>
/// Exact triangle-inequality pruning for the seeding distance update (<see cref="CpuDataBinding.UpdateSeedDistances"/>):
/// a row whose nearest seed so far is s at computed squared distance D² needs a panel of new seeds only if some
/// member c could come nearer, and ‖x − c‖ ≥ ‖c − s‖ − ‖x − s‖ rules a panel out when its nearest member is at
/// least 2·D (plus rounding) from s. Per round, a table holds for every earlier seed s and every panel p of the
/// new seeds a lower bound on min over c in p of ‖c − s‖ (cost: seeds × new seeds × d, small next to the
/// rows × new seeds × d of the update itself). The same seeds and bound prune greedy k-means++'s candidate
/// evaluation (SeedDistancePruning.Candidates.cs).
/// </summary>
/// <remarks>
/// <para>
/// The result is bit-identical to <see cref="FusedAssignKernel.Assign"/> followed by the strict <c>&lt;</c>
/// update. The panels a row does need give keys ‖c‖² − 2·x·c from <see cref="FusedAssignKernel.PanelMinimum"/>,
/// rounded exactly as in <see cref="FusedAssignKernel.Assign"/>; the lowest (key, index) over them, added to
/// ‖x‖² as the kernel takes it and clamped at 0, is the candidate distance. Why that is exact: a panel is skipped
/// only when every member's computed distance v_c = max(0, fl(fl(‖x‖²) + key_c)) is provably ≥ D², the row's
/// current value. If the unpruned update changes the row, its minimal key gives a value below D², so every
/// centroid reaching that key lies in a computed panel, and the lowest index among them is found there too.
/// If it does not, the pruned minimum is no smaller (fewer keys, and rounding is monotone), so neither does this.
/// </para>
/// <para>
/// The bound. With γ = 2⁻²⁴ (float32 unit roundoff), the kernel's value satisfies
/// |v_c − ‖x − c‖²| ≤ E(x, c) = (3d + 12)·γ·(‖x‖ + ‖c‖)²: the dot product, ‖x‖² and ‖c‖² each carry at most
/// (d + 1)·γ relative to the product of the norms, the −2 fused multiply-add and the final add one γ each of
/// at most (‖x‖ + ‖c‖)², and the rest is slack for the higher-order terms and for the float64 arithmetic of the
/// bounds below (each a few 2⁻⁵³). Let R bound every seed's norm, E(x) = (3d + 12)·γ·(‖x‖ + R)².
/// Then ‖x − s‖ ≤ √(D² + E(x)), and a gap G(s, p) ≤ min over c in p of ‖c − s‖ with
/// G ≥ 2·√(D² + E(x)) gives ‖x − c‖ ≥ √(D² + E(x)), so v_c ≥ ‖x − c‖² − E(x, c) ≥ D². Gaps come from the same
/// kernel (<see cref="FusedAssignKernel.AllDistances"/> of the earlier seeds against the new ones) as
/// √(min v − E(s)), rounded down; the row threshold 2·√(D² + E(x)) is rounded up.
/// </para>
/// <para>
/// Where a key could overflow (a row or a seed whose norm is not finite, or (‖x‖ + R)² near float32's range),
/// or the row's nearest seed is not known (−1, after a reset), the row takes <see cref="FusedAssignKernel.Assign"/>
/// itself. So does a row that would need most panels anyway: a panel job costs more per distance than the
/// register-blocked kernel. Which path a row takes never changes its result.
/// </para>
/// </remarks>
internal sealed partial class SeedDistancePruning
{
    private const double Unit = 1.0 / (1 << 24);

    /// <summary>Largest gap table kept (entries): 64 MB. Past it a round runs unpruned.</summary>
    private const long MaximumGapEntries = 1 << 24;

    /// <summary>Where (‖x‖ + R)² may reach, so that no partial sum or key can overflow float32.</summary>
    private const double LargestReachSquared = 1e36;

    /// <summary>Panel jobs queued in a chunk before they are run.</summary>
    private const int JobBatch = 16384;

    /// <summary>Rows that follow the unpruned kernel, gathered before they are assigned.</summary>
    private const int HeavyBatch = 256;

    /// <summary>
    /// Rows narrower than this update unpruned: a row's bookkeeping and its panel jobs cost more than the register-blocked
    /// kernel's distances (k-means‖ rounds at d = 16 took 1.03–1.6× as long pruned, even on 64 well-separated blobs, where
    /// at d = 32 they were 10 % faster; bench/results/cpu.md).
    /// </summary>
    internal const int MinimumRoundDimension = 32;

    /// <summary>
    /// The share of (row, panel) pairs a pruned round must skip for the next one to be pruned: the pairs it does compute run
    /// as panel jobs, dearer than the kernel's. On 16 overlapping blobs, where they skip little, pruned rounds ran 1.03–1.17×
    /// as long as unpruned ones at d = 32–128; on 64 well-separated blobs at d = 128 they were 1.5× faster.
    /// </summary>
    internal const double MinimumSkippedShare = 0.5;

    private readonly int _d, _threads;
    private readonly double _errorScale;
    private float[] _seeds = [];
    // Per seed, an upper bound on its norm (float64 sum, inflated).
    private double[] _seedNorms = [];
    private int _count;
    // The largest of _seedNorms, or +∞ where a seed's float32 norm is not finite.
    private double _largestNorm;
    // Per round: earlier seeds × _stride lower bounds (a multiple of 8; +∞ past the panels, so never open).
    private float[] _gaps = [];
    private int _existing, _panels, _stride;
    private PackedCentroids? _packed;
    private readonly ConcurrentBag<Scratch> _scratch = [];
    private long _pairsComputed, _pairsSkipped;
    // The pair counts when the last pruned round began, and whether it skipped enough to prune the next.
    private long _roundComputedFrom, _roundSkippedFrom;
    private bool _lastRoundPruned, _pruneNextRound = true;

    /// <param name="dimension">d.</param>
    /// <param name="threads">Threads for the gap table.</param>
    public SeedDistancePruning(int dimension, int threads)
    {
        _d = dimension;
        _threads = threads;
        _errorScale = (3.0 * dimension + 12) * Unit;
    }

    /// <summary>(row, panel) distances computed by pruned rounds, counting full rows as every panel (tests, diagnostics).</summary>
    public long PanelsComputed => Interlocked.Read(ref _pairsComputed);

    /// <summary>(row, panel) distances pruned rounds proved useless and skipped (tests, diagnostics).</summary>
    public long PanelsSkipped => Interlocked.Read(ref _pairsSkipped);

    /// <summary>
    /// Prunes every round it can, whatever the dimension or the last round's yield (tests of the bit-identical result).
    /// </summary>
    internal bool PruneEveryRound { get; set; }

    /// <summary>Forgets every seed (a new seeding).</summary>
    public void Reset()
    {
        _count = 0;
        _largestNorm = 0;
        _lastRoundPruned = false;
        _pruneNextRound = true;
    }

    /// <summary>Appends seeds, in the order the binding numbers them.</summary>
    public void Add(ReadOnlySpan<float> seeds)
    {
        int d = _d, added = seeds.Length / d;
        if ((long)(_count + added) * d > Array.MaxLength)
        {
            // Too many to keep: pruning stays off until the next reset.
            _largestNorm = double.PositiveInfinity;
            _count += added;
            return;
        }
        if (_seeds.Length < (_count + added) * d)
        {
            int capacity = (int)Math.Min(Array.MaxLength / d, Math.Max(2L * _count, _count + added));
            Array.Resize(ref _seeds, capacity * d);
            Array.Resize(ref _seedNorms, capacity);
        }
        seeds.CopyTo(_seeds.AsSpan(_count * d));
        for (int i = 0; i < added; i++)
        {
            var seed = seeds.Slice(i * d, d);
            // Float64 sum of float32 squares: relative error below d·2⁻⁵³, far inside the inflation.
            double norm = Math.Sqrt(VectorMath.DotDouble(seed, seed)) * (1 + 1e-9);
            _seedNorms[_count + i] = norm;
            bool finite = float.IsFinite(VectorMath.SquaredNorm(seed)) && double.IsFinite(norm);
            _largestNorm = finite ? Math.Max(_largestNorm, norm) : double.PositiveInfinity;
        }
        _count += added;
    }

    /// <summary>
    /// Prepares a round against the newest seeds (already <see cref="Add"/>ed), packed as <paramref name="packed"/>;
    /// false where pruning cannot serve it (no earlier seed, norms too large, or a table too large), and the caller
    /// runs the unpruned update.
    /// </summary>
    public bool BeginRound(PackedCentroids packed)
    {
        int added = packed.Count, existing = _count - added;
        int panels = (added + packed.Width - 1) / packed.Width;
        int stride = (panels + 7) & ~7;
        if (_lastRoundPruned)
        {
            long computed = PanelsComputed - _roundComputedFrom, skipped = PanelsSkipped - _roundSkippedFrom;
            _pruneNextRound = skipped >= MinimumSkippedShare * (computed + skipped);
            _lastRoundPruned = false;
        }
        // Only rounds likely to pay: wide rows, after at least two seeds (against one, little is ruled out), and while the
        // pruned rounds skip enough. Either way the result is the same bits.
        bool pays = _d >= MinimumRoundDimension && existing >= 2 && _pruneNextRound;
        if (existing <= 0 || !(pays || PruneEveryRound) || (long)_count * _d > _seeds.Length || !(4 * _largestNorm * _largestNorm < LargestReachSquared)
            || (long)existing * stride > MaximumGapEntries)
            return false;
        _packed = packed;
        _existing = existing;
        _panels = panels;
        _stride = stride;
        if (_gaps.Length < existing * stride)
            _gaps = new float[Math.Max(existing * stride, Math.Min(2 * _gaps.Length, (int)MaximumGapEntries))];
        const int Block = 64;
        int blocks = (existing + Block - 1) / Block;
        var options = new ParallelOptions { MaxDegreeOfParallelism = _threads };
        Threading.ParallelWork.For(0, blocks, options, block => MeasureGaps(block * Block, Math.Min(Block, existing - block * Block)));
        (_roundComputedFrom, _roundSkippedFrom, _lastRoundPruned) = (PanelsComputed, PanelsSkipped, true);
        return true;
    }

    /// <summary>
    /// Gap rows of earlier seeds [first, first + count): per panel of new seeds, √(min computed distance − E(s)),
    /// rounded down, 0 where that is not positive. Each entry depends only on the seeds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MeasureGaps(int first, int count)
    {
        var packed = _packed!;
        int d = _d, added = packed.Count, w = packed.Width;
        float[] block = ArrayPool<float>.Shared.Rent(count * added);
        try
        {
            FusedAssignKernel.AllDistances(_seeds.AsSpan(first * d, count * d), packed, block.AsSpan(0, count * added));
            for (int i = 0; i < count; i++)
            {
                int s = first + i;
                double reach = _seedNorms[s] + _largestNorm;
                double margin = _errorScale * reach * reach;
                var distances = block.AsSpan(i * added, added);
                var row = _gaps.AsSpan(s * _stride, _stride);
                for (int p = 0; p < _panels; p++)
                {
                    float nearest = TensorPrimitives.Min(distances.Slice(p * w, Math.Min(w, added - p * w)));
                    row[p] = LowerRoot(nearest - margin);
                }
                row.Slice(_panels).Fill(float.PositiveInfinity);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(block);
        }
    }

    /// <summary>√<paramref name="square"/> rounded down to float32; 0 where it is not positive and finite.</summary>
    private static float LowerRoot(double square)
    {
        if (!(square > 0) || double.IsInfinity(square))
            return 0;
        double root = Math.Sqrt(square);
        float value = (float)root;
        return value > root ? MathF.BitDecrement(value) : value;
    }

    /// <summary>
    /// The round's update for one chunk: for every row, the nearest new seed where it is strictly nearer than
    /// <paramref name="current"/>, which then takes its distance and <paramref name="owners"/> its index
    /// (<paramref name="firstSeed"/> + its place among the new seeds), exactly as the unpruned update does.
    /// </summary>
    /// <param name="rows">The chunk, count × d.</param>
    /// <param name="current">Each row's squared distance to its nearest seed so far.</param>
    /// <param name="owners">Each row's nearest seed so far, −1 for none.</param>
    /// <param name="firstSeed">Index of the first new seed.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void UpdateChunk(ReadOnlySpan<float> rows, Span<float> current, Span<int> owners, int firstSeed)
    {
        int d = _d, count = current.Length, panels = _panels;
        var packed = _packed!;
        var scratch = _scratch.TryTake(out var taken) ? taken : new Scratch();
        scratch.Prepare(count, JobBatch + panels, panels, HeavyBatch * d);
        long computed = 0, skipped = 0;
        try
        {
            var rowNorms = scratch.RowNorms;
            int settled = 0, heavy = 0;
            for (int i = 0; i < count; i++)
            {
                float distance = current[i];
                int owner = owners[i];
                // Nothing is nearer than 0: the row cannot change.
                if (owner >= 0 && distance <= 0)
                {
                    skipped += panels;
                    scratch.Ends[i] = scratch.Count;
                    continue;
                }
                var x = rows.Slice(i * d, d);
                float rowNorm = VectorMath.SquaredNorm(x);
                rowNorms[i] = rowNorm;
                float threshold = owner >= 0 && owner < _existing ? Threshold(distance, rowNorm) : float.PositiveInfinity;
                int open = float.IsFinite(threshold) ? CountOpen(owner, threshold) : panels;
                if (open * 2 > panels)
                {
                    // Most panels anyway: the row goes to the unpruned kernel.
                    scratch.Heavy[heavy++] = i;
                    x.CopyTo(scratch.HeavyRows.AsSpan((heavy - 1) * d, d));
                    if (heavy == HeavyBatch)
                    {
                        AssignHeavy(scratch, heavy, current, owners, firstSeed);
                        heavy = 0;
                    }
                    computed += panels;
                    scratch.Ends[i] = scratch.Count;
                    continue;
                }
                QueueOpen(i, owner, threshold, scratch);
                computed += open;
                skipped += panels - open;
                scratch.Ends[i] = scratch.Count;
                if (scratch.Count >= JobBatch)
                {
                    scratch.Run(rows, packed, _panels);
                    Settle(scratch, settled, i + 1, current, owners, firstSeed);
                    settled = i + 1;
                }
            }
            if (heavy > 0)
                AssignHeavy(scratch, heavy, current, owners, firstSeed);
            scratch.Run(rows, packed, _panels);
            Settle(scratch, settled, count, current, owners, firstSeed);
        }
        finally
        {
            _scratch.Add(scratch);
        }
        Interlocked.Add(ref _pairsComputed, computed);
        Interlocked.Add(ref _pairsSkipped, skipped);
    }

    /// <summary>
    /// 2·√(D² + E(x)), rounded up: a panel whose gap from the row's seed reaches it cannot hold a nearer seed.
    /// +∞ where the row's keys could overflow (then nothing is skipped).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float Threshold(float distance, float rowNorm)
    {
        if (!float.IsFinite(distance) || !float.IsFinite(rowNorm))
            return float.PositiveInfinity;
        // ‖x‖ from its float32 square: inflate for that square's own rounding.
        double reach = Math.Sqrt(rowNorm * (1 + 2 * (_d + 1) * Unit)) + _largestNorm;
        double square = reach * reach;
        if (!(square < LargestReachSquared))
            return float.PositiveInfinity;
        double bound = 2 * Math.Sqrt(distance + _errorScale * square) * (1 + 1e-12);
        float value = (float)bound;
        return value < bound ? MathF.BitIncrement(value) : value;
    }

    /// <summary>Panels whose gap from <paramref name="owner"/> is below <paramref name="threshold"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int CountOpen(int owner, float threshold)
    {
        ref float gaps = ref _gaps[owner * _stride];
        var limit = Vector256.Create(threshold);
        int open = 0;
        for (int p = 0; p < _stride; p += 8)
            open += BitOperations.PopCount(Vector256.LessThan(Vector256.LoadUnsafe(ref gaps, (nuint)p), limit).ExtractMostSignificantBits());
        return open;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void QueueOpen(int row, int owner, float threshold, Scratch jobs)
    {
        ref float gaps = ref _gaps[owner * _stride];
        var limit = Vector256.Create(threshold);
        for (int p = 0; p < _stride; p += 8)
        {
            uint open = Vector256.LessThan(Vector256.LoadUnsafe(ref gaps, (nuint)p), limit).ExtractMostSignificantBits();
            while (open != 0)
            {
                jobs.Add(row, p + BitOperations.TrailingZeroCount(open));
                open &= open - 1;
            }
        }
    }

    /// <summary>The unpruned kernel on gathered rows, then the update as the unpruned path makes it.</summary>
    private void AssignHeavy(Scratch scratch, int heavy, Span<float> current, Span<int> owners, int firstSeed)
    {
        var labels = scratch.HeavyLabels.AsSpan(0, heavy);
        var nearest = scratch.HeavyDistances.AsSpan(0, heavy);
        FusedAssignKernel.Assign(scratch.HeavyRows.AsSpan(0, heavy * _d), _packed!, labels, nearest);
        for (int j = 0; j < heavy; j++)
        {
            int i = scratch.Heavy[j];
            if (nearest[j] < current[i])
            {
                current[i] = nearest[j];
                owners[i] = firstSeed + labels[j];
            }
        }
    }

    /// <summary>
    /// Rows [<paramref name="from"/>, <paramref name="to"/>) with queued jobs: the lowest (key, index) over them,
    /// ‖x‖² + key clamped at 0 as the kernel writes it, and the strict update. Clears the queue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Settle(Scratch jobs, int from, int to, Span<float> current, Span<int> owners, int firstSeed)
    {
        // The queue holds exactly these rows' jobs, in row order; Ends[i] is where row i's end in it.
        int next = 0;
        for (int i = from; i < to; i++)
        {
            int end = jobs.Ends[i];
            if (end == next)
                continue;
            float best = float.PositiveInfinity, bestIndex = 0;
            for (int j = next; j < end; j++)
            {
                float key = jobs.Minima[j], index = jobs.Argmins[j];
                if (key < best || (key == best && index < bestIndex))
                {
                    best = key;
                    bestIndex = index;
                }
            }
            next = end;
            float distance = Math.Max(0f, jobs.RowNorms[i] + best);
            if (distance < current[i])
            {
                current[i] = distance;
                owners[i] = firstSeed + (int)bestIndex;
            }
        }
        jobs.Count = 0;
    }

    /// <summary>One chunk's working arrays, pooled (no more of them than chunks in flight).</summary>
    private sealed class Scratch : PanelJobQueue
    {
        public int[] Heavy = [], HeavyLabels = [];
        public float[] HeavyRows = [], HeavyDistances = [];

        public void Prepare(int rows, int jobs, int panels, int heavyValues)
        {
            Prepare(rows, jobs, panels);
            if (HeavyRows.Length < heavyValues)
            {
                HeavyRows = new float[heavyValues];
                Heavy = new int[HeavyBatch];
                HeavyLabels = new int[HeavyBatch];
                HeavyDistances = new float[HeavyBatch];
            }
        }
    }
}
