using FlashKMeans.Prototypes;
using Microsoft.ML;

namespace FlashKMeans.MLNet;

/// <summary>The scalar prediction of blocks of rows, from a <see cref="PrototypeRegressorModel"/> of one target value.</summary>
internal sealed class PrototypeRegressionScorer(PrototypeRegressorModel model) : IBlockScorer
{
    public int Dimension => model.Dimension;

    public int NumberOfScores => 1;

    public int RowsPerBlock(int requested) =>
        (int)Math.Clamp(Math.Min(requested, (16L << 20) / Math.Max(model.PrototypeTargets.Length, Dimension)), 1, requested);

    public void Score(Span<float> rows, int count, Span<float> scores, Span<uint> labels)
    {
        int d = Dimension;
        var missing = MissingRows.Clear(rows, count, d);  // scored as placeholders, then reported as missing
        var predictions = model.Predict(rows[..(count * d)]);
        for (int i = 0; i < count; i++)
        {
            scores[i] = missing[i] ? float.NaN : predictions[i];
            labels[i] = 0;
        }
    }

    public DataViewSchema AppendColumns(DataViewSchema input) => ClassificationColumns.AppendRegression(input);
}
