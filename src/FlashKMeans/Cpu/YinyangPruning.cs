using System.Collections.Concurrent;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlashKMeans.Cpu;

/// <summary>
/// Exact Yinyang pruning (Ding et al., ICML 2015) for the CPU assignment. Centroids are grouped once,
/// W to a group so that a group is one SIMD panel. A row recomputes its own group (which yields its
/// distance and its nearest centroid b there) and then only the groups that no lower bound rules out.
/// Two bounds on the distance to a group: b's gap to the group less the row's distance to b (triangle
/// inequality through b, from a K × G table remeasured every step), and, where memory allows, a stored
/// per-row bound from the last time the group was computed, aged by the farthest any member moved.
/// </summary>
/// <remarks>
/// <para>
/// Labels and distances are bit-identical to <see cref="FusedAssignKernel.Assign"/>. The first step
/// (and any step after a reset or a fallback) runs that kernel itself; later steps take every key a row compares,
/// ‖c‖² − 2·x·c, from <see cref="FusedAssignKernel.PanelMinimum"/>, which rounds exactly as the
/// unpruned kernel does, and ties go to the lowest index. A group is skipped only when its bound proves every member's
/// computed key is strictly above the best computed key: the bounds are on true distances, and the
/// test carries a margin E that covers float32 rounding of the dot products and norms,
/// |key − (‖c‖² − 2·x·c)| + |fl(‖x‖²) − ‖x‖²| ≤ 2·γ(d+2)·(‖x‖ + ‖c‖)², γ(n) = n·2⁻²⁴ / (1 − n·2⁻²⁴).
/// Bounds are rounded down and stored in one byte each, as multiples of a per-row power-of-two quantum
/// (about the row's largest bound / 127), so that scaling is exact. They age lazily: a bound is stored
/// plus the drift its group has travelled so far and read minus the travel by then (drifts rounded up),
/// so a step writes only the bounds it recomputes.
/// </para>
/// <para>
/// Where a row's norm or a centroid's norm is not finite the keys may overflow; those rows (or the whole
/// step) fall back to the unpruned kernel and their bounds are reset to 0.
/// </para>
/// </remarks>
internal sealed unsafe class YinyangPruning : IDisposable
{
    /// <summary>Extra (row, group) jobs queued before they are run: enough to fill every panel's batches.</summary>
    private const int ExtraJobs = 4096;

    /// <summary>Bounds are updated 16 groups (two 256-bit vectors) at a time.</summary>
    private const int BoundBlock = 16;

    private const double Unit = 1.0 / (1 << 24);

    private readonly int _d, _k, _w, _groups, _stride;
    private readonly int[] _groupOf;
    private readonly int[] _order;
    // N × stride bytes, the largest thing pruning keeps: native, so that it is freed with the binding
    // instead of waiting for a full collection.
    private byte* _bounds;
    // Per row, the quantum of its bounds as a power of two, 2^e: scaling by it is exact.
    private readonly sbyte[] _exponents;
    private readonly float[] _reference;
    private readonly float[] _drift;
    // Per group, the drift summed since the bounds were seeded (rounded up at every addition). A bound
    // is stored as (bound + travel then) and read as (stored − travel now), so that ageing writes nothing
    // and the byte rounding happens once per bound, not once per step. Float copies: rounded up for
    // reading, down for storing.
    private readonly double[] _travel;
    private readonly float[] _travelRead;
    private readonly float[] _travelStore;
    private readonly ushort[] _liveMask;
    private PackedCentroids? _packed;
    private readonly ConcurrentBag<Scratch> _scratch = [];
    // K × G, remeasured every step: see MeasureGroupGaps. Null where K·G is too large to keep.
    private readonly float[]? _groupGaps;
    private readonly int _threads;

    /// <summary>Largest gap table kept (entries): 16 MB, K = 8192 with 16-wide panels.</summary>
    private const long MaximumGapEntries = 1 << 22;
    private readonly double _errorScale;
    private double _centroidNorm;
    private readonly bool _storesBounds;
    private bool _grouped, _boundsValid, _plainStep, _fullStep;
    // Steps to run unpruned after a step that had to compute most panels anyway (2, 8, 32, 64, ...).
    private int _fullStepsLeft, _backoff;
    private long _rowsAssigned;

    /// <summary>Groups of the last grouping, for diagnostics.</summary>
    public int GroupCount => _groups;

    /// <summary>Distance panels computed in the last step (one per row for its own group, plus the rest).</summary>
    public long PanelsComputed => Interlocked.Read(ref _panelsComputed);

    private long _panelsComputed;

    /// <param name="rowCount">N.</param>
    /// <param name="dimension">d.</param>
    /// <param name="k">K.</param>
    /// <param name="width">Lanes per panel, W.</param>
    /// <param name="threads">Threads for the per-step gap table.</param>
    /// <param name="storeBounds">Keep a byte per row and group; otherwise only the gap table bounds.</param>
    public YinyangPruning(int rowCount, int dimension, int k, int width, int threads, bool storeBounds)
    {
        _threads = threads;
        _storesBounds = storeBounds;
        _d = dimension;
        _k = k;
        _w = width;
        _groups = (k + width - 1) / width;
        _stride = StrideFor(k, width);
        _groupOf = new int[k];
        _order = new int[_groups * width];
        if (storeBounds)
        {
            _bounds = (byte*)NativeMemory.AllocZeroed((nuint)((long)rowCount * _stride));
            _exponents = new sbyte[rowCount];
        }
        else
        {
            _exponents = [];
        }
        _reference = new float[k * dimension];
        _drift = new float[_stride];
        long gapEntries = (long)k * ((k + width - 1) / width);
        _groupGaps = gapEntries <= MaximumGapEntries ? new float[gapEntries] : null;
        _travel = new double[_stride];
        _travelRead = new float[_stride];
        _travelStore = new float[_stride];
        _liveMask = new ushort[_stride / BoundBlock];
        // 2·γ(d+2) is what the keys and the row norm can be off by, relative to (‖x‖ + ‖c‖)²; the extra
        // (d + 4)·2⁻²⁴ absorbs γ's denominator and the float64 arithmetic of the bounds themselves.
        _errorScale = (3.0 * dimension + 8) * Unit;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> RowBounds(int row)
    {
        ObjectDisposedException.ThrowIf(_bounds is null, this);
        return new Span<byte>(_bounds + (long)row * _stride, _stride);
    }

    /// <summary>Frees the bounds.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~YinyangPruning() => Free();

    private void Free()
    {
        NativeMemory.Free(_bounds);
        _bounds = null;
    }

    private Scratch RentScratch() => _scratch.TryTake(out var scratch) ? scratch : new Scratch();

    /// <summary>Whether grouping can skip anything: at least two groups.</summary>
    public static bool Applies(int k, int width) => k > width;

    /// <summary>
    /// Whether to keep per-row bounds: only while they take at most 1/16 of the bytes of a row, so that
    /// pruning never adds much to the memory the data needs. Without them the gap table alone bounds the
    /// groups, which on well-separated clusters prunes about as much (the bounds help where clusters overlap).
    /// </summary>
    public static bool StoresBoundsFor(int dimension, int k, int width) =>
        (long)StrideFor(k, width) * 16 <= (long)dimension * sizeof(float);

    /// <summary>Whether gaps are kept at this K (without gaps or bounds nothing could be pruned).</summary>
    public static bool KeepsGapsFor(int k, int width) => (long)k * ((k + width - 1) / width) <= MaximumGapEntries;

    /// <summary>Bytes per row of bounds: one per group, padded to whole blocks.</summary>
    private static int StrideFor(int k, int width) => ((k + width - 1) / width + BoundBlock - 1) / BoundBlock * BoundBlock;

    /// <summary>
    /// Forgets the grouping and the bounds; the next step regroups the centroids and recomputes every
    /// distance. Worth it when the centroids were replaced wholesale (a new initialisation).
    /// </summary>
    public void Reset()
    {
        _grouped = false;
        _boundsValid = false;
        _backoff = _fullStepsLeft = 0;
    }

    /// <summary>Call before a step's assignment with the centroids it assigns to.</summary>
    /// <param name="centroids">K × d, row-major.</param>
    /// <param name="plain">The same centroids packed in index order.</param>
    public void BeginStep(ReadOnlySpan<float> centroids, PackedCentroids plain)
    {
        if (!_grouped)
        {
            CentroidGrouping.Build(centroids, _d, _w, _groupOf, _order);
            Array.Clear(_liveMask);
            for (int g = 0; g < _groups; g++)
            {
                if (_order[g * _w] >= 0)
                    _liveMask[g / BoundBlock] |= (ushort)(1 << (g % BoundBlock));
            }
            _packed = PackedCentroids.PackPermuted(centroids, _d, _w, _order);
            _grouped = true;
            _boundsValid = false;
        }
        else
        {
            _packed!.Fill(centroids);
        }

        _plainStep = !MeasureCentroidNorms(centroids);
        _fullStep = _fullStepsLeft > 0;
        if (_fullStep)
            _fullStepsLeft--;
        if (_boundsValid && !_plainStep && !_fullStep)
        {
            MeasureDrift(centroids);
            Travel(commit: true);
        }
        else
        {
            // Every bound is seeded afresh this step.
            Array.Clear(_travel);
            Array.Clear(_travelRead);
            Array.Clear(_travelStore);
        }
        centroids.CopyTo(_reference);
        // A full step without stored bounds needs no gaps: nothing is seeded.
        if (!_plainStep && (_storesBounds || !_fullStep && _boundsValid))
            MeasureGroupGaps(_reference, plain);
        Interlocked.Exchange(ref _panelsComputed, 0);
        Interlocked.Exchange(ref _rowsAssigned, 0);
    }

    /// <summary>Sets the bound on ‖c‖ that margins use; false where some key could overflow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool MeasureCentroidNorms(ReadOnlySpan<float> centroids)
    {
        double largest = 0;
        bool finite = true;
        for (int c = 0; c < _k; c++)
        {
            var row = centroids.Slice(c * _d, _d);
            finite &= float.IsFinite(VectorMath.SquaredNorm(row));
            largest = Math.Max(largest, VectorMath.DotDouble(row, row));
        }
        // Float64 sums of float32 squares: relative error below d·2⁻⁵³, far inside this factor.
        _centroidNorm = Math.Sqrt(largest) * (1 + 1e-9);
        return finite && double.IsFinite(_centroidNorm);
    }

    /// <summary>Call after a step's assignment.</summary>
    public void EndStep()
    {
        bool pruned = _boundsValid && !_plainStep && !_fullStep;
        _boundsValid = !_plainStep;
        if (pruned)
        {
            // The panel-at-a-time jobs cost more per panel than the unpruned kernel: where most panels
            // had to be computed anyway, run the next steps unpruned, backing off further each time.
            if (PanelsComputed * 2 > _rowsAssigned * _groups)
            {
                _backoff = Math.Clamp(_backoff * 4, 2, 64);
                _fullStepsLeft = _backoff;
            }
            else
            {
                _backoff = 0;
            }
        }
    }

    /// <summary>
    /// Prepares <see cref="EvaluateChunk"/> for <paramref name="centroids"/> (any K × d centroids) and
    /// returns whether the bounds can serve it. Evaluation reads the bounds and never writes them, so the
    /// next step continues from the last one as if it had not happened.
    /// </summary>
    /// <param name="centroids">K × d, row-major.</param>
    /// <param name="plain">The same centroids packed in index order.</param>
    public bool TryBeginEvaluation(ReadOnlySpan<float> centroids, PackedCentroids plain)
    {
        if (!_boundsValid || _backoff > 0 || centroids.Length != _k * _d)
            return false;
        _packed!.Fill(centroids);
        if (!MeasureCentroidNorms(centroids))
            return false;
        MeasureGroupGaps(centroids.ToArray(), plain);
        MeasureDrift(centroids);
        Travel(commit: false);
        return true;
    }

    /// <summary>
    /// Adds this step's drift to the travel. <paramref name="commit"/> false (evaluation) only updates the
    /// copy that reading uses; the next step recomputes it from the committed sums.
    /// </summary>
    private void Travel(bool commit)
    {
        for (int g = 0; g < _stride; g++)
        {
            double travel = _travel[g];
            if (_drift[g] > 0)
                travel = Math.BitIncrement(travel + _drift[g]);
            float read = (float)travel, store = read;
            if (read < travel)
                read = MathF.BitIncrement(read);
            if (store > travel)
                store = MathF.BitDecrement(store);
            _travelRead[g] = read;
            if (commit)
            {
                _travel[g] = travel;
                _travelStore[g] = store;
            }
        }
    }

    /// <summary>
    /// Labels and squared distances of one chunk under the centroids given to <see cref="TryBeginEvaluation"/>,
    /// identical to <see cref="FusedAssignKernel.Assign"/> with <paramref name="plain"/>; no state changes.
    /// </summary>
    public void EvaluateChunk(ReadOnlySpan<float> rows, int firstRow, ReadOnlySpan<int> previous,
        Span<int> labels, Span<float> distances, PackedCentroids plain) =>
        AssignPruned(rows, firstRow, previous, labels, distances, plain, store: false);

    /// <summary>
    /// Labels and squared distances of one chunk of rows, identical to <see cref="FusedAssignKernel.Assign"/>
    /// with <paramref name="plain"/>.
    /// </summary>
    /// <param name="rows">The chunk, count × d.</param>
    /// <param name="firstRow">Index of its first row in the pass.</param>
    /// <param name="previous">The labels of the last step.</param>
    /// <param name="labels">New labels.</param>
    /// <param name="distances">New squared distances.</param>
    /// <param name="plain">The same centroids in index order, for rows the bounds cannot serve.</param>
    public void AssignChunk(ReadOnlySpan<float> rows, int firstRow, ReadOnlySpan<int> previous,
        Span<int> labels, Span<float> distances, PackedCentroids plain)
    {
        Interlocked.Add(ref _rowsAssigned, labels.Length);
        if (_plainStep)
            FusedAssignKernel.Assign(rows, plain, labels, distances);
        else if (!_boundsValid || _fullStep)
            AssignAll(rows, firstRow, labels, distances, plain);
        else
            AssignPruned(rows, firstRow, previous, labels, distances, plain, store: true);
    }

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

    /// <summary>q·2^e (exact) less the travel, rounded down; at least 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Read(Vector256<uint> quanta, Vector256<float> quantum, Vector256<float> travel) =>
        StepDown(Vector256.ConvertToSingle(quanta.AsInt32()) * quantum - travel);

    /// <summary>One float below a rounded difference is under the exact one; non-positive or NaN gives 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> StepDown(Vector256<float> difference) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(difference, Vector256<float>.Zero),
            (difference.AsInt32() - Vector256<int>.One).AsSingle(), Vector256<float>.Zero);

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

    /// <summary>
    /// One chunk's working arrays: the (row, panel) jobs and their results, the panel sort, per-row
    /// extras. Kept in a pool no larger than the number of chunks in flight, so that memory does not grow
    /// with the thread pool (the shared ArrayPool keeps arrays per thread).
    /// </summary>
    private sealed class Scratch : PanelJobQueue
    {
        public float[] Block = [];
    }
}
