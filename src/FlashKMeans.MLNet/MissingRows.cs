using FlashKMeans.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// Rows a prototype model cannot score (a NaN or infinite feature; with <see cref="MissingFeatures.Ignore"/>, an
/// infinite feature or no feature at all): found, and replaced by a placeholder (the first unit vector, which every
/// distance can score, cosine included) so the engine never sees them.
/// </summary>
internal static class MissingRows
{
    /// <summary>Whether a model can score <paramref name="row"/>: every value finite, or, when NaN means missing, no infinity and one value at least.</summary>
    public static bool Scorable(ReadOnlySpan<float> row, MissingFeatures missing)
    {
        if (DataValidator.AllFinite(row))
            return true;
        if (missing != MissingFeatures.Ignore)
            return false;
        bool any = false;
        foreach (float v in row)
        {
            if (float.IsInfinity(v))
                return false;
            any |= !float.IsNaN(v);
        }
        return any;
    }

    /// <summary>Which of the first <paramref name="count"/> rows of <paramref name="rows"/> the model cannot score; those rows are replaced.</summary>
    public static bool[] Clear(Span<float> rows, int count, int dimension, MissingFeatures missingFeatures)
    {
        var missing = new bool[count];
        for (int i = 0; i < count; i++)
        {
            var row = rows.Slice(i * dimension, dimension);
            if (!Scorable(row, missingFeatures))
            {
                missing[i] = true;
                row.Clear();
                row[0] = 1;
            }
        }
        return missing;
    }
}
