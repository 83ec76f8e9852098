namespace FlashKMeans.Cuda;

/// <summary>
/// A batch's own copy of its centroids in the packed tiles of the warp-specialised assignment (centroid_tiles.cuh):
/// the centroid finalize keeps them current, so that a Lloyd step need not re-lay the centroids before it assigns.
/// </summary>
/// <param name="Pointer">Device address of B·⌈K / 128⌉ tiles.</param>
/// <param name="K">Centroids per problem.</param>
/// <param name="Chunks">128-byte chunks per centroid row.</param>
internal readonly record struct CentroidTiles(ulong Pointer, int K, int Chunks);
