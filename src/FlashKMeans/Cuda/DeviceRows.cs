namespace FlashKMeans.Cuda;

/// <summary>The rows a step reads on the device, in the session's stored form.</summary>
/// <param name="X">The stored rows, B·N at pitch <paramref name="Ld"/>.</param>
/// <param name="Weights">fp32 (B·N) row weights, or 0 for none.</param>
/// <param name="Total">B·N, all rows of the batch of problems.</param>
/// <param name="D">Values per row.</param>
/// <param name="Ld">The rows' pitch in elements.</param>
internal readonly record struct DeviceRows(ulong X, ulong Weights, long Total, int D, int Ld);
