using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// A device, its stream and loaded kernels, plus the launch of each kernel with its grid worked out.
/// The binding and the scorer build on these operations; nothing here synchronises unless it says so.
/// </summary>
internal sealed class CudaSession : IDisposable
{
    private const int AssignSharedBytes = 98304;   // flash_assign_mma.cu: SMEM_BYTES
    private const int WgmmaSharedBytes = 99328;    // flash_assign_wgmma.cu: SMEM_BYTES
    private const int TopKSharedBytes = 166912;    // flash_topk.cu: SMEM_TOTAL
    // Most partial sums per reduction: enough blocks to fill a GPU (64 left an 8M-row inertia latency-bound on
    // half the SMs). The count depends on n alone (SumChunksFor), not on the device, so results reproduce.
    internal const int SumChunks = 512;

    /// <summary>Partial sums (blocks) of a reduction over <paramref name="n"/> values: one per 4096, within [1, <see cref="SumChunks"/>].</summary>
    internal static int SumChunksFor(long n) => (int)Math.Clamp((n + 4095) / 4096, 1, SumChunks);

    private readonly bool _ownsContext;
    private readonly bool _ownsKernels;
    private readonly HashSet<string> _sharedRaised = [];
    private readonly Dictionary<(int D, int Ldx, int Ldc), string> _assignNames = [];
    private readonly Dictionary<(ulong X, long Rows, int RowBytes, int BoxRows), CuTensorMap> _rowMaps = [];
    private DeviceBuffer<byte>? _centroidTiles;
    // Outgrown tile buffers stay allocated until the session ends: a captured graph may still point at them.
    private readonly List<DeviceBuffer<byte>> _retiredTiles = [];
    private readonly DeviceBuffer<double> _partials = null!;

    /// <param name="context">The device.</param>
    /// <param name="precision">Storage and arithmetic of the distance products.</param>
    /// <param name="ownsContext">Whether disposing the session releases <paramref name="context"/>.</param>
    /// <param name="allowWgmma">Use the Hopper wgmma kernels where they load (false: always mma.sync, for comparison).</param>
    /// <param name="allowWarpSpecialised">Among those, use the warp-specialised ones (false: the register-A and
    /// shared-memory wgmma kernels, the fallback where their shared memory is not available; for tests).</param>
    public CudaSession(CudaContext context, CudaPrecision precision, bool ownsContext, bool allowWgmma = true, bool allowWarpSpecialised = true)
        : this(context, null, precision, ownsContext, allowWgmma, allowWarpSpecialised)
    {
    }

    /// <summary>
    /// A session on kernels already loaded into <paramref name="context"/> (<see cref="CudaSharedDevice"/>), which it
    /// uses but does not unload; with <paramref name="kernels"/> null it loads its own and unloads them on Dispose.
    /// </summary>
    internal CudaSession(CudaContext context, CudaKernels? kernels, CudaPrecision precision, bool ownsContext,
        bool allowWgmma = true, bool allowWarpSpecialised = true)
    {
        Context = context;
        Precision = precision;
        _ownsContext = ownsContext;
        _ownsKernels = kernels is null;
        try
        {
            Kernels = kernels ?? new CudaKernels(context);
            if (precision.TensorCoreKernel is not null && !Kernels.HasTensorCores)
                throw new NotSupportedException($"{precision.Mode} needs tensor cores of compute capability 8.0 or later; {context.Name} has {context.ComputeCapability / 10}.{context.ComputeCapability % 10}.");
            if (precision.TensorCoreKernel is not null)
            {
                if (context.MaxSharedMemoryPerBlock < AssignSharedBytes)
                    throw new NotSupportedException($"{context.Name} allows {context.MaxSharedMemoryPerBlock} bytes of shared memory per block; the tensor-core kernel needs {AssignSharedBytes}.");
                Kernels.Get("flash_assign_mma", precision.TensorCoreKernel).SetMaxDynamicSharedMemory(AssignSharedBytes);
                UsesWgmma = allowWgmma && Kernels.HasWgmma && context.MaxSharedMemoryPerBlock >= WgmmaSharedBytes;
                if (UsesWgmma)
                    Kernels.Get("flash_assign_wgmma", WgmmaKernel).SetMaxDynamicSharedMemory(WgmmaSharedBytes);
                UsesWarpSpecialised = UsesWgmma && allowWarpSpecialised && Kernels.HasWarpSpecialised
                    && context.MaxSharedMemoryPerBlock >= WarpSpecialisedSharedBytes(WarpSpecialisedMaxChunks);
            }
            // The sort kernels keep their counters (and the scatter a sorted piece of rows) in shared memory when they fit.
            Kernels.Get("label_sort", "label_histogram").SetMaxDynamicSharedMemory(context.MaxSharedMemoryPerBlock);
            Kernels.Get("label_sort", "scatter_indices").SetMaxDynamicSharedMemory(context.MaxSharedMemoryPerBlock);
            Kernels.Get("moved_rows", "count_moved_rows").SetMaxDynamicSharedMemory(context.MaxSharedMemoryPerBlock);
            Kernels.Get("moved_rows", "scatter_moved_rows").SetMaxDynamicSharedMemory(MovedScatterMaxShared);
            SegmentSharedBytes = SegmentSumSharedBytes(context.ComputeCapability);
            foreach (string sum in new[] { "segment_sum_", "segment_sum_fixed_", "segment_sum_moved_" })
                Kernels.Get("centroid_update", sum + precision.Suffix).SetMaxDynamicSharedMemory(SegmentSharedBytes);
            Stream = new CudaStream(context);
            // Allocated up front: allocation is not allowed while a step is being captured into a graph.
            _partials = new DeviceBuffer<double>(context, SumChunks);
        }
        catch
        {
            if (_ownsKernels)
                Kernels?.Dispose();
            if (ownsContext)
                context.Dispose();
            throw;
        }
    }

    public CudaContext Context { get; }

    /// <summary>Dynamic shared memory of segment_sum_*: centroid_update.cu's SMEM_BYTES, three ring stages from sm_80 on, two before.</summary>
    internal static int SegmentSumSharedBytes(int computeCapability) => computeCapability >= 80 ? 98304 : 65536;

    private int SegmentSharedBytes { get; }

    public CudaPrecision Precision { get; }

    public CudaKernels Kernels { get; } = null!;

    public CudaStream Stream { get; } = null!;

    /// <summary>Whether tensor-core assignment runs on the Hopper wgmma kernels rather than mma.sync.</summary>
    public bool UsesWgmma { get; }

    /// <summary>
    /// Whether rows of up to 1024 bytes are assigned by the warp-specialised kernels (flash_assign_ws.cu:
    /// a producer warp streaming packed centroid tiles, consumer warpgroups holding rows in registers, or the longest in shared memory).
    /// </summary>
    public bool UsesWarpSpecialised { get; }

    /// <summary>
    /// Chunks of the rows that stay in shared memory (flash_assign_ws.cu, run_shared_rows: rows of 513 to 1024 bytes,
    /// read through a tensor map); shorter rows are held in registers.
    /// </summary>
    internal const int SharedRowChunks = 8;

    private const int WarpSpecialisedMaxChunks = SharedRowChunks;

    /// <summary>128-byte chunks per row of the warp-specialised kernel for rows of <paramref name="rowBytes"/> bytes (0: none fits).</summary>
    internal static int WarpSpecialisedChunks(int rowBytes) =>
        rowBytes <= 128 ? 1 : rowBytes <= 256 ? 2 : rowBytes <= 512 ? 4 : rowBytes <= 1024 ? SharedRowChunks : 0;

    /// <summary>
    /// Consumer warpgroups and ring stages of flash_assign_ws{chunks}_*: the instantiations at the end of flash_assign_ws.cu.
    /// A stage holds a whole centroid tile, except for the shared rows, where it holds one chunk of one.
    /// </summary>
    internal static (int Groups, int Stages) WarpSpecialisedShape(int chunks) => chunks switch
    {
        SharedRowChunks => (2, 5),
        4 => (2, 2),
        _ => (3, 4),
    };

    /// <summary>Whether flash_assign_ws{chunks}_* has an _update entry (not for the shared rows).</summary>
    internal static bool HasFusedUpdate(int chunks) => chunks is > 0 and < SharedRowChunks;

    /// <summary>
    /// Dynamic shared memory of flash_assign_ws{chunks}_*: alignment slack, the stages, the row tile, the mbarriers, and
    /// for the plain entries the slots that hand labels to the storer warps, with their mbarriers; with
    /// <paramref name="fused"/> of the _update entries, which have no slots.
    /// </summary>
    internal static int WarpSpecialisedSharedBytes(int chunks, bool fused = false)
    {
        var (groups, stages) = WarpSpecialisedShape(chunks);
        if (chunks == SharedRowChunks)  // stages of one chunk, the row tile, mbarriers per stage and per row chunk, slots
            return 1024 + stages * (16384 + 1024) + 64 * groups * chunks * 128 + 16 * (stages + chunks) + 32 + 2 * 64 * groups * 8;
        int common = RegisterRowsSharedBytes(chunks, groups, stages);
        return fused ? common : common + 32 + 2 * 64 * groups * 8;
    }

    // Register-row entries with no storer slots (the _update and top-k entries): alignment slack, the stages, the row
    // tile with its 16-byte skews, the mbarriers.
    private static int RegisterRowsSharedBytes(int chunks, int groups, int stages) =>
        1024 + stages * (chunks * 16384 + 1024) + 64 * groups * chunks * 128 + 128 + 80;

    /// <summary>
    /// Threads per block of flash_assign_ws{chunks}_*: the consumer warpgroups, the producer warp and, in the plain
    /// entries, one storer warp per consumer warpgroup; with <paramref name="fused"/> of the _update entries.
    /// </summary>
    internal static int WarpSpecialisedThreads(int chunks, bool fused = false)
    {
        int groups = WarpSpecialisedShape(chunks).Groups;
        if (chunks == SharedRowChunks)  // a second producer warp, for the rows
            return 128 * groups + 64 + 32 * groups;
        return 128 * groups + 32 + (fused ? 0 : 32 * groups);
    }

    /// <summary>Bytes of one packed centroid tile (128 centroids of <paramref name="chunks"/> 128-byte chunks, then their norms).</summary>
    internal static long CentroidTileBytes(int chunks) => chunks * 16384L + 512;

    /// <summary>
    /// Allocates the packed centroid tiles for <paramref name="k"/> centroids × <paramref name="batches"/> now, so
    /// that <see cref="Assign"/> allocates nothing later: allocation is not allowed while a step is captured.
    /// </summary>
    public void ReserveCentroidTiles(int k, int ld, int batches = 1)
    {
        int chunks = WarpSpecialisedChunks(ld * Precision.ElementBytes);
        if (UsesWarpSpecialised && chunks > 0)
            CentroidTiles(k, chunks, batches);
    }

    private ulong CentroidTiles(int k, int chunks, int batches)
    {
        long bytes = (long)batches * ((k + 127) / 128) * CentroidTileBytes(chunks);
        if (_centroidTiles is null || _centroidTiles.Length < bytes)
        {
            if (_centroidTiles is not null)
                _retiredTiles.Add(_centroidTiles);
            _centroidTiles = new DeviceBuffer<byte>(Context, bytes);
        }
        return _centroidTiles.Pointer;
    }

    /// <summary>
    /// 128-byte chunks per row of the packed centroid tiles that rows of dimension <paramref name="d"/> at pitch
    /// <paramref name="ld"/> are assigned against, or 0 where their assignment reads no tiles (<see cref="CanCountLabels"/>).
    /// </summary>
    public int CentroidTileChunks(int d, int ld) => CanCountLabels(d, ld) ? WarpSpecialisedChunks(ld * Precision.ElementBytes) : 0;

    /// <summary>
    /// Lays the stored centroids (B problems of <paramref name="k"/> rows at pitch <paramref name="ld"/>) and their norms out as
    /// <paramref name="tiles"/>, padding included (flash_assign_ws.cu, pack_centroid_tiles).
    /// </summary>
    public void PackCentroidTiles(ulong centroids, ulong centroidNorms, int k, int ld, int batches, CentroidTiles tiles)
    {
        long pieces = (long)((k + 127) / 128) * tiles.Chunks * 1024;  // 16-byte pieces per problem
        var pack = new KernelArgs().Add(centroids).Add(centroidNorms).Add(tiles.Pointer).Add(k).Add(ld * Precision.ElementBytes).Add(tiles.Chunks);
        Kernels.Get("flash_assign_ws", "pack_centroid_tiles").Launch(Stream, (Math.Min((pieces + 255) / 256, 264), batches, 1), 256, 0, pack);
    }

    private void RaiseSharedMemory(CudaFunction function, string name, int bytes)
    {
        if (_sharedRaised.Add(name))
            function.SetMaxDynamicSharedMemory(bytes);
    }

    private string WgmmaKernel => Precision.TensorCoreKernel!.Replace("flash_assign_", "flash_assign_wgmma_", StringComparison.Ordinal);

    private long GridStride(long work) => Math.Min((work + 255) / 256, (long)Context.MultiprocessorCount * 16);

    /// <summary>fp32 rows (rows × <paramref name="lds"/>) into stored rows (rows × ldd) in the session's precision, with norms.</summary>
    public void PackRows(ulong source, long rows, int d, int lds, ulong destination, int ldd, ulong norms)
    {
        var args = new KernelArgs().Add(source).Add(destination).Add(norms).Add(rows).Add(d).Add(lds).Add(ldd);
        Kernels.Get("row_pack", Precision.PackKernel).Launch(Stream, ((rows + 7) / 8, 1, 1), 256, 0, args);
    }

    /// <summary>Squared norms of <paramref name="rows"/> stored rows (pitch <paramref name="ld"/>) into <paramref name="norms"/>.</summary>
    public void RowNorms(ulong x, long rows, int d, int ld, ulong norms)
    {
        var args = new KernelArgs().Add(x).Add(norms).Add(rows).Add(d).Add(ld);
        Kernels.Get("row_pack", "row_norms_" + Precision.Suffix).Launch(Stream, ((rows + 7) / 8, 1, 1), 256, 0, args);
    }

    /// <summary>
    /// Lowers the int32 at <paramref name="output"/> (set it to <see cref="int.MaxValue"/> first) to the index of the first of
    /// <paramref name="rows"/> norms that is not finite: a row with a NaN or infinite value, or one too long for float32.
    /// </summary>
    public void FirstNonFiniteRow(ulong norms, long rows, ulong output)
    {
        var args = new KernelArgs().Add(norms).Add(rows).Add(output);
        Kernels.Get("row_pack", "first_nonfinite_row").Launch(Stream, (GridStride(rows), 1, 1), 256, 0, args);
    }

    /// <summary>
    /// Each of <paramref name="n"/> fp32 rows' nearest of <paramref name="k"/> fp32 centroids (both at pitch <paramref name="d"/>)
    /// under L1, the lower index on ties, and its L1 distance (assign_l1.cu: SIMT, since tensor cores cannot sum |x − c|).
    /// </summary>
    public void AssignL1(ulong x, ulong centroids, int n, int k, int d, ulong labels, ulong distances)
    {
        var args = new KernelArgs().Add(x).Add(centroids).Add(n).Add(k).Add(d).Add(labels).Add(distances);
        Kernels.Get("assign_l1", "assign_l1_f32").Launch(Stream, ((n + 127) / 128, 1, 1), 128, 0, args);
    }

    /// <summary>Every row's L1 distance to every centroid (n × k, row-major), as <see cref="AssignL1"/> sums them.</summary>
    public void DistancesL1(ulong x, ulong centroids, int n, int k, int d, ulong output)
    {
        var args = new KernelArgs().Add(x).Add(centroids).Add(n).Add(k).Add(d).Add(output);
        Kernels.Get("assign_l1", "distances_l1_f32").Launch(Stream, ((n + 127) / 128, 1, 1), 128, 0, args);
    }

    /// <summary>The assignment kernels, fastest first; <see cref="ChooseAssign"/> takes the first that applies.</summary>
    private enum AssignPath
    {
        /// <summary>flash_assign_ws.cu, Hopper, rows of up to 1024 bytes.</summary>
        WarpSpecialised,
        /// <summary>flash_assign_wgmma.cu run_rs, Hopper, rows of up to 256 bytes (with the warp-specialised kernels unavailable).</summary>
        RegisterA,
        /// <summary>flash_assign_wgmma.cu run, Hopper, any row length.</summary>
        Wgmma,
        /// <summary>flash_assign_mma.cu, sm_80 and later.</summary>
        MmaSync,
        /// <summary>flash_assign_exact.cu: fp32 arithmetic, and d below 16.</summary>
        Exact,
    }

    private AssignPath ChooseAssign(int d, int ldx, int ldc)
    {
        if (!Precision.UsesTensorCores(d))
            return AssignPath.Exact;
        int rowBytes = ldx * Precision.ElementBytes;
        if (UsesWarpSpecialised && WarpSpecialisedChunks(rowBytes) > 0 && ldc == ldx)
            return AssignPath.WarpSpecialised;
        if (UsesWgmma)
            return rowBytes <= 256 ? AssignPath.RegisterA : AssignPath.Wgmma;
        return AssignPath.MmaSync;
    }

    /// <summary>The kernel <see cref="Assign"/> launches for rows of <paramref name="d"/> values at pitch <paramref name="ldx"/> (for logs and benchmarks).</summary>
    public string AssignKernelName(int d, int ldx, int ldc)
    {
        // Assign asks on every launch (per streamed batch, per seeding pass): build each name once.
        if (!_assignNames.TryGetValue((d, ldx, ldc), out string? name))
            _assignNames[(d, ldx, ldc)] = name = BuildAssignKernelName(d, ldx, ldc);
        return name;
    }

    private string BuildAssignKernelName(int d, int ldx, int ldc)
    {
        int rowBytes = ldx * Precision.ElementBytes;
        return ChooseAssign(d, ldx, ldc) switch
        {
            AssignPath.WarpSpecialised => $"flash_assign_ws{WarpSpecialisedChunks(rowBytes)}_{Precision.TensorCoreKernel!["flash_assign_".Length..]}",
            AssignPath.RegisterA => RegisterAKernel(rowBytes),
            AssignPath.Wgmma => WgmmaKernel,
            AssignPath.MmaSync => Precision.TensorCoreKernel!,
            _ => (d <= 8 ? "flash_assign_exact_small_" : "flash_assign_exact_") + Precision.Suffix,
        };
    }

    private string RegisterAKernel(int rowBytes) =>
        WgmmaKernel.Replace("flash_assign_wgmma_", $"flash_assign_wgmma_rs{(rowBytes <= 128 ? 1 : 2)}_", StringComparison.Ordinal);

    /// <summary>
    /// Nearest of <paramref name="k"/> stored centroids for each of <paramref name="n"/> stored rows, for
    /// <paramref name="batches"/> independent problems laid out one after another (B, n, ·) and (B, k, ·).
    /// <paramref name="labels"/> and <paramref name="distances"/> may be 0 (not written).
    /// </summary>
    public void Assign(ulong x, ulong xNorms, long n, int d, int ldx, ulong centroids, ulong centroidNorms, int k, int ldc,
                       ulong labels, ulong distances, bool updateMin, int batches = 1) =>
        AssignRows(x, xNorms, n, d, ldx, centroids, centroidNorms, k, ldc, labels, distances, updateMin, batches, default);

    /// <summary>
    /// Whether the assignment of rows of dimension <paramref name="d"/> stored at pitch <paramref name="ld"/> can count the
    /// labels for the centroid update (<see cref="AssignCountingLabels"/>): the warp-specialised kernel's storer warps.
    /// </summary>
    public bool CanCountLabels(int d, int ld) => ChooseAssign(d, ld, ld) == AssignPath.WarpSpecialised;

    /// <summary>
    /// The assignment of <see cref="Assign"/> (labels and distances stored, B problems) that also does the centroid update's
    /// first pass over the labels, in the storer warps (flash_assign_ws.cu, MovedCount): <see cref="CountMovedRows"/>' or
    /// <see cref="Histogram"/>'s, as <paramref name="count"/> says. Only where <see cref="CanCountLabels"/>.
    /// </summary>
    /// <remarks>With <paramref name="tiles"/> the centroids are read from those, which must hold them (a batch's own tiles:
    /// <see cref="PackCentroidTiles"/>, then the finalize); else they are packed into the session's tiles first.</remarks>
    public void AssignCountingLabels(ulong x, ulong xNorms, long n, int d, int ld, ulong centroids, ulong centroidNorms, int k,
                                     ulong labels, ulong distances, int batches, LabelCount count, CentroidTiles? tiles = null)
    {
        if (!CanCountLabels(d, ld))
            throw new InvalidOperationException($"Rows of {d} values at pitch {ld} do not take the warp-specialised assignment, so it cannot count the labels.");
        AssignRows(x, xNorms, n, d, ld, centroids, centroidNorms, k, ld, labels, distances, false, batches, count, tiles);
    }

    // count: the storer warps' count of labels (AssignCountingLabels), or none; only the warp-specialised kernel takes it.
    private void AssignRows(ulong x, ulong xNorms, long n, int d, int ldx, ulong centroids, ulong centroidNorms, int k, int ldc,
                            ulong labels, ulong distances, bool updateMin, int batches, LabelCount count, CentroidTiles? tiles = null)
    {
        if (n > int.MaxValue)
            throw new NotSupportedException($"{n} rows exceed one assignment launch; bind fewer rows.");
        var path = ChooseAssign(d, ldx, ldc);
        string name = AssignKernelName(d, ldx, ldc);
        if (path == AssignPath.WarpSpecialised)
        {
            var tail = new KernelArgs().Add(updateMin ? 1 : 0).Add(count.Previous).Add(count.SignedCounts).Add(count.Changed).Add(count.Counts);
            AssignWarpSpecialised(x, xNorms, (int)n, ldx, centroids, centroidNorms, k, labels, distances, batches,
                WarpSpecialisedChunks(ldx * Precision.ElementBytes), name, tail, fused: false, tiles);
            return;
        }
        if (path == AssignPath.Exact)
        {
            var exact = new KernelArgs().Add(x).Add(centroids).Add(labels).Add(distances)
                .Add((int)n).Add(k).Add(d).Add(ldx).Add(ldc).Add(updateMin ? 1 : 0);
            Kernels.Get("flash_assign_exact", name).Launch(Stream, ((n + 63) / 64, batches, 1), 256, 0, exact);
            return;
        }
        var args = new KernelArgs().Add(x).Add(centroids).Add(centroidNorms).Add(xNorms).Add(labels).Add(distances)
            .Add((int)n).Add(k).Add(d).Add(ldx).Add(ldc).Add(updateMin ? 1 : 0);
        var grid = ((n + 127) / 128, (long)batches, 1L);
        switch (path)
        {
            case AssignPath.RegisterA:
            {
                // X stays in registers, only centroids stream: flash_assign_wgmma.cu, run_rs.
                int shared = ((ldx * Precision.ElementBytes <= 128 ? 1 : 2) + 3) * 16384 + 1024;
                var function = Kernels.Get("flash_assign_wgmma", name);
                RaiseSharedMemory(function, name, shared);
                function.Launch(Stream, grid, 256, shared, args);
                break;
            }
            case AssignPath.Wgmma:
                Kernels.Get("flash_assign_wgmma", name).Launch(Stream, grid, 256, WgmmaSharedBytes, args);
                break;
            default:
                Kernels.Get("flash_assign_mma", name).Launch(Stream, grid, 256, AssignSharedBytes, args);
                break;
        }
    }

    /// <summary>
    /// Whether the assignment of rows of dimension <paramref name="d"/> stored at pitch <paramref name="ld"/> can carry the
    /// centroid update's sums (<see cref="AssignWithUpdate"/>): the warp-specialised kernel's _update entries.
    /// </summary>
    public bool CanFuseUpdate(int d, int ld) =>
        ChooseAssign(d, ld, ld) == AssignPath.WarpSpecialised && HasFusedUpdate(WarpSpecialisedChunks(ld * Precision.ElementBytes));

    /// <summary>
    /// The assignment of <see cref="Assign"/> (labels and distances stored, B problems) that also adds each row, times its
    /// weight, to its cluster's fp32 sums in <paramref name="sums"/>, counts it in <paramref name="counts"/>, copies its
    /// label into <paramref name="previous"/> and counts the moved ones per problem in <paramref name="changed"/>
    /// (flash_assign_ws.cu, update_epilogue). Only where <see cref="CanFuseUpdate"/>; counts and changed zeroed first.
    /// </summary>
    public void AssignWithUpdate(ulong x, ulong xNorms, long n, int d, int ld, ulong centroids, ulong centroidNorms, int k,
                                 ulong labels, ulong distances, int batches, ulong weights, ulong previous, ulong counts, ulong changed,
                                 FusedSums sums, CentroidTiles? tiles = null)
    {
        if (!CanFuseUpdate(d, ld))
            throw new InvalidOperationException($"Rows of {d} values at pitch {ld} do not take the warp-specialised assignment, so they cannot carry the update.");
        var update = new KernelArgs().Add(weights).Add(previous).Add(counts).Add(changed).Add(sums.Pointer).Add(sums.Count).Add(sums.Stride);
        AssignWarpSpecialised(x, xNorms, (int)n, ld, centroids, centroidNorms, k, labels, distances, batches,
            WarpSpecialisedChunks(ld * Precision.ElementBytes), AssignKernelName(d, ld, ld), update, fused: true, tiles);
    }

    // tail: the entry's arguments after batches (the plain entries' update_min and MovedCount, or the _update entries' FusedUpdate).
    // own: tiles that hold the centroids already, or null to pack them into the session's.
    private void AssignWarpSpecialised(ulong x, ulong xNorms, int n, int ld, ulong centroids, ulong centroidNorms, int k,
                                       ulong labels, ulong distances, int batches, int chunks, string name, KernelArgs tail, bool fused,
                                       CentroidTiles? own)
    {
        ulong tiles;
        if (own is CentroidTiles given)
        {
            if (given.K != k || given.Chunks != chunks)
                throw new ArgumentException($"The tiles hold {given.K} centroids of {given.Chunks} chunks, not {k} of {chunks}.", nameof(own));
            tiles = given.Pointer;
        }
        else
        {
            tiles = CentroidTiles(k, chunks, batches);
            PackCentroidTiles(centroids, centroidNorms, k, ld, batches, new CentroidTiles(tiles, k, chunks));
        }

        var (groups, _) = WarpSpecialisedShape(chunks);
        if (fused)
            name += "_update";
        LaunchWarpSpecialised("flash_assign_ws", name, x, xNorms, n, ld, tiles, labels, distances, k, batches, chunks, groups,
            WarpSpecialisedThreads(chunks, fused), WarpSpecialisedSharedBytes(chunks, fused), tail);
    }

    // One launch of a warp-specialised entry (flash_assign_ws.cuh's run): persistent blocks, one per SM, each walking row
    // tiles blockIdx.x, + gridDim.x, ...; the rows by pointer, or through a tensor map for the shared-row entries.
    // outputs: the entry's two output pointers (labels and distances, or top-k indices and distances).
    private void LaunchWarpSpecialised(string file, string name, ulong x, ulong xNorms, int n, int ld, ulong tiles,
                                       ulong indices, ulong distances, int k, int batches, int chunks, int groups, int threads,
                                       int shared, KernelArgs tail)
    {
        var function = Kernels.Get(file, name);
        RaiseSharedMemory(function, name, shared);
        long rowTiles = (long)batches * ((n + 64 * groups - 1) / (64 * groups));
        int rowBytes = ld * Precision.ElementBytes;
        var args = chunks == SharedRowChunks
            ? new KernelArgs().AddTensorMap(RowTensorMap(x, (long)batches * n, rowBytes, 64 * groups))
                .Add(tiles).Add(xNorms).Add(indices).Add(distances).Add(n).Add(k).Add(batches)
            : new KernelArgs().Add(x).Add(tiles).Add(xNorms).Add(indices).Add(distances).Add(n).Add(k).Add(ld).Add(batches);
        args = args.Concat(tail);
        function.Launch(Stream, (Math.Min(rowTiles, Context.MultiprocessorCount), 1, 1), threads, shared, args);
    }

    /// <summary>
    /// The tensor map of <paramref name="rows"/> rows at <paramref name="x"/> for the shared-row kernels, encoded once per
    /// buffer: streamed batches and seeding passes launch on the same few buffers again and again.
    /// </summary>
    private CuTensorMap RowTensorMap(ulong x, long rows, int rowBytes, int boxRows)
    {
        var key = (x, rows, rowBytes, boxRows);
        if (!_rowMaps.TryGetValue(key, out var map))
        {
            if (_rowMaps.Count >= 64)
                _rowMaps.Clear();  // buffers come and go; a map holds only address and sizes, so a reused address maps alike
            _rowMaps[key] = map = CuTensorMap.SwizzledRows(x, rows, rowBytes, rowBytes, boxRows);
        }
        return map;
    }

    /// <summary>All n × k squared distances (fp32, difference form) between stored rows and stored centroids.</summary>
    public void AllDistances(ulong x, long n, int d, int ldx, ulong centroids, int k, int ldc, ulong output)
    {
        var args = new KernelArgs().Add(x).Add(centroids).Add(output).Add((int)n).Add(k).Add(d).Add(ldx).Add(ldc);
        Kernels.Get("all_distances", "all_distances_" + Precision.Suffix).Launch(Stream, ((n + 63) / 64, (k + 63) / 64, 1), 256, 0, args);
    }

    /// <summary>The per-half list lengths flash_topk.cu is built for; a launch takes the shortest that holds its k.</summary>
    private static readonly int[] TopKLists = [4, 8, 16, 32];

    /// <summary>
    /// The list lengths flash_topk_ws.cu is built for (Hopper, rows of up to 512 bytes; of 257–512 bytes up to 8, since the
    /// row fragments take the registers); a launch takes the shortest that holds its k.
    /// </summary>
    internal static int[] TopKWarpSpecialisedLists(int chunks) => chunks == 4 ? [4, 8] : [4, 8, 16];

    /// <summary>
    /// Consumer warpgroups and ring stages of flash_topk_ws{chunks}_{list}_*: the instantiations at the end of
    /// flash_topk_ws.cu. Two warpgroups, since three leave 128 registers a thread, too few beside the lists.
    /// </summary>
    internal static (int Groups, int Stages) TopKWarpSpecialisedShape(int chunks, int list) => chunks == 4 ? (2, 2) : (2, 4);

    /// <summary>Candidate slots per consumer thread and row of flash_topk_ws.cu (8-byte score and column pairs; flash_assign_ws.cuh, TOPK_QUEUE).</summary>
    private const int TopKQueueSlots = 6;

    /// <summary>Threads per block of flash_topk_ws{chunks}_{list}_*: the consumer warpgroups and the producer warp.</summary>
    internal static int TopKWarpSpecialisedThreads(int chunks, int list) => 128 * TopKWarpSpecialisedShape(chunks, list).Groups + 32;

    /// <summary>Dynamic shared memory of flash_topk_ws{chunks}_{list}_*: as the _update entries of that shape, then the consumers' candidate slots.</summary>
    internal static int TopKWarpSpecialisedSharedBytes(int chunks, int list)
    {
        var (groups, stages) = TopKWarpSpecialisedShape(chunks, list);
        return RegisterRowsSharedBytes(chunks, groups, stages) + 128 * groups * 2 * TopKQueueSlots * 8;
    }

    /// <summary>The most nearest centroids per row <see cref="TopK"/> finds.</summary>
    public const int MaximumTopK = 32;

    /// <summary>
    /// Whether <see cref="TopK"/> runs for rows of <paramref name="d"/> values: the tensor-core precisions (d ≥ 16), its
    /// kernels loaded (sm_80 and later) and room for its 161 KiB of shared memory per block.
    /// </summary>
    public bool CanTopK(int d) => Precision.UsesTensorCores(d) && Kernels.Has("flash_topk") && Context.MaxSharedMemoryPerBlock >= TopKSharedBytes;

    /// <summary>
    /// Each of <paramref name="n"/> stored rows' <paramref name="top"/> nearest of <paramref name="k"/> stored centroids,
    /// nearest first with ties to the lower index: n × top indices and squared distances (from the row norms, clamped at
    /// 0). Only where <see cref="CanTopK"/>. The kernel is FlashAssign's with a top-k epilogue: for one nearest the
    /// assignment itself; on Hopper the warp-specialised sweep (flash_topk_ws.cu) for up to 8 nearest from K = 1024 and
    /// up to 16 from K = 4096, for rows of up to 512 bytes (256 for 16); else the mma.sync sweep (flash_topk.cu).
    /// </summary>
    public void TopK(ulong x, ulong xNorms, int n, int d, int ld, ulong centroids, ulong centroidNorms, int k, int top, ulong indices, ulong distances)
    {
        if (!CanTopK(d))
            throw new InvalidOperationException($"The top-k kernel does not run for {Precision.Mode} rows of {d} values on {Context.Name}.");
        if (top < 1 || top > Math.Min(k, MaximumTopK))
            throw new ArgumentOutOfRangeException(nameof(top), top, $"Between 1 and min(K = {k}, {MaximumTopK}) nearest centroids per row.");
        var kernel = ChooseTopK(d, ld, k, top);
        switch (kernel.File)
        {
            case AssignFile:
                // The nearest centroid is the assignment: its argmin keeps the lower index on ties, as the lists do.
                Assign(x, xNorms, n, d, ld, centroids, centroidNorms, k, ld, indices, distances, updateMin: false);
                break;
            case "flash_topk_ws":
            {
                ulong tiles = CentroidTiles(k, kernel.Chunks, 1);
                PackCentroidTiles(centroids, centroidNorms, k, ld, 1, new CentroidTiles(tiles, k, kernel.Chunks));
                LaunchWarpSpecialised(kernel.File, kernel.Name, x, xNorms, n, ld, tiles, indices, distances, k, 1, kernel.Chunks,
                    TopKWarpSpecialisedShape(kernel.Chunks, kernel.List).Groups, TopKWarpSpecialisedThreads(kernel.Chunks, kernel.List),
                    TopKWarpSpecialisedSharedBytes(kernel.Chunks, kernel.List), new KernelArgs().Add(top));
                break;
            }
            default:
            {
                var function = Kernels.Get(kernel.File, kernel.Name);
                RaiseSharedMemory(function, kernel.Name, TopKSharedBytes);
                var args = new KernelArgs().Add(x).Add(centroids).Add(centroidNorms).Add(xNorms).Add(indices).Add(distances)
                    .Add(n).Add(k).Add(d).Add(ld).Add(ld).Add(top);
                function.Launch(Stream, ((n + 127) / 128, 1, 1), 256, TopKSharedBytes, args);
                break;
            }
        }
    }

    /// <summary>
    /// The kernel <see cref="TopK"/> launches for <paramref name="top"/> nearest of <paramref name="k"/> centroids for rows of
    /// <paramref name="d"/> values at pitch <paramref name="ld"/> (for tests and benchmarks).
    /// </summary>
    public string TopKKernelName(int d, int ld, int k, int top) => ChooseTopK(d, ld, k, top).Name;

    // TopK's kernel for one nearest: Assign's, whichever file it is in.
    private const string AssignFile = "assign";

    // File and entry of TopK's kernel; for flash_topk_ws also the row chunks and the list length.
    private (string File, string Name, int Chunks, int List) ChooseTopK(int d, int ld, int k, int top)
    {
        if (top == 1)
            return (AssignFile, AssignKernelName(d, ld, ld), 0, 1);
        string type = Precision.Mode == ComputePrecision.TensorFloat32 ? "tf32" : Precision.Suffix;
        int chunks = WarpSpecialisedChunks(ld * Precision.ElementBytes);
        int length = TopKWarpSpecialisedLists(chunks).FirstOrDefault(l => l >= top);
        // Measured on the H100 (bench/results/h100.md): the warp-specialised lists pay for themselves from K = 1024
        // (lists of up to 8) and K = 4096 (lists of 16); fewer centroids keep the mma.sync kernel.
        if (ChooseAssign(d, ld, ld) == AssignPath.WarpSpecialised && chunks < SharedRowChunks && length > 0
            && k >= (length <= 8 ? 1024 : 4096) && Kernels.Has("flash_topk_ws"))
        {
            return ("flash_topk_ws", $"flash_topk_ws{chunks}_{length}_{type}", chunks, length);
        }
        int list = TopKLists.First(length => length >= top);
        return ("flash_topk", $"flash_topk{list}_{type}", 0, list);
    }

    /// <summary>Enqueues Σ w·v (fp64, fixed reduction tree) into <paramref name="output"/> (one double).</summary>
    public void WeightedSum(ulong values, ulong weights, long n, ulong output) =>
        WeightedSums(values, weights, n, 1, _partials.Pointer, output);

    /// <summary>
    /// Enqueues Σ w·v of each of <paramref name="batches"/> problems of <paramref name="n"/> values laid out one after
    /// another (weights likewise, or 0 for unit weights) into <paramref name="output"/> (one double per problem), through
    /// <paramref name="partials"/> (<see cref="SumChunksFor"/>(n) doubles per problem, at most <see cref="SumChunks"/>). Each problem's sum is the one
    /// <see cref="WeightedSum"/> gives for it alone.
    /// </summary>
    public void WeightedSums(ulong values, ulong weights, long n, int batches, ulong partials, ulong output)
    {
        var inertia = new StepInertia(values, partials, output, n, batches);
        WeightedSumPartials(inertia, weights);
        var final = new KernelArgs().Add(partials).Add(output).Add(inertia.Chunks);
        Kernels.Get("segmented_sum", "segmented_sum_final").Launch(Stream, (batches, 1, 1), 256, 0, final);
    }

    /// <summary>The first pass of <see cref="WeightedSums"/> over a step's distances; the step's finalize does the second.</summary>
    public void WeightedSumPartials(StepInertia inertia, ulong weights)
    {
        var partial = new KernelArgs().Add(inertia.Distances).Add(weights).Add(inertia.Partials).Add(inertia.Rows);
        Kernels.Get("segmented_sum", "segmented_sum_partial").Launch(Stream, (inertia.Chunks, inertia.Problems, 1), 256, 0, partial);
    }

    /// <summary>
    /// Reduces a finished assignment of <paramref name="n"/> rows (device labels and distances) to its inertia
    /// and, when <paramref name="clusterWeights"/> is not empty, the weight of each of its <paramref name="m"/>
    /// clusters. Weighted sums are exact fixed point (scale <paramref name="weightScale"/>) whatever the update
    /// mode: evaluation is rare and should reproduce. Both the resident and the streamed binding end their
    /// evaluations here, so they agree. <paramref name="weights"/> is 0 for unit weights.
    /// </summary>
    public double ReduceAssignment(ulong labels, ulong distances, ulong weights, long n, int m, float weightScale, Span<double> clusterWeights)
    {
        double inertia = WeightedTotal(distances, weights, n);
        if (!clusterWeights.IsEmpty)
        {
            if (weights == 0)
            {
                using var counts = new DeviceBuffer<int>(Context, m);
                counts.Clear(Stream);
                Histogram(labels, counts.Pointer, n, m);
                var host = new int[m];
                counts.CopyTo(host, 0, Stream);
                for (int c = 0; c < m; c++)
                    clusterWeights[c] = host[c];
            }
            else
            {
                using var sums = new DeviceBuffer<long>(Context, m);
                sums.Clear(Stream);
                ClusterWeights(weights, labels, sums.Pointer, n, m, weightScale);
                var host = new long[m];
                sums.CopyTo(host, 0, Stream);
                for (int c = 0; c < m; c++)
                    clusterWeights[c] = host[c] / (double)weightScale;
            }
        }
        return inertia;
    }

    /// <summary>Σ w·v over <paramref name="n"/> device values, read back (<paramref name="weights"/> 0: unit weights).</summary>
    public double WeightedTotal(ulong values, ulong weights, long n)
    {
        using var result = new DeviceBuffer<double>(Context, 1);
        WeightedSum(values, weights, n, result.Pointer);
        Span<double> total = stackalloc double[1];
        result.CopyTo(total, 0, Stream);
        return total[0];
    }

    /// <summary>Partial sums of w·v over <paramref name="chunks"/> equal row ranges (see segmented_sum.cu).</summary>
    public void ChunkSums(ulong values, ulong weights, long n, int chunks, ulong partials)
    {
        var args = new KernelArgs().Add(values).Add(weights).Add(partials).Add(n);
        Kernels.Get("segmented_sum", "segmented_sum_partial").Launch(Stream, (chunks, 1, 1), 256, 0, args);
    }

    /// <summary>For each of m candidates, Σ w·min(seed, dist[:, j]) into <paramref name="output"/> (m doubles).</summary>
    public void CandidatePotentials(ulong distances, ulong seed, ulong weights, long n, int m, ulong output)
    {
        var partials = new DeviceBuffer<double>(Context, (long)SumChunks * m);
        try
        {
            var args = new KernelArgs().Add(distances).Add(seed).Add(weights).Add(partials.Pointer).Add(n).Add(m);
            int chunks = SumChunksFor(n);
            Kernels.Get("segmented_sum", "candidate_potential_partial").Launch(Stream, (chunks, m, 1), 256, 0, args);
            var final = new KernelArgs().Add(partials.Pointer).Add(output).Add(chunks);
            Kernels.Get("segmented_sum", "segmented_sum_final").Launch(Stream, (m, 1, 1), 256, 0, final);
            Stream.Synchronize();
        }
        finally
        {
            partials.Dispose();
        }
    }

    // In the sort-inverse kernels n is the total row count over all batches; rows of batch b are
    // [b·n/batches, (b+1)·n/batches) and its clusters [b·k, (b+1)·k).
    private static int RowsPerBatch(long n, int batches) => (int)Math.Min(Math.Max(1, n / batches), int.MaxValue);

    /// <summary>Blocks per batch for the sort kernels: about four per SM in all, each on one batch only.</summary>
    private long SortChunks(int batches) => Math.Max(1, 4L * Context.MultiprocessorCount / batches);

    /// <summary>Bytes of <paramref name="ints"/> int32s of dynamic shared memory, or 0 when they do not fit (the sort kernels then use global atomics).</summary>
    private static int SharedIntsBytes(long ints, int maxSharedPerBlock) => 4 * ints <= maxSharedPerBlock ? (int)(4 * ints) : 0;

    /// <summary>
    /// Adds each cluster's row count to <paramref name="counts"/>. With <paramref name="previous"/> (the last step's
    /// labels, -1 before the first) it also adds each problem's moved labels to <paramref name="changed"/> (one uint64
    /// per problem) and copies the labels there, in the same pass over them.
    /// </summary>
    public void Histogram(ulong labels, ulong counts, long n, int k, int batches = 1, ulong previous = 0, ulong changed = 0)
    {
        var args = new KernelArgs().Add(labels).Add(counts).Add(RowsPerBatch(n, batches)).Add(k).Add(previous).Add(changed);
        Kernels.Get("label_sort", "label_histogram").Launch(Stream, (SortChunks(batches), batches, 1), 256, SharedIntsBytes(k, Context.MaxSharedMemoryPerBlock), args);
    }

    public void ExclusiveScan(ulong counts, ulong offsets, ulong cursor, int length)
    {
        var args = new KernelArgs().Add(counts).Add(offsets).Add(cursor).Add(length);
        Kernels.Get("label_sort", "exclusive_scan").Launch(Stream, (1, 1, 1), 1024, 0, args);
    }

    /// <summary>Rows scatter_indices sorts in shared memory at a time (label_sort.cu: SCATTER_SUB).</summary>
    private const int ScatterPieceRows = 8192;

    /// <summary>
    /// Dynamic shared memory of scatter_indices: 4k counters, a sorted piece of rows and a scan's scratch when they fit (the
    /// kernel then writes each cluster's indices in order), else 2k counters, else 0 (global atomics).
    /// </summary>
    internal static int ScatterSharedBytes(int k, int maxSharedPerBlock)
    {
        int sorting = SharedIntsBytes(4L * k + 2 * ScatterPieceRows + 8, maxSharedPerBlock);
        return sorting > 0 ? sorting : SharedIntsBytes(2L * k, maxSharedPerBlock);
    }

    public void Scatter(ulong labels, ulong cursor, ulong sorted, long n, int k, int batches = 1)
    {
        var args = new KernelArgs().Add(labels).Add(cursor).Add(sorted).Add(RowsPerBatch(n, batches)).Add(k);
        Kernels.Get("label_sort", "scatter_indices").Launch(Stream, (SortChunks(batches), batches, 1), 256,
            ScatterSharedBytes(k, Context.MaxSharedMemoryPerBlock), args);
    }

    /// <summary>
    /// Per-cluster sums of (weighted) rows through the sorted index list, fp64 or exact fixed point. The cluster of
    /// each sorted position comes from the segment <paramref name="offsets"/> (the scan of the counts, global
    /// cluster order b·k + label, <paramref name="batches"/>·<paramref name="k"/> + 1 entries), not from the labels.
    /// </summary>
    public void SegmentSums(ulong x, ulong weights, ulong offsets, ulong sorted, long n, int k, int d, int ldx, ulong sums, float? fixedScale, int batches = 1)
    {
        int run = SegmentRun(n, Context.MultiprocessorCount);
        long grid = (n + run * 8L - 1) / (run * 8L);  // 8 warps per block, one run each
        var args = new KernelArgs().Add(x).Add(weights).Add(offsets).Add(sorted).Add(n).Add(batches * k).Add(d).Add(ldx).Add(run).Add(sums);
        if (fixedScale is float scale)
            Kernels.Get("centroid_update", "segment_sum_fixed_" + Precision.Suffix).Launch(Stream, (grid, 1, 1), 256, SegmentSharedBytes, args.Add(scale));
        else
            Kernels.Get("centroid_update", "segment_sum_" + Precision.Suffix).Launch(Stream, (grid, 1, 1), 256, SegmentSharedBytes, args);
    }

    /// <summary>
    /// The incremental update's first pass (moved_rows.cu, count_moved_rows): each row of the <paramref name="n"/> whose label
    /// differs from <paramref name="previous"/> (the labels the fixed-point sums hold) is counted in <paramref name="changed"/>
    /// (one uint64 per problem) and in its two signed clusters (<paramref name="signedCounts"/>: joined b·k + new, then left
    /// B·k + b·k + old). Zero changed first; signedCounts must be zero, as <see cref="MovedRowSums"/> leaves it. (The
    /// warp-specialised assignment does this count itself: <see cref="AssignCountingLabels"/>.)
    /// </summary>
    public void CountMovedRows(ulong labels, ulong previous, ulong changed, ulong signedCounts, long n, int k, int batches)
    {
        var args = new KernelArgs().Add(labels).Add(previous).Add(changed).Add(signedCounts).Add(RowsPerBatch(n, batches)).Add(k);
        Kernels.Get("moved_rows", "count_moved_rows").Launch(Stream, (SortChunks(batches), batches, 1), 256,
            MovedRowsInSharedMemory ? SharedIntsBytes(2L * k, Context.MaxSharedMemoryPerBlock) : 0, args);
    }

    /// <summary>
    /// Sorts the moved rows of <see cref="CountMovedRows"/> into their signed clusters' segments; <paramref name="sorted"/>
    /// receives two entries per moved row, and <paramref name="previous"/> the new labels. Also moves each cluster's count
    /// in <paramref name="counts"/> by its joined minus its left rows. Where <paramref name="offsets"/> is not 0, the kernel
    /// scans <paramref name="signedCounts"/> itself (<see cref="ScatterScansMovedRows"/> must hold) and writes the segment
    /// offsets there, and <paramref name="cursor"/> must be zero; where it is 0, <paramref name="cursor"/> is
    /// <see cref="ExclusiveScan"/>'s and is consumed.
    /// </summary>
    /// <remarks>
    /// Its grid is that of <see cref="WeightedSumPartials"/>, whose partial sums it also writes, chunk for chunk
    /// (<paramref name="weights"/>: 0 for unit weights); the step's finalize completes the inertias.
    /// </remarks>
    public void ScatterMovedRows(ulong labels, ulong previous, ulong signedCounts, ulong counts, ulong cursor, ulong sorted,
                                 ulong offsets, int k, StepInertia inertia, ulong weights)
    {
        var args = new KernelArgs().Add(labels).Add(previous).Add(signedCounts).Add(counts).Add(cursor).Add(sorted).Add(offsets)
            .Add((int)inertia.Rows).Add(k).Add(inertia.Distances).Add(weights).Add(inertia.Partials);
        int shared = offsets != 0 ? MovedScanSharedBytes(k, inertia.Problems)
            : MovedRowsInSharedMemory ? SharedIntsBytes(4L * k, MovedScatterMaxShared) : 0;
        Kernels.Get("moved_rows", "scatter_moved_rows").Launch(Stream, (inertia.Chunks, inertia.Problems, 1), 256, shared, args);
    }

    /// <summary>
    /// Largest number of signed clusters (2·B·K) that <see cref="ScatterMovedRows"/> scans in each block: the scan reads them
    /// all from every block, which costs less than a launch while they are few.
    /// </summary>
    internal const int MaxScannedSignedClusters = 8192;

    /// <summary>Whether <see cref="ScatterMovedRows"/> can scan the signed counts of <paramref name="batches"/> problems of <paramref name="k"/> clusters itself.</summary>
    public bool ScatterScansMovedRows(int k, int batches) =>
        MovedRowsInSharedMemory && 2L * k * batches <= MaxScannedSignedClusters && MovedScanSharedBytes(k, batches) > 0;

    /// <summary>
    /// False to make the moved rows' count and scatter use global atomics, as they do where a problem's clusters do not fit
    /// in shared memory (about 14,500 of them), and the scan a kernel of its own: for tests of those paths. Set it before
    /// the first step, which captures the launches.
    /// </summary>
    internal bool MovedRowsInSharedMemory { get; set; } = true;

    // scatter_moved_rows' shared memory when it scans: 4k counters and bases, the scan and its 8 ints of scratch.
    private int MovedScanSharedBytes(int k, int batches) => SharedIntsBytes(4L * k + 2L * k * batches + 8, MovedScatterMaxShared);

    // scatter_moved_rows has 64 bytes of static shared memory (block_sum's), which the dynamic part must leave room for.
    private int MovedScatterMaxShared => Context.MaxSharedMemoryPerBlock - 64;

    /// <summary>
    /// Adds the rows of the "joined" segments to, and subtracts those of the "left" segments from, the fixed-point sums of
    /// <paramref name="clusters"/> clusters (centroid_update.cu, segment_sum_moved_*): <paramref name="offsets"/> has
    /// 2·clusters + 1 entries, the last the number of sorted positions, which only the device knows. Also zeroes the
    /// <paramref name="clearInts"/> int32s at <paramref name="clear"/> (the moved rows' counts and cursors, for the next step).
    /// </summary>
    public void MovedRowSums(ulong x, ulong weights, ulong offsets, ulong sorted, int clusters, int d, int ldx, ulong sums, float scale,
                             ulong clear, long clearInts)
    {
        var args = new KernelArgs().Add(x).Add(weights).Add(offsets).Add(sorted).Add(clusters).Add(d).Add(ldx).Add(sums).Add(scale)
            .Add(clear).Add(checked((int)clearInts));
        // About one wave: two blocks of 8 warps per SM, each warp sizing its run from the device-side total.
        Kernels.Get("centroid_update", "segment_sum_moved_" + Precision.Suffix)
            .Launch(Stream, (2L * Context.MultiprocessorCount, 1, 1), 256, SegmentSharedBytes, args);
    }

    /// <summary>
    /// Sorted rows per warp of the segment sums: about one wave of resident warps (two blocks of 8
    /// warps per SM, bounded by their 96 KiB of shared memory each) covers all rows, so that few
    /// atomics are issued; within [16, 4096].
    /// </summary>
    internal static int SegmentRun(long n, int multiprocessors)
    {
        long warps = Math.Max(1L, multiprocessors * 16L);
        return (int)Math.Clamp((n + warps - 1) / warps, 16, 4096);
    }

    public void ClusterWeights(ulong weights, ulong labels, ulong output, long n, int k, float? fixedScale, int batches = 1)
    {
        var args = new KernelArgs().Add(weights).Add(labels).Add(output).Add(n).Add(RowsPerBatch(n, batches)).Add(k);
        if (fixedScale is float scale)
            Kernels.Get("centroid_update", "cluster_weights_fixed").Launch(Stream, (GridStride(n), 1, 1), 256, 0, args.Add(scale));
        else
            Kernels.Get("centroid_update", "cluster_weights").Launch(Stream, (GridStride(n), 1, 1), 256, 0, args);
    }

    /// <summary>
    /// New centroids from the sums and weights, their shifts and weights; when <paramref name="packed"/> is not 0, also
    /// the centroids in the session's stored form at pitch <paramref name="packedPitch"/> with their norms, exactly as
    /// <see cref="PackRows"/> would write them (clusters of zero weight keep theirs). When <paramref name="maxCount"/> is not
    /// 0, the uint64 there is raised to the largest count. With <paramref name="inertia"/>, whose partial sums a kernel
    /// before wrote, it also writes their totals (<see cref="StepInertia"/>), which saves the step a launch. When
    /// <paramref name="before"/> is not 0, the fp32 centroids as they were go there (all of them, k × d).
    /// </summary>
    public void FinalizeCentroids(ulong sums, ulong counts, ulong weightSums, ulong centroids, ulong shift, ulong weightOut,
                                  int k, int d, double? inverseScale, double inverseWeightScale, bool normalize,
                                  ulong packed = 0, ulong norms = 0, int packedPitch = 0, ulong maxCount = 0, StepInertia? inertia = null,
                                  CentroidTiles? tiles = null, ulong before = 0)
    {
        var args = new KernelArgs().Add(sums).Add(counts).Add(weightSums);
        if (inverseScale is double inv)
            args = args.Add(inv).Add(inverseWeightScale);
        string name = inverseScale is null ? "finalize_centroids" : "finalize_centroids_fixed";
        LaunchFinalize(name, args, centroids, shift, weightOut, k, d, normalize, packed, norms, packedPitch, maxCount, inertia, tiles, before);
    }

    /// <summary>
    /// Stream learning's update (centroid_update.cu, finalize_running_mean): every centroid moves to the mean of its old
    /// position, weighted by the weight it had seen (decayed by <paramref name="decay"/>), and its rows of the batch
    /// (fp64 <paramref name="sums"/>; <paramref name="weightSums"/> fp64, or 0 for the counts); <paramref name="seen"/> (fp64)
    /// becomes the new seen weights; each moved value is rounded to <paramref name="centroidPrecision"/> (float32, float16 or
    /// bfloat16). Packs the moved centroids as <see cref="FinalizeCentroids"/> does. Nothing but
    /// <paramref name="shift"/> is written when any of the <paramref name="badCount"/> int32s at <paramref name="badRows"/>
    /// (0: unchecked) is not <see cref="int.MaxValue"/>: this batch's first bad row and those of the batches stepped before it
    /// in the same launch sequence.
    /// </summary>
    public void FinalizeRunningMean(ulong sums, ulong counts, ulong weightSums, ulong seen, double decay, ComputePrecision centroidPrecision,
                                    ulong badRows, int badCount, ulong centroids, ulong shift, int k, int d, bool normalize, ulong packed,
                                    ulong norms, int packedPitch)
    {
        int roundKind = centroidPrecision switch { ComputePrecision.Float16 => 3, ComputePrecision.BFloat16 => 4, _ => 0 };
        var args = new KernelArgs().Add(sums).Add(counts).Add(weightSums).Add(seen).Add(decay).Add(roundKind).Add(badRows).Add(badCount);
        LaunchFinalize("finalize_running_mean", args, centroids, shift, seen, k, d, normalize, packed, norms, packedPitch, 0, null, null, 0);
    }

    /// <summary>
    /// The finalize of <see cref="FinalizeCentroids"/> from the fp32 sums of <see cref="AssignWithUpdate"/> (summed over the slabs in
    /// float64, then zeroed for the next step); <paramref name="weightSums"/> fp64, or 0 for the counts.
    /// </summary>
    public void FinalizeCentroidsFromSlabs(FusedSums sums, ulong counts, ulong weightSums, ulong centroids, ulong shift, ulong weightOut,
                                           int k, int d, bool normalize, ulong packed, ulong norms, ulong maxCount, StepInertia? inertia = null,
                                           CentroidTiles? tiles = null, ulong before = 0)
    {
        var args = new KernelArgs().Add(sums.Pointer).Add(sums.Count).Add(sums.Stride).Add(sums.Pitch).Add(counts).Add(weightSums);
        LaunchFinalize("finalize_centroids_slabs", args, centroids, shift, weightOut, k, d, normalize, packed, norms, sums.Pitch, maxCount, inertia, tiles, before);
    }

    // inertia: the step's inertia partials, whose totals the finalize writes (one block per problem), or null.
    // tiles: a batch's tiles, which the finalize keeps current with the packed rows (which it then needs), or null.
    private void LaunchFinalize(string name, KernelArgs head, ulong centroids, ulong shift, ulong weightOut, int k, int d, bool normalize,
                                ulong packed, ulong norms, int packedPitch, ulong maxCount, StepInertia? inertia, CentroidTiles? tiles, ulong before)
    {
        if (tiles is not null && packed == 0)
            throw new ArgumentException("The finalize writes tiles only along with the packed rows.", nameof(tiles));
        var args = head.Add(centroids).Add(shift).Add(weightOut).Add(k).Add(d).Add(normalize ? 1 : 0)
            .Add(packed).Add(norms).Add(packedPitch).Add(Precision.PackCode).Add(maxCount);
        long blocks = (k + 7) / 8;
        if (inertia is StepInertia sums)
        {
            args = args.Add(sums.Partials).Add(sums.Output).Add(sums.Chunks).Add(sums.Problems);
            blocks = Math.Max(blocks, sums.Problems);
        }
        else
        {
            args = args.Add(0UL).Add(0UL).Add(0).Add(0);
        }
        args = tiles is CentroidTiles t ? args.Add(t.Pointer).Add(t.K).Add(t.Chunks) : args.Add(0UL).Add(0).Add(0);
        args = args.Add(before);
        Kernels.Get("centroid_update", name).Launch(Stream, (blocks, 1, 1), 256, 0, args);
    }

    public void GatherRows(ulong x, ulong indices, ulong output, int count, int d, int ld)
    {
        var args = new KernelArgs().Add(x).Add(indices).Add(output).Add(count).Add(d).Add(ld);
        Kernels.Get("label_changes", "gather_rows_" + Precision.Suffix).Launch(Stream, ((count + 7) / 8, 1, 1), 256, 0, args);
    }

    /// <summary>Largest |x| over stored rows (synchronises).</summary>
    public float MaxAbs(ulong x, long rows, int d, int ld)
    {
        using var output = new DeviceBuffer<uint>(Context, 1);
        output.Clear(Stream);
        var args = new KernelArgs().Add(x).Add(output.Pointer).Add(rows).Add(d).Add(ld);
        Kernels.Get("row_pack", "max_abs_" + Precision.Suffix).Launch(Stream, (GridStride(rows * d), 1, 1), 256, 0, args);
        Span<uint> bits = stackalloc uint[1];
        output.CopyTo(bits, 0, Stream);
        return BitConverter.UInt32BitsToSingle(bits[0]);
    }

    public void Dispose()
    {
        Context.MakeCurrent();
        _partials.Dispose();
        _centroidTiles?.Dispose();
        foreach (var retired in _retiredTiles)
            retired.Dispose();
        Stream.Dispose();
        if (_ownsKernels)
            Kernels.Dispose();
        if (_ownsContext)
            Context.Dispose();
    }
}
