using FlashKMeans.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// Turns a block of feature rows into the two output columns: K squared distances per row (one call to the
/// engine's all-distances kernel, <see cref="KMeansModel.Transform(ReadOnlySpan{float}, Span{float})"/>) and the
/// 1-based index of the smallest of them. Rows with a missing
/// (NaN or infinite) feature get NaN distances and key 0, ML.NET's missing key.
/// </summary>
internal sealed class BatchScorer
{
    private readonly KMeansModel _model;

    public BatchScorer(KMeansModel model)
    {
        _model = model;
        Dimension = model.Dimension;
        NumberOfClusters = model.NumberOfClusters;
    }

    public int Dimension { get; }

    public int NumberOfClusters { get; }

    /// <summary>Rows per scoring block such that the distance block stays near 16 M floats.</summary>
    public int RowsPerBlock(int requested) => (int)Math.Clamp(Math.Min(requested, (16L << 20) / NumberOfClusters), 1, requested);

    /// <summary>Scores <paramref name="count"/> rows of <paramref name="rows"/> in place of their outputs.</summary>
    /// <param name="rows">count × d features; missing rows are overwritten with zeros so the engine never sees NaN.</param>
    /// <param name="count">Rows to score.</param>
    /// <param name="scores">count × K distances (output).</param>
    /// <param name="labels">count keys (output).</param>
    public void Score(Span<float> rows, int count, Span<float> scores, Span<uint> labels)
    {
        int d = Dimension, k = NumberOfClusters;
        Span<bool> missing = count <= 1024 ? stackalloc bool[count] : new bool[count];
        bool anyMissing = false;
        for (int i = 0; i < count; i++)
        {
            var row = rows.Slice(i * d, d);
            if (!DataValidator.AllFinite(row))
            {
                missing[i] = true;
                anyMissing = true;
                row.Clear();
            }
        }
        var distances = scores[..(count * k)];
        _model.Transform(rows[..(count * d)], distances);
        for (int i = 0; i < count; i++)
        {
            var row = distances.Slice(i * k, k);
            if (anyMissing && missing[i])
            {
                row.Fill(float.NaN);
                labels[i] = 0;
                continue;
            }
            labels[i] = (uint)ArgMin(row) + 1;
        }
    }

    /// <summary>First index of the smallest value, as ML.NET's clustering scorer picks.</summary>
    private static int ArgMin(ReadOnlySpan<float> values)
    {
        int best = 0;
        float min = values[0];
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] < min)
            {
                min = values[i];
                best = i;
            }
        }
        return best;
    }
}
