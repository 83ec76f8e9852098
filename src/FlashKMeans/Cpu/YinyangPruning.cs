using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlashKMeans.Primitives;

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
internal sealed unsafe partial class YinyangPruning : IDisposable
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
    /// One chunk's working arrays: the (row, panel) jobs and their results, the panel sort, per-row
    /// extras. Kept in a pool no larger than the number of chunks in flight, so that memory does not grow
    /// with the thread pool (the shared ArrayPool keeps arrays per thread).
    /// </summary>
    private sealed class Scratch : PanelJobQueue
    {
        public float[] Block = [];
    }
}
