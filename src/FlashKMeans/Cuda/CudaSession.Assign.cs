using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

// The assignment launchers: FlashAssign on tensor cores (flash_assign_ws.cu, flash_assign_wgmma.cu, flash_assign_mma.cu) and the exact fp32 path (flash_assign_exact.cu), the choice between them, and the packed centroid tiles the warp-specialised kernels stream.
internal sealed partial class CudaSession
{
    private const int AssignSharedBytes = 98304;   // flash_assign_mma.cu: SMEM_BYTES
    private const int WgmmaSharedBytes = 99328;    // flash_assign_wgmma.cu: SMEM_BYTES

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

    /// <summary>
    /// Dynamic shared memory of flash_assign_ws{chunks}_*: alignment slack, the stages, the row tile, the mbarriers, and
    /// the slots that hand labels to the storer warps, with their mbarriers.
    /// </summary>
    internal static int WarpSpecialisedSharedBytes(int chunks)
    {
        var (groups, stages) = WarpSpecialisedShape(chunks);
        if (chunks == SharedRowChunks)  // stages of one chunk, the row tile, mbarriers per stage and per row chunk, slots
            return 1024 + stages * (16384 + 1024) + 64 * groups * chunks * 128 + 16 * (stages + chunks) + 32 + 2 * 64 * groups * 8;
        return RegisterRowsSharedBytes(chunks, groups, stages) + 32 + 2 * 64 * groups * 8;
    }

    // Register-row entries without the storer slots (the top-k entries have none): alignment slack, the stages, the row
    // tile with its 16-byte skews, the mbarriers.
    private static int RegisterRowsSharedBytes(int chunks, int groups, int stages) =>
        1024 + stages * (chunks * 16384 + 1024) + 64 * groups * chunks * 128 + 128 + 80;

    /// <summary>
    /// Threads per block of flash_assign_ws{chunks}_*: the consumer warpgroups, the producer warp and one storer warp per
    /// consumer warpgroup.
    /// </summary>
    internal static int WarpSpecialisedThreads(int chunks)
    {
        int groups = WarpSpecialisedShape(chunks).Groups;
        if (chunks == SharedRowChunks)  // a second producer warp, for the rows
            return 128 * groups + 64 + 32 * groups;
        return 128 * groups + 32 + 32 * groups;
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

    private string WgmmaKernel => Precision.TensorCoreKernel!.Replace("flash_assign_", "flash_assign_wgmma_", StringComparison.Ordinal);

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
                WarpSpecialisedChunks(ldx * Precision.ElementBytes), name, tail, tiles);
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

    // tail: the entry's arguments after batches (update_min and MovedCount).
    // own: tiles that hold the centroids already, or null to pack them into the session's.
    private void AssignWarpSpecialised(ulong x, ulong xNorms, int n, int ld, ulong centroids, ulong centroidNorms, int k,
                                       ulong labels, ulong distances, int batches, int chunks, string name, KernelArgs tail,
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
        var entry = new WarpSpecialisedEntry("flash_assign_ws", name, chunks, groups, WarpSpecialisedThreads(chunks),
            WarpSpecialisedSharedBytes(chunks));
        LaunchWarpSpecialised(entry, x, xNorms, n, ld, tiles, labels, distances, k, batches, tail);
    }

    /// <summary>A warp-specialised entry and its launch shape: row chunks, consumer warpgroups, threads and shared memory.</summary>
    private readonly record struct WarpSpecialisedEntry(string File, string Name, int Chunks, int Groups, int Threads, int SharedBytes);

    // One launch of a warp-specialised entry (flash_assign_ws.cuh's run): persistent blocks, one per SM, each walking row
    // tiles blockIdx.x, + gridDim.x, ...; the rows by pointer, or through a tensor map for the shared-row entries.
    // indices, distances: the entry's two outputs (labels and distances, or top-k indices and distances).
    private void LaunchWarpSpecialised(WarpSpecialisedEntry entry, ulong x, ulong xNorms, int n, int ld, ulong tiles,
                                       ulong indices, ulong distances, int k, int batches, KernelArgs tail)
    {
        var function = Kernels.Get(entry.File, entry.Name);
        RaiseSharedMemory(function, entry.Name, entry.SharedBytes);
        long rowTiles = (long)batches * ((n + 64 * entry.Groups - 1) / (64 * entry.Groups));
        int rowBytes = ld * Precision.ElementBytes;
        var args = entry.Chunks == SharedRowChunks
            ? new KernelArgs().AddTensorMap(RowTensorMap(x, (long)batches * n, rowBytes, 64 * entry.Groups))
                .Add(tiles).Add(xNorms).Add(indices).Add(distances).Add(n).Add(k).Add(batches)
            : new KernelArgs().Add(x).Add(tiles).Add(xNorms).Add(indices).Add(distances).Add(n).Add(k).Add(ld).Add(batches);
        args = args.Concat(tail);
        function.Launch(Stream, (Math.Min(rowTiles, Context.MultiprocessorCount), 1, 1), entry.Threads, entry.SharedBytes, args);
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
}
