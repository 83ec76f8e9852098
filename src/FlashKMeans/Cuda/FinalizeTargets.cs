namespace FlashKMeans.Cuda;

/// <summary>
/// What a finalize (centroid_update.cu's finalize_* kernels) writes from a step's sums: the fp32 centroids, each one's
/// shift and weight, and optionally the centroids in the session's stored form at <see cref="PackedPitch"/> with their
/// norms (<see cref="Packed"/>, <see cref="Norms"/>; exactly as <see cref="CudaSession.PackRows"/> would write them), the
/// step's inertia totals from the partial sums
/// a kernel before wrote (<see cref="Inertia"/>), a batch's centroid tiles kept current with the packed rows
/// (<see cref="Tiles"/>), and the fp32 centroids as they were (<see cref="Before"/>, all k × d). A pointer of 0 is not
/// written.
/// </summary>
/// <param name="Centroids">fp32 (clusters, d): the new centroids; clusters of zero weight keep theirs.</param>
/// <param name="Shift">fp32 (clusters): how far each centroid moved.</param>
/// <param name="WeightOut">fp64 (clusters): each cluster's weight.</param>
/// <param name="Normalize">Whether the new centroids are scaled to unit length (cosine).</param>
internal readonly record struct FinalizeTargets(ulong Centroids, ulong Shift, ulong WeightOut, bool Normalize)
{
    public ulong Packed { get; init; }
    public ulong Norms { get; init; }
    public int PackedPitch { get; init; }
    public StepInertia? Inertia { get; init; }
    public CentroidTiles? Tiles { get; init; }
    public ulong Before { get; init; }

    /// <summary>
    /// The kernels' argument for <paramref name="clusters"/> centroids of <paramref name="dimension"/> features, packed as
    /// <paramref name="packCode"/> says (<see cref="CudaPrecision.PackCode"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Tiles without packed rows: the finalize writes tiles only along with them.</exception>
    public FinalizeTargetArgs ToArgs(int clusters, int dimension, int packCode)
    {
        if (Tiles is not null && Packed == 0)
            throw new ArgumentException("The finalize writes tiles only along with the packed rows.");
        var args = new FinalizeTargetArgs
        {
            Centroids = new(Centroids), Shift = new(Shift), WeightOut = new(WeightOut), Packed = new(Packed), Norms = new(Norms),
            Before = new(Before),
            Clusters = clusters, D = dimension, Normalize = Normalize ? 1 : 0, PackedPitch = PackedPitch, Pack = packCode,
        };
        if (Inertia is StepInertia inertia)
        {
            args.Partials = new(inertia.Partials);
            args.Inertia = new(inertia.Output);
            args.Chunks = inertia.Chunks;
            args.Problems = inertia.Problems;
        }
        if (Tiles is CentroidTiles tiles)
        {
            args.Tiles = new(tiles.Pointer);
            args.TileK = tiles.K;
            args.TileChunks = tiles.Chunks;
        }
        return args;
    }
}
