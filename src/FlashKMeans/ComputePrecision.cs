namespace FlashKMeans;

/// <summary>
/// The arithmetic used for the distance dot products. Centroid sums are always accumulated in
/// float64 and centroids stored in float32. The CPU backend computes in <see cref="Float32"/>.
/// </summary>
public enum ComputePrecision
{
    /// <summary>Exact IEEE float32 products and sums.</summary>
    Float32,

    /// <summary>float32 data, products on tensor cores in TF32 (10-bit mantissa), float32 sums.</summary>
    TensorFloat32,

    /// <summary>float16 data and products, float32 sums.</summary>
    Float16,

    /// <summary>bfloat16 data and products, float32 sums.</summary>
    BFloat16,
}
