namespace FlashKMeans.Backends;

/// <summary>
/// Sums taken as 64-bit integers of scaled values, which any order of addition (atomics, threads, blocks) gives
/// bit-identically: the deterministic update of the GPU backends.
/// </summary>
internal static class FixedPointSums
{
    /// <summary>The power of two 2^e with <paramref name="maxMagnitude"/> · n · 2^e &lt; 2^62, kept inside fp32's range.</summary>
    public static float Scale(double maxMagnitude, long n)
    {
        if (!(maxMagnitude > 0))
            return 1f;
        int e = (int)Math.Floor(62 - Math.Log2(maxMagnitude * Math.Max(n, 1))) - 1;
        return MathF.Pow(2, Math.Clamp(e, -126, 126));
    }
}
