using FlashKMeans.Prototypes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>Class scores and the predicted class key of blocks of rows, from a <see cref="PrototypeClassifierModel"/>.</summary>
internal sealed class PrototypeBlockScorer(PrototypeClassifierModel model, KeyDataViewType labelType, DataViewSchema.Annotations labelAnnotations) : IBlockScorer
{
    public int Dimension => model.Dimension;

    public int NumberOfScores => model.ClassCount;

    public int RowsPerBlock(int requested) =>
        (int)Math.Clamp(Math.Min(requested, (16L << 20) / Math.Max(Math.Max(model.ClassCount, model.PrototypeClasses.Count), Dimension)), 1, requested);

    public void Score(Span<float> rows, int count, Span<float> scores, Span<uint> labels)
    {
        int d = Dimension, c = NumberOfScores;
        var missing = MissingRows.Clear(rows, count, d, model.Settings.MissingFeatures);  // scored as placeholders, then reported as missing
        var block = scores[..(count * c)];
        model.PredictScores(rows[..(count * d)], block);
        for (int i = 0; i < count; i++)
        {
            var row = block.Slice(i * c, c);
            if (missing[i])
            {
                row.Fill(float.NaN);
                labels[i] = 0;
                continue;
            }
            labels[i] = (uint)(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row) + 1);
        }
    }

    public DataViewSchema AppendColumns(DataViewSchema input) => ClassificationColumns.AppendTo(input, labelType, labelAnnotations);
}
