using System.Runtime.Intrinsics;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cpu;

/// <summary>
/// Centroids re-laid for the fused kernel: panels of W centroids (W = SIMD lanes), feature-major inside a
/// panel, so that one vector load brings feature k of W centroids. Panels come in pairs; padding
/// centroids have norm +∞ and never win.
/// </summary>
internal sealed class PackedCentroids
{
    private readonly int[]? _order;

    private PackedCentroids(int count, int dimension, int width, int[]? order = null, bool featureQuads = false)
    {
        _order = order;
        Count = count;
        Dimension = dimension;
        Width = width;
        int panels = (count + width - 1) / width;
        PanelCount = (panels + 1) & ~1;
        Data = new float[(long)PanelCount * dimension * width];
        Norms = new float[PanelCount * width];
        Indices = new float[PanelCount * width];
        if (featureQuads && order is null && width == 16 && count <= width && dimension >= FeatureQuadKernel.MinimumDimension
            && FeatureQuadKernel.IsSupported)
            FeatureQuads = new float[(dimension + 3) / 4 * 64];
    }

    /// <summary>Real centroids, K.</summary>
    public int Count { get; }

    /// <summary>Features, d.</summary>
    public int Dimension { get; }

    /// <summary>Lanes per panel.</summary>
    public int Width { get; }

    /// <summary>Panels, always even.</summary>
    public int PanelCount { get; }

    /// <summary>Whether every centroid lies in the first panel, in index order (K at most the width, not permuted).</summary>
    public bool InFirstPanel => _order is null && Count <= Width;

    /// <summary>Panel p, feature k, lane j at ((p·d) + k)·W + j.</summary>
    public float[] Data { get; }

    /// <summary>‖c‖² in float32 per padded centroid; +∞ for padding.</summary>
    public float[] Norms { get; }

    /// <summary>
    /// For <see cref="FeatureQuadKernel"/>, where the packing asked for it and applies (K ≤ 16, d ≥ 32, width 16, AVX-512): for each
    /// group of four features q, four vectors j whose lane 4m + t holds feature 4q + t of centroid 4j + m, zero past K and d.
    /// Null elsewhere: the plain kernel's bits, which seeding and pruning rely on.
    /// </summary>
    public float[]? FeatureQuads { get; }

    /// <summary>Each padded centroid's index as a float (exact below 2²⁴).</summary>
    public float[] Indices { get; }

    /// <summary>The SIMD width the kernels use on this machine.</summary>
    public static int PreferredWidth =>
        Vector512Ops.IsSupported ? Vector512<float>.Count :
        Vector256Ops.IsSupported ? Vector256<float>.Count : Vector128<float>.Count;

    /// <summary>Packs K × d row-major centroids.</summary>
    /// <param name="centroids">K × d, row-major.</param>
    /// <param name="dimension">d.</param>
    /// <param name="width">Lanes per panel; the machine's widest by default.</param>
    /// <param name="featureQuads">
    /// Also lay them out for <see cref="FeatureQuadKernel"/> where it applies: faster at K ≤ 16, deterministic, but other
    /// bits than the plain kernel's. For the fit's own steps and the model's scoring, never for seeding or pruning.
    /// </param>
    public static PackedCentroids Pack(ReadOnlySpan<float> centroids, int dimension, int? width = null, bool featureQuads = false)
    {
        int k = centroids.Length / dimension;
        if (k > 1 << 24)
            throw new ArgumentOutOfRangeException(nameof(centroids), k, "At most 2^24 centroids are supported.");
        var packed = new PackedCentroids(k, dimension, width ?? PreferredWidth, featureQuads: featureQuads);
        packed.Fill(centroids);
        return packed;
    }

    /// <summary>
    /// Packs K × d row-major centroids in a chosen order: slot s (panel s / W, lane s % W) holds centroid
    /// <paramref name="order"/>[s], or padding where that is −1. <see cref="Indices"/> keeps the original indices.
    /// </summary>
    public static PackedCentroids PackPermuted(ReadOnlySpan<float> centroids, int dimension, int width, int[] order)
    {
        int k = centroids.Length / dimension;
        if (k > 1 << 24)
            throw new ArgumentOutOfRangeException(nameof(centroids), k, "At most 2^24 centroids are supported.");
        var packed = new PackedCentroids(k, dimension, width, order);
        if (order.Length > packed.PanelCount * width)
            throw new ArgumentException("More slots than panels.", nameof(order));
        packed.Fill(centroids);
        return packed;
    }

    /// <summary>Re-packs new centroids of the same shape without allocating.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]  // every step repacks
    public void Fill(ReadOnlySpan<float> centroids)
    {
        int w = Width, d = Dimension;
        if (centroids.Length != Count * d)
            throw new ArgumentException($"Expected {Count} × {d} centroid values, got {centroids.Length}.", nameof(centroids));
        // No clearing: every real slot's lane is written in full below, and padding lanes stay as allocated (zero).
        for (int slot = 0; slot < PanelCount * w; slot++)
        {
            int c = _order is null ? slot : slot < _order.Length ? _order[slot] : -1;
            if (c < 0 || c >= Count)
            {
                // Padding never wins; its index sorts after every real centroid's.
                Indices[slot] = _order is null ? slot : Count;
                Norms[slot] = float.PositiveInfinity;
                continue;
            }
            Indices[slot] = c;
            int panel = slot / w, lane = slot % w;
            var row = centroids.Slice(c * d, d);
            long baseIndex = (long)panel * d * w + lane;
            for (int f = 0; f < d; f++)
                Data[baseIndex + (long)f * w] = row[f];
            Norms[slot] = VectorMath.SquaredNorm(row);
        }
        if (FeatureQuads is not null)
            FeatureQuadKernel.Fill(centroids, Count, d, FeatureQuads);
    }
}
