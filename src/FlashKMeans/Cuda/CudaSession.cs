using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// A device, its stream and loaded kernels, plus the launch of each kernel with its grid worked out.
/// The binding and the scorer build on these operations; nothing here synchronises unless it says so.
/// </summary>
/// <remarks>The launchers are grouped by kernel file: here row packing, L1 distances, all distances and gathers;
/// CudaSession.Assign.cs, .TopK.cs, .Sums.cs and .Update.cs the rest.</remarks>
internal sealed partial class CudaSession : IDisposable
{
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

    private void RaiseSharedMemory(CudaFunction function, string name, int bytes)
    {
        if (_sharedRaised.Add(name))
            function.SetMaxDynamicSharedMemory(bytes);
    }

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

    /// <summary>All n × k squared distances (fp32, difference form) between stored rows and stored centroids.</summary>
    public void AllDistances(ulong x, long n, int d, int ldx, ulong centroids, int k, int ldc, ulong output)
    {
        var args = new KernelArgs().Add(x).Add(centroids).Add(output).Add((int)n).Add(k).Add(d).Add(ldx).Add(ldc);
        Kernels.Get("all_distances", "all_distances_" + Precision.Suffix).Launch(Stream, ((n + 63) / 64, (k + 63) / 64, 1), 256, 0, args);
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
