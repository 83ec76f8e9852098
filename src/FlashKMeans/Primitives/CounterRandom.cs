namespace FlashKMeans.Primitives;

/// <summary>
/// Counter-based randomness: the value for (seed, counter) is a pure function of both, so draws made
/// in parallel, in any order, on any backend, are identical. SplitMix64's finaliser mixes the bits.
/// </summary>
internal static class CounterRandom
{
    /// <summary>64 well-mixed bits for (seed, counter).</summary>
    public static ulong Next(ulong seed, ulong counter)
    {
        ulong z = seed + (counter + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public static double Uniform(ulong seed, ulong counter) => (Next(seed, counter) >> 11) * (1.0 / (1UL << 53));

    /// <summary>Derives an independent stream seed from a parent seed and a purpose tag.</summary>
    public static ulong Derive(ulong seed, ulong tag) => Next(seed ^ 0xD1B54A32D192ED03UL, tag);
}
