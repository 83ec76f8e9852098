using FlashKMeans.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// Rows a prototype model cannot score (a NaN or infinite feature): found, and replaced by a placeholder (the first unit
/// vector, which every distance can score, cosine included) so the engine never sees them.
/// </summary>
internal static class MissingRows
{
    /// <summary>Which of the first <paramref name="count"/> rows of <paramref name="rows"/> hold a non-finite feature; those rows are replaced.</summary>
    public static bool[] Clear(Span<float> rows, int count, int dimension)
    {
        var missing = new bool[count];
        for (int i = 0; i < count; i++)
        {
            var row = rows.Slice(i * dimension, dimension);
            if (!DataValidator.AllFinite(row))
            {
                missing[i] = true;
                row.Clear();
                row[0] = 1;
            }
        }
        return missing;
    }
}
