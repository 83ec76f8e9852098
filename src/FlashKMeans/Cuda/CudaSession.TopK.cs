using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

// The top-k launchers (flash_topk_ws.cu on Hopper, flash_topk.cu): each row's nearest few centroids for the prototype models.
internal sealed partial class CudaSession
{
    private const int TopKSharedBytes = 166912;    // flash_topk.cu: SMEM_TOTAL

    /// <summary>The per-half list lengths flash_topk.cu is built for; a launch takes the shortest that holds its k.</summary>
    private static readonly int[] TopKLists = [4, 8, 16, 32];

    /// <summary>
    /// The list lengths flash_topk_ws.cu is built for (Hopper, rows of up to 512 bytes; of 257–512 bytes up to 8, since the
    /// row fragments take the registers); a launch takes the shortest that holds its k.
    /// </summary>
    internal static int[] TopKWarpSpecialisedLists(int chunks) => chunks == 4 ? [4, 8] : [4, 8, 16];

    /// <summary>
    /// Consumer warpgroups and ring stages of flash_topk_ws{chunks}_{list}_*: the instantiations at the end of
    /// flash_topk_ws.cu. Lists of 4 on rows of up to 256 bytes run three warpgroups, whose 128 registers a thread hold them;
    /// the rest two. Rows of 129–256 bytes give up stages to the consumers' scratch.
    /// </summary>
    internal static (int Groups, int Stages) TopKWarpSpecialisedShape(int chunks, int list) => (chunks, list) switch
    {
        (4, _) => (2, 2),
        (2, 4) => (3, 2),
        (2, _) => (2, 3),
        (_, 4) => (3, 4),
        _ => (2, 4),
    };

    /// <summary>
    /// Shared scratch per consumer thread of flash_topk_ws{chunks}_*, where its list epilogue reads survivors back from
    /// shared memory (topk_lists.cuh, TOPK_SCRATCH_BYTES); rows of 257–512 bytes leave no room for it and pick
    /// survivors from the registers instead.
    /// </summary>
    private static int TopKScratchBytes(int chunks) => chunks == 4 ? 0 : 256;

    /// <summary>Threads per block of flash_topk_ws{chunks}_{list}_*: the consumer warpgroups and the producer warp.</summary>
    internal static int TopKWarpSpecialisedThreads(int chunks, int list) => 128 * TopKWarpSpecialisedShape(chunks, list).Groups + 32;

    /// <summary>Dynamic shared memory of flash_topk_ws{chunks}_{list}_*: the assignment's of that shape up to its mbarriers (no storer slots), then the consumers' scratch.</summary>
    internal static int TopKWarpSpecialisedSharedBytes(int chunks, int list)
    {
        var (groups, stages) = TopKWarpSpecialisedShape(chunks, list);
        return RegisterRowsSharedBytes(chunks, groups, stages) + 128 * groups * TopKScratchBytes(chunks);
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
    /// assignment itself; on Hopper the warp-specialised sweep (flash_topk_ws.cu) for up to 16 nearest from K = 512, for
    /// rows of up to 512 bytes (256 for 16); else the mma.sync sweep (flash_topk.cu).
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
                var entry = new WarpSpecialisedEntry(kernel.File, kernel.Name, kernel.Chunks,
                    TopKWarpSpecialisedShape(kernel.Chunks, kernel.List).Groups, TopKWarpSpecialisedThreads(kernel.Chunks, kernel.List),
                    TopKWarpSpecialisedSharedBytes(kernel.Chunks, kernel.List));
                LaunchWarpSpecialised(entry, x, xNorms, n, ld, tiles, indices, distances, k, 1, new KernelArgs().Add(top));
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
        // Measured on the H100 (bench/results/h100.md): from K = 512, the smallest K measured, the warp-specialised lists run
        // 1.9-3.4x faster than the mma.sync kernel, which smaller K keep.
        if (ChooseAssign(d, ld, ld) == AssignPath.WarpSpecialised && chunks < SharedRowChunks && length > 0
            && k >= 512 && Kernels.Has("flash_topk_ws"))
        {
            return ("flash_topk_ws", $"flash_topk_ws{chunks}_{length}_{type}", chunks, length);
        }
        int list = TopKLists.First(length => length >= top);
        return ("flash_topk", $"flash_topk{list}_{type}", 0, list);
    }
}
