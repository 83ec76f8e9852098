using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>Tag scores of blocks of rows, and the tags they give, from a <see cref="MultiLabelModel"/>.</summary>
internal sealed class MultiLabelScorer(MultiLabelModel model) : IBlockScorer
{
    public int Dimension => model.Dimension;

    public int NumberOfScores => model.TagCount;

    public int RowsPerBlock(int requested) =>
        (int)Math.Clamp(Math.Min(requested, (16L << 20) / Math.Max(Math.Max(model.PrototypeTags.Count, model.TagCount), Dimension)), 1, requested);

    public void Score(Span<float> rows, int count, Span<float> scores, Span<uint> labels)
    {
        int d = Dimension, t = NumberOfScores;
        var missing = MissingRows.Clear(rows, count, d, model.Settings.MissingFeatures);  // scored as placeholders, then reported as missing
        model.PredictScores(rows[..(count * d)], scores[..(count * t)]);
        for (int i = 0; i < count; i++)
        {
            if (missing[i])
                scores.Slice(i * t, t).Fill(float.NaN);
            labels[i] = 0;
        }
    }

    /// <summary>A row with NaN scores (missing features) gets no tag.</summary>
    public void Tags(ReadOnlySpan<float> scores, Span<bool> tags)
    {
        if (float.IsNaN(scores[0]))
        {
            tags.Clear();
            return;
        }
        model.ChooseTags(scores, tags);
    }

    public DataViewSchema AppendColumns(DataViewSchema input)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(ClusteringColumns.Score, new VectorDataViewType(NumberDataViewType.Single, model.TagCount));
        builder.AddColumn(ClusteringColumns.PredictedLabel, new VectorDataViewType(BooleanDataViewType.Instance, model.TagCount));
        return builder.ToSchema();
    }
}
