namespace FlashKMeans.Cuda;

/// <summary>
/// Where <see cref="CudaSession.AssignWithUpdate"/> adds the rows: <see cref="Count"/> fp32 copies ("slabs") of the
/// (clusters, pitch) row sums, <see cref="Stride"/> floats apart. Each block of the assignment adds into one slab,
/// so that fewer blocks share an address and each slab sums fewer rows per cluster in fp32; the finalize adds the
/// slabs in float64 and zeroes them for the next step.
/// </summary>
/// <param name="Pointer">Device address of the first slab.</param>
/// <param name="Count">Number of slabs.</param>
/// <param name="Stride">Floats from one slab to the next.</param>
/// <param name="Pitch">Floats per cluster row: the rows' stored pitch, which is also the packed centroids'.</param>
internal readonly record struct FusedSums(ulong Pointer, int Count, long Stride, int Pitch);
