using System.Runtime.InteropServices;
using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cuda;

/// <summary>
/// The device state of B independent k-means problems of N rows and K clusters each, laid out one after another
/// ((B, N, ld) rows, (B, K, d) centroids, ...), and their Lloyd step: one launch sequence for all problems,
/// captured once into a CUDA graph and replayed, after which the host reads back B inertias, B changed-label
/// counts and the B × K cluster weights. A single resident fit is the batch of one. Everything per problem
/// (upload, seeding, re-seeding, evaluation) is done by a <see cref="CudaDataBinding"/> working on the problem's
/// slices of these buffers.
/// </summary>
/// <remarks>
/// <para>
/// Stepping ahead: asked to (<see cref="Step(bool, Span{LloydStepResult}, bool, CancellationToken)"/>), the batch enqueues the
/// next step before it waits for this one, so that the device goes from one step to the next without waiting for the
/// host to read the results, decide and launch (15–20 µs a step at 1M × 1024 on the H200). Each step's read-back
/// and the centroids it started from go to buffers of its parity, so the step ahead overwrites nothing the host still
/// reads: the results, the cluster weights, and the centroids the last step left (<see cref="CopyCentroidsOut"/>).
/// </para>
/// <para>
/// What the step ahead does overwrite (labels, distances, the centroids, the running sums) is the engine's business only
/// when it re-seeds or loads centroids. Then <see cref="DiscardStepAhead"/> goes back: it assigns the rows again under the
/// centroids the last step started from (the same kernels on the same values, so the same labels and distances) and
/// restores the centroids that step left. A discarded step costs one assignment; the engine asks to step ahead only
/// when another step is likely (<see cref="Engine.LloydDriver"/>).
/// </para>
/// </remarks>
internal sealed class CudaBatch : IDisposable
{
    private readonly CudaSession _s;
    private readonly CudaContext _context;
    private readonly GpuResources _owned = new();

    private readonly DeviceBuffer<int> _previousLabels;
    private readonly DeviceBuffer<int> _counts;
    private readonly DeviceBuffer<int> _offsets;
    private readonly DeviceBuffer<int> _cursor;
    private readonly DeviceBuffer<int> _sorted;
    private readonly DeviceBuffer<long> _sums;          // fp64 bits or int64 fixed point, B·K × d
    private readonly DeviceBuffer<long>? _weightSums;   // likewise, B·K
    private readonly DeviceBuffer<float> _shift;
    private readonly DeviceBuffer<double> _partials;    // SumChunks per problem, for the inertias
    // What the host reads back after each step, in one copy: [0, B·K) the cluster weights (fp64 bits), then the scalars.
    private readonly DeviceBuffer<long> _readBack;
    private readonly DeviceBuffer<long> _scalars;       // view of _readBack: [0, B) inertias (fp64 bits), [B, 2B) changed labels
    private readonly IncrementalUpdate _incremental;
    // Per step parity (stepping ahead): the host's copy of the read-back, the centroids the step started from (B, K, d),
    // and an event recorded after the step.
    private readonly PinnedBuffer<long>[] _hostReadBack = new PinnedBuffer<long>[2];
    private readonly DeviceBuffer<float> _before;
    private readonly SyncEvent[] _stepDone = new SyncEvent[2];
    private int _nextParity;
    private int _readParity;                            // of the step whose results were read last
    private EnqueuedStep? _ahead;                       // enqueued ahead, its results not read yet
    // One captured step per variant (normalised centroids, kind of update, parity), replayed each iteration.
    private readonly Dictionary<(bool Normalize, UpdateKind Update, int Parity), CudaGraph> _stepGraphs = [];

    /// <summary>A step in the queue: how it was enqueued, so that the host can read it and the next can follow it.</summary>
    private readonly record struct EnqueuedStep(bool Normalize, UpdateKind Update, int Parity);

    /// <summary>How a step updates the centroids.</summary>
    internal enum UpdateKind
    {
        /// <summary>Sort the labels and sum every row, in fixed point.</summary>
        Sort,
        /// <summary>Only the moved rows, out of their old clusters' fixed-point sums and into their new ones (<see cref="IncrementalUpdate"/>).</summary>
        Incremental,
    }

    private UpdateKind NextUpdate => NextStepIsIncremental ? UpdateKind.Incremental : UpdateKind.Sort;
    private bool _graphsFailed;
    private bool _sumsHold;                             // _sums and _counts are those of _previousLabels
    private long _lastChanged = long.MaxValue;          // moved labels of the last step, all problems
    // The centroids as the warp-specialised assignment reads them, or null where it does not run; laid out whole
    // before a step where _tilesStale, and kept current by each step's finalize.
    private readonly CentroidTiles? _tiles;
    private bool _tilesStale = true;

    /// <param name="session">The device.</param>
    /// <param name="batches">B.</param>
    /// <param name="rows">N, rows per problem.</param>
    /// <param name="dimension">d.</param>
    /// <param name="clusters">K.</param>
    /// <param name="hasWeights">Whether rows carry weights (then all problems do).</param>
    /// <param name="rowsOf">A batch of the same rows (B, N, d, weights) whose stored rows, norms and weights this one reads
    /// instead of holding its own (a fit of another K on rows already on the device); it must outlive this one.</param>
    public CudaBatch(CudaSession session, int batches, long rows, int dimension, int clusters, bool hasWeights, CudaBatch? rowsOf = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        _s = session;
        _context = session.Context;
        Batches = batches;
        Rows = rows;
        Dimension = dimension;
        Clusters = clusters;
        Pitch = session.Precision.Pitch(dimension);
        long total = batches * rows;
        // The sort kernels number rows b·N + i in 32 bits.
        if (total > int.MaxValue)
            throw new NotSupportedException($"The CUDA backend indexes rows with 32-bit integers; {total} rows is too many (use a streaming source).");
        long clusterRows = (long)batches * clusters;
        if (rowsOf is not null && (rowsOf._s != session || rowsOf.Batches != batches || rowsOf.Rows != rows || rowsOf.Dimension != dimension
            || (rowsOf.Weights is not null) != hasWeights))
            throw new ArgumentException("The batch whose rows are shared must hold the same problems of the same rows on the same session.", nameof(rowsOf));
        _context.MakeCurrent();
        try
        {
            if (rowsOf is null)
            {
                X = Own(new DeviceBuffer<byte>(_context, total * Pitch * session.Precision.ElementBytes));
                XNorms = Own(new DeviceBuffer<float>(_context, total));
                Weights = hasWeights ? Own(new DeviceBuffer<float>(_context, total)) : null;
            }
            else
            {
                // Views: their disposal frees nothing.
                X = Own(rowsOf.X.Slice(0, rowsOf.X.Length));
                XNorms = Own(rowsOf.XNorms.Slice(0, rowsOf.XNorms.Length));
                Weights = rowsOf.Weights is { } weights ? Own(weights.Slice(0, weights.Length)) : null;
            }
            Labels = Own(new DeviceBuffer<int>(_context, total));
            _previousLabels = Own(new DeviceBuffer<int>(_context, total));
            Distances = Own(new DeviceBuffer<float>(_context, total));
            Centroids = Own(new DeviceBuffer<float>(_context, clusterRows * dimension));
            PackedCentroids = Own(new DeviceBuffer<byte>(_context, clusterRows * Pitch * session.Precision.ElementBytes));
            CentroidNorms = Own(new DeviceBuffer<float>(_context, clusterRows));
            // The session's tiles serve the assignments that do not read the batch's own (AllowAssignCounting off); a
            // captured step must not allocate them.
            session.ReserveCentroidTiles(clusters, Pitch, batches);
            int tileChunks = session.CentroidTileChunks(dimension, Pitch);
            if (tileChunks > 0)
            {
                TileBuffer = Own(new DeviceBuffer<byte>(_context, batches * ((clusters + 127L) / 128) * CudaSession.CentroidTileBytes(tileChunks)));
                _tiles = new CentroidTiles(TileBuffer.Pointer, clusters, tileChunks);
            }
            _counts = Own(new DeviceBuffer<int>(_context, clusterRows));
            _offsets = Own(new DeviceBuffer<int>(_context, clusterRows + 1));
            _cursor = Own(new DeviceBuffer<int>(_context, clusterRows));
            _sorted = Own(new DeviceBuffer<int>(_context, total));
            _sums = Own(new DeviceBuffer<long>(_context, clusterRows * dimension));
            _shift = Own(new DeviceBuffer<float>(_context, clusterRows));
            _partials = Own(new DeviceBuffer<double>(_context, (long)CudaSession.SumChunks * batches));
            _readBack = Own(new DeviceBuffer<long>(_context, clusterRows + 2L * batches));
            _scalars = Own(_readBack.Slice(clusterRows, 2L * batches));  // a view: its disposal frees nothing
            _before = Own(new DeviceBuffer<float>(_context, 2 * clusterRows * dimension));
            for (int parity = 0; parity < 2; parity++)
            {
                // B·K ≤ B·N, which the check above keeps within 32 bits.
                _hostReadBack[parity] = Own(new PinnedBuffer<long>(_context, (int)clusterRows + 2 * batches));
                _stepDone[parity] = Own(new SyncEvent(_context));
            }
            if (hasWeights)
                _weightSums = Own(new DeviceBuffer<long>(_context, clusterRows));
            _incremental = Own(new IncrementalUpdate(session, total, clusterRows));
            _previousLabels.Fill32(uint.MaxValue, _s.Stream);  // -1: every label counts as changed on the first step
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>B.</summary>
    public int Batches { get; }

    /// <summary>N, rows per problem.</summary>
    public long Rows { get; }

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>K, clusters per problem.</summary>
    public int Clusters { get; }

    /// <summary>Row pitch of the stored rows and centroids, in elements.</summary>
    public int Pitch { get; }

    /// <summary>Stored rows, (B, N, <see cref="Pitch"/>) in the session's precision.</summary>
    public DeviceBuffer<byte> X { get; } = null!;

    /// <summary>Squared row norms, (B, N).</summary>
    public DeviceBuffer<float> XNorms { get; } = null!;

    /// <summary>Row weights, (B, N), or <c>null</c> for unit weights.</summary>
    public DeviceBuffer<float>? Weights { get; }

    /// <summary>Labels of the last step, (B, N), each in [0, K).</summary>
    public DeviceBuffer<int> Labels { get; } = null!;

    /// <summary>Squared distances of the last step's assignment, (B, N).</summary>
    public DeviceBuffer<float> Distances { get; } = null!;

    /// <summary>fp32 centroids, (B, K, d).</summary>
    public DeviceBuffer<float> Centroids { get; } = null!;

    /// <summary>Centroids in the stored form, (B, K, <see cref="Pitch"/>).</summary>
    public DeviceBuffer<byte> PackedCentroids { get; } = null!;

    /// <summary>Squared centroid norms, (B, K).</summary>
    public DeviceBuffer<float> CentroidNorms { get; } = null!;

    /// <summary>
    /// The fixed-point scale of the row sums (every update sums in fixed point, so steps are deterministic and the
    /// incremental update can take rows out of the sums exactly): one for the batch, no finer
    /// than any problem allows (<see cref="CudaDataBinding.FixedPointScale"/>); set once the rows are on the device. Zero until
    /// then: a step refuses to run without it (a scale of 1 would round every value to an integer).
    /// </summary>
    public float Scale { get; set; }

    /// <summary>The fixed-point scale of the cluster-weight sums, likewise.</summary>
    public float WeightScale { get; set; } = 1f;

    /// <summary>Cluster weights of problem <paramref name="problem"/> from the last step (K values, pinned).</summary>
    public ReadOnlySpan<double> HostClusterWeights(int problem) => HostWeights.Slice(problem * Clusters, Clusters);

    private Span<double> HostWeights => MemoryMarshal.Cast<long, double>(_hostReadBack[_readParity].Span[..(Batches * Clusters)]);

    // Where the finalize writes the cluster weights (fp64), which the host reads back.
    private ulong WeightOut => _readBack.Pointer;

    /// <summary>
    /// Replaces the centroids of problems <paramref name="firstProblem"/> onwards with <paramref name="centroids"/>
    /// (K × d fp32 per problem, whole problems): goes back from a step enqueued ahead (<see cref="DiscardStepAhead"/>),
    /// writes them with their stored form and norms, and waits for the copy. The one way in for centroids from outside a
    /// step (loads, re-seeding), so that what a write makes stale is said in one place (<see cref="Invalidate"/>).
    /// </summary>
    public void WriteCentroids(int firstProblem, ReadOnlySpan<float> centroids)
    {
        long perProblem = (long)Clusters * Dimension;
        if (firstProblem < 0 || centroids.Length % perProblem != 0 || firstProblem + centroids.Length / perProblem > Batches)
            throw new ArgumentException($"Expected whole problems of {Clusters} × {Dimension} centroids from problem {firstProblem} of {Batches}.", nameof(centroids));
        _context.MakeCurrent();
        DiscardStepAhead();
        Centroids.CopyFrom(centroids, firstProblem * perProblem, _s.Stream);
        PackCentroids(firstProblem, centroids.Length / perProblem);
        _s.Stream.Synchronize();
    }

    /// <summary>
    /// As <see cref="WriteCentroids(int, ReadOnlySpan{float})"/> for every problem, with centroids that
    /// <paramref name="write"/> enqueues on the session's stream into the fp32 <see cref="Centroids"/> (benchmarks that
    /// draw them on the device).
    /// </summary>
    internal void WriteCentroids(Action<DeviceBuffer<float>> write)
    {
        _context.MakeCurrent();
        DiscardStepAhead();
        write(Centroids);
        PackCentroids(0, Batches);
        _s.Stream.Synchronize();
    }

    // Packs the fp32 centroids of problems [first, first + count) into the stored form and norms, enqueued, and says so.
    private void PackCentroids(int first, long count)
    {
        long clusters = (long)first * Clusters;
        _s.PackRows(Centroids.At(clusters * Dimension), count * Clusters, Dimension, Dimension,
            PackedCentroids.At(clusters * Pitch * _s.Precision.ElementBytes), Pitch, CentroidNorms.At(clusters));
        Invalidate();
    }

    /// <summary>
    /// What centroids written outside a step make stale: the layout the warp-specialised assignment reads (laid out again
    /// before the next step), and the last step's count of moved labels, which says nothing about the next (so the next
    /// step sorts; the sums still hold for the last labels, so later steps may be incremental again).
    /// </summary>
    private void Invalidate()
    {
        _tilesStale = true;
        _lastChanged = long.MaxValue;
    }

    /// <summary>The centroids laid out for the warp-specialised assignment (for tests), or null where it does not run.</summary>
    internal CentroidTiles? Tiles => _tiles;

    /// <summary>The memory of <see cref="Tiles"/>, or null.</summary>
    internal DeviceBuffer<byte>? TileBuffer { get; }

    /// <summary>
    /// Whether the next <see cref="Step(bool, Span{LloydStepResult}, bool, CancellationToken)"/> updates the sums by the moved rows alone: they hold for the last labels, and the
    /// last step moved few enough rows (<see cref="IncrementalUpdate.Suits"/>).
    /// </summary>
    public bool NextStepIsIncremental =>
        AllowIncremental && _sumsHold && IncrementalUpdate.Suits(_lastChanged, (long)Batches * Rows, IncrementalThreshold);

    /// <summary>False to sum every row in every step (for tests and benchmarks that compare the two updates).</summary>
    internal bool AllowIncremental { get; set; } = true;

    /// <summary>
    /// False to count the labels with the separate kernels even where the assignment could (<see cref="CudaSession.CanCountLabels"/>),
    /// for tests that compare the two. Set it before the first step, which captures the launches.
    /// </summary>
    internal bool AllowAssignCounting { get; set; } = true;

    /// <summary>The largest share of moved labels after which a step is incremental (<see cref="IncrementalUpdate.MaxMovedFraction"/>; benchmarks vary it).</summary>
    internal double IncrementalThreshold { get; set; } = IncrementalUpdate.MaxMovedFraction;

    /// <summary>How the last <see cref="Step(bool, Span{LloydStepResult}, bool, CancellationToken)"/> updated the centroids (for the benchmark's per-step breakdown).</summary>
    internal UpdateKind LastUpdate { get; private set; }

    /// <summary>Whether a step enqueued ahead is in the queue, its results not read yet (for tests).</summary>
    internal bool HasStepAhead => _ahead is not null;

    /// <summary>One Lloyd step of every problem; waits for it and writes each problem's outcome.</summary>
    public void Step(bool normalizeCentroids, Span<LloydStepResult> results, CancellationToken cancellationToken) =>
        Step(normalizeCentroids, results, stepAhead: false, cancellationToken);

    /// <summary>
    /// One Lloyd step of every problem; waits for it and writes each problem's outcome. With <paramref name="stepAhead"/>
    /// the next step (with the same <paramref name="normalizeCentroids"/>) may be enqueued before this one is waited for;
    /// the next call then only waits for it (see the remarks on the class).
    /// </summary>
    public void Step(bool normalizeCentroids, Span<LloydStepResult> results, bool stepAhead, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!(Scale > 0))
            throw new InvalidOperationException("The batch sums rows in fixed point, and its scale has not been set (CudaBatch.Scale).");
        _context.MakeCurrent();
        EnqueuedStep step;
        if (_ahead is EnqueuedStep ahead && ahead.Normalize == normalizeCentroids)
        {
            step = ahead;
            _ahead = null;
        }
        else
        {
            DiscardStepAhead();
            step = Enqueue(normalizeCentroids);
        }
        // The step ahead's update is chosen from what the host knew before this step (its moved labels are not read
        // yet). Where that choice would be a sort only for want of them (the first steps, or after a load),
        // this step's results would likely choose better, and a sort costs more than the wait saved: no step ahead then.
        if (stepAhead && NextUpdate != UpdateKind.Sort)
            _ahead = Enqueue(normalizeCentroids);
        _stepDone[step.Parity].Synchronize();
        Read(step, results);
    }

    /// <summary>
    /// Problem <paramref name="problem"/>'s labels and squared distances as the last step read left them (going back from
    /// a step enqueued ahead first, whose assignment overwrites them), N each, into host memory.
    /// </summary>
    public void CopyAssignmentOut(int problem, Span<int> labels, Span<float> distances)
    {
        if ((uint)problem >= (uint)Batches || labels.Length != Rows || distances.Length != Rows)
            throw new ArgumentException($"Expected problem {problem} of {Batches} and {Rows} labels and distances.");
        _context.MakeCurrent();
        DiscardStepAhead();
        Labels.CopyTo(labels, problem * Rows, _s.Stream);
        Distances.CopyTo(distances, problem * Rows, _s.Stream);
    }

    /// <summary>
    /// Goes back to the state that the last step read left, where a step enqueued ahead has run since (see the remarks on the
    /// class): its labels, distances and centroids, with sums that no longer hold (the next step sorts). The ways in and
    /// out of that state (<see cref="WriteCentroids(int, ReadOnlySpan{float})"/>, <see cref="CopyAssignmentOut"/>,
    /// <see cref="CopyCentroidsOut"/>) call it themselves.
    /// </summary>
    private void DiscardStepAhead()
    {
        if (_ahead is not EnqueuedStep ahead)
            return;
        _ahead = null;
        _context.MakeCurrent();
        long values = (long)Batches * Clusters * Dimension;
        // The last step's assignment again, under the centroids it started from, which the step ahead kept at the other parity.
        RestoreCentroids(_before.At((ahead.Parity ^ 1) * values), values);
        EnqueuePlainAssign();
        _previousLabels.CopyFromDevice(Labels.Pointer, Labels.Length, _s.Stream);
        // The centroids the last step left: those the step ahead started from.
        RestoreCentroids(_before.At(ahead.Parity * values), values);
        _s.Stream.Synchronize();
        _sumsHold = false;
    }

    private void RestoreCentroids(ulong source, long values)
    {
        Centroids.CopyFromDevice(source, values, _s.Stream);
        PackCentroids(0, Batches);
    }

    /// <summary>
    /// Copies out problem <paramref name="problem"/>'s centroids as the last step read left them (K × d): those of
    /// <see cref="Centroids"/>, or, while a step ahead is in the queue, those it started from (it is waited for).
    /// </summary>
    public void CopyCentroidsOut(int problem, Span<float> destination)
    {
        _context.MakeCurrent();
        long values = (long)Clusters * Dimension, offset = problem * values;
        if (_ahead is EnqueuedStep ahead)
            _before.CopyTo(destination[..(int)values], ahead.Parity * Batches * values + offset, _s.Stream);
        else
            Centroids.CopyTo(destination[..(int)values], offset, _s.Stream);
    }

    // Enqueues the next step (its update chosen now) and records its parity's event after it.
    private EnqueuedStep Enqueue(bool normalizeCentroids)
    {
        var update = NextUpdate;
        int parity = _nextParity;
        _nextParity ^= 1;
        // The whole step is one captured graph, replayed each iteration: its launches keep the same
        // buffers, so only the launch overhead goes (which dominates small problems).
        var key = (normalizeCentroids, update, parity);
        if (!_graphsFailed && !_stepGraphs.ContainsKey(key))
        {
            try
            {
                _stepGraphs[key] = CudaGraph.Capture(_s.Stream, () => EnqueueStep(normalizeCentroids, update, parity));
            }
            catch (CudaException)
            {
                _graphsFailed = true;  // fall back to plain launches
            }
        }
        if (_tiles is CentroidTiles tiles && _tilesStale)
        {
            // Outside the graph: each step's finalize keeps the tiles current from then on.
            _s.PackCentroidTiles(PackedCentroids.Pointer, CentroidNorms.Pointer, Clusters, Pitch, Batches, tiles);
            _tilesStale = false;
        }
        if (_stepGraphs.TryGetValue(key, out var graph))
            graph.Launch(_s.Stream);
        else
            EnqueueStep(normalizeCentroids, update, parity);
        _stepDone[parity].Record(_s.Stream);
        _sumsHold = true;
        return new EnqueuedStep(normalizeCentroids, update, parity);
    }

    // Reads a finished step's results: what the next steps' updates are chosen by, and each problem's outcome.
    private void Read(EnqueuedStep step, Span<LloydStepResult> results)
    {
        _readParity = step.Parity;
        var scalars = _hostReadBack[step.Parity].Span[(Batches * Clusters)..];
        LastUpdate = step.Update;
        _lastChanged = 0;
        for (int b = 0; b < Batches; b++)
            _lastChanged += scalars[Batches + b];
        var weights = HostWeights;
        Span<long> problemScalars = stackalloc long[2];
        for (int b = 0; b < Batches; b++)
        {
            problemScalars[0] = scalars[b];
            problemScalars[1] = scalars[Batches + b];
            results[b] = CudaBindingHost.StepResult(problemScalars, weights.Slice(b * Clusters, Clusters));
        }
    }

    /// <summary>
    /// Enqueues one Lloyd step of all problems, ending with the copies of the scalars and cluster weights to
    /// pinned memory. Each launch covers the whole batch (the kernels' batch dimension).
    /// </summary>
    private unsafe void EnqueueStep(bool normalizeCentroids, UpdateKind update, int parity, bool includeAssign = true)
    {
        var s = _s;
        int b = Batches, k = Clusters, d = Dimension, ld = Pitch;
        long n = Rows, total = b * n;
        int clusters = b * k;
        ulong weights = Weights?.Pointer ?? 0;
        var inertia = new StepInertia(Distances.Pointer, _partials.Pointer, _scalars.At(0), n, b);
        ulong before = _before.At(parity * clusters * d);
        _scalars.Clear(s.Stream);
        if (update == UpdateKind.Incremental)
        {
            // The sums and counts hold for the previous labels: move the rows whose label changed.
            var moved = LabelCount.Incremental(_previousLabels.Pointer, _incremental.SignedCounts, _scalars.At(b));
            bool counted = EnqueueAssign(includeAssign, moved);
            _incremental.Enqueue(s, new DeviceRows(X.Pointer, weights, total, d, ld), Labels.Pointer, moved, _counts.Pointer, _sums.Pointer,
                Scale, k, b, countMoved: !counted, inertia);
        }
        else
        {
            _counts.Clear(s.Stream);
            if (!EnqueueAssign(includeAssign, LabelCount.Sorting(_previousLabels.Pointer, _scalars.At(b), _counts.Pointer)))
                s.Histogram(Labels.Pointer, _counts.Pointer, total, k, b, _previousLabels.Pointer, _scalars.At(b));
            s.WeightedSumPartials(inertia, weights);
            s.ExclusiveScan(_counts.Pointer, _offsets.Pointer, _cursor.Pointer, clusters);
            s.Scatter(Labels.Pointer, _cursor.Pointer, _sorted.Pointer, total, k, b);
            _sums.Clear(s.Stream);
            s.SegmentSums(X.Pointer, weights, _offsets.Pointer, _sorted.Pointer, total, k, d, ld, _sums.Pointer, Scale, b);
        }
        EnqueueClusterWeights(weights, total, k, b);
        s.FinalizeCentroids(_sums.Pointer, _counts.Pointer, _weightSums?.Pointer ?? 0, clusters, d, 1.0 / Scale,
            1.0 / WeightScale, StepTargets(normalizeCentroids, inertia, before) with { PackedPitch = ld });
        EnqueueReadBack(parity);
    }

    // What a step's finalize writes: the centroids, shifts and weights, the packed centroids and tiles the next
    // assignment reads, the inertia totals and, where asked, the centroids as they were.
    private FinalizeTargets StepTargets(bool normalizeCentroids, StepInertia inertia, ulong before) =>
        new(Centroids.Pointer, _shift.Pointer, WeightOut, normalizeCentroids)
        {
            Packed = PackedCentroids.Pointer,
            Norms = CentroidNorms.Pointer,
            Inertia = inertia,
            Tiles = _tiles,
            Before = before,
        };

    private void EnqueueClusterWeights(ulong weights, long total, int k, int b)
    {
        if (_weightSums is null)
            return;
        _weightSums.Clear(_s.Stream);
        _s.ClusterWeights(weights, Labels.Pointer, _weightSums.Pointer, total, k, WeightScale, b);
    }

    // One copy, not one per array: each node of the captured step costs about a microsecond.
    private unsafe void EnqueueReadBack(int parity) =>
        _s.Stream.CopyToHost(_hostReadBack[parity].Pointer, _readBack.Pointer, _readBack.Bytes);

    // The step's assignment (none when !include): where the warp-specialised kernel runs, its storer warps also do the
    // update's first pass over the labels (count), which saves the step that pass. Returns whether they did.
    private bool EnqueueAssign(bool include, LabelCount count)
    {
        if (!include)
            return false;
        if (!AllowAssignCounting || !_s.CanCountLabels(Dimension, Pitch))
        {
            EnqueuePlainAssign();
            return false;
        }
        _s.AssignCountingLabels(X.Pointer, XNorms.Pointer, Rows, Dimension, Pitch, PackedCentroids.Pointer, CentroidNorms.Pointer, Clusters,
            Labels.Pointer, Distances.Pointer, Batches, count, _tiles);
        return true;
    }

    /// <summary>Enqueues the assignment of <see cref="Step(bool, Span{LloydStepResult}, bool, CancellationToken)"/> alone, for the benchmarks' assign-only timing.</summary>
    internal void EnqueueAssign()
    {
        DiscardStepAhead();
        EnqueuePlainAssign();
    }

    // The assignment alone, labels and distances stored: the steps where it cannot count the labels, and going back.
    private void EnqueuePlainAssign() =>
        _s.Assign(X.Pointer, XNorms.Pointer, Rows, Dimension, Pitch, PackedCentroids.Pointer, CentroidNorms.Pointer, Clusters, Pitch,
            Labels.Pointer, Distances.Pointer, updateMin: false, Batches);

    /// <summary>
    /// Enqueues everything of the next <see cref="Step(bool, Span{LloydStepResult}, bool, CancellationToken)"/> but the
    /// assignment, for the benchmarks' breakdown. An incremental step is timed as a sorting one: repeated on the same labels,
    /// it would find no row moved.
    /// </summary>
    internal void EnqueueUpdate()
    {
        DiscardStepAhead();
        EnqueueStep(false, UpdateKind.Sort, _nextParity, includeAssign: false);
    }

    private T Own<T>(T resource) where T : IDisposable
    {
        return _owned.Own(resource);
    }

    public void Dispose()
    {
        List<Exception>? errors = null;
        try
        {
            // A step enqueued ahead may still run on these buffers.
            if (_ahead is not null)
                _s.Stream.Synchronize();
        }
        catch (CudaException e)
        {
            (errors ??= []).Add(e);
        }
        _ahead = null;
        // The graphs first: they point at the buffers.
        Disposal.DisposeInReverse([.. _stepGraphs.Values], e => e is CudaException, ref errors);
        _stepGraphs.Clear();
        _owned.Free(ref errors);
        if (errors is not null)
            throw new AggregateException("Freeing the batch's GPU memory failed.", errors);
    }
}
