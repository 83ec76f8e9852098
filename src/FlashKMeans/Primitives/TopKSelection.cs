using System.Numerics;

namespace FlashKMeans.Primitives;

/// <summary>The k smallest of a row of distances, by (distance, index): a prediction's nearest prototypes or centroids.</summary>
internal static class TopKSelection
{
    /// <summary>
    /// Fills <paramref name="nearest"/> with the indices of the k = <paramref name="nearest"/>.Length smallest
    /// <paramref name="distances"/>, nearest first, ties to the lower index (k at most the number of distances).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]  // prediction calls it at once, per row
    public static void Smallest<T>(ReadOnlySpan<T> distances, Span<int> nearest) where T : IFloatingPointIeee754<T>
    {
        int k = nearest.Length;
        // Insertion into a sorted list of k: k is small next to the distances.
        int found = 0;
        for (int p = 0; p < distances.Length; p++)
        {
            if (found == k && !(distances[p] < distances[nearest[k - 1]]))
                continue;
            Insert(distances, nearest, ref found, p);
        }
    }

    /// <summary>Puts <paramref name="p"/> in its place among the <paramref name="found"/> held, dropping the k-th once k are held.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Insert<T>(ReadOnlySpan<T> distances, Span<int> nearest, ref int found, int p) where T : IFloatingPointIeee754<T>
    {
        int k = nearest.Length;
        int at = Math.Min(found, k - 1);
        while (at > 0 && distances[p] < distances[nearest[at - 1]])
        {
            if (at < k)
                nearest[at] = nearest[at - 1];
            at--;
        }
        nearest[at] = p;
        if (found < k)
            found++;
    }

    /// <summary>
    /// <see cref="Smallest{T}"/> for float32, the same selection: once k are held, a vector of distances none of which is
    /// below the k-th is passed over whole, as most are after the first few.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]  // prediction calls it at once, per row
    public static void Smallest(ReadOnlySpan<float> distances, Span<int> nearest)
    {
        int k = nearest.Length, w = Vector<float>.Count, found = 0, p = 0;
        float limit = float.PositiveInfinity;  // the k-th held distance, once k are held
        for (; p < distances.Length; p++)
        {
            if (found == k)
            {
                if (p + w <= distances.Length && !Vector.LessThanAny(new Vector<float>(distances.Slice(p, w)), new Vector<float>(limit)))
                {
                    p += w - 1;  // none of these enters
                    continue;
                }
                if (!(distances[p] < limit))
                    continue;
            }
            Insert(distances, nearest, ref found, p);
            if (found == k)
                limit = distances[nearest[k - 1]];
        }
    }

    /// <summary>
    /// For each row of <paramref name="distances"/> (n × K), its count = <paramref name="indices"/>.Length / n nearest
    /// (<see cref="Smallest(ReadOnlySpan{float}, Span{int})"/>) into <paramref name="indices"/> and their distances into <paramref name="found"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]  // prediction calls it at once, per row
    public static void NearestOfRows(ReadOnlySpan<float> distances, int k, Span<int> indices, Span<float> found)
    {
        int n = distances.Length / k, count = n == 0 ? 0 : indices.Length / n;
        for (int r = 0; r < n; r++)
        {
            var row = distances.Slice(r * k, k);
            var nearest = indices.Slice(r * count, count);
            Smallest(row, nearest);
            for (int i = 0; i < count; i++)
                found[r * count + i] = row[nearest[i]];
        }
    }

    /// <summary>
    /// Sorts one row's k candidates (<paramref name="indices"/> with <paramref name="distances"/>) by (distance, index),
    /// in place: after their distances were measured again more exactly than the device that found them measured them.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]  // prediction calls it at once, per row
    public static void Sort(Span<int> indices, Span<float> distances)
    {
        for (int i = 1; i < indices.Length; i++)
        {
            int index = indices[i];
            float distance = distances[i];
            int at = i;
            while (at > 0 && (distance < distances[at - 1] || (distance == distances[at - 1] && index < indices[at - 1])))
            {
                indices[at] = indices[at - 1];
                distances[at] = distances[at - 1];
                at--;
            }
            indices[at] = index;
            distances[at] = distance;
        }
    }
}
